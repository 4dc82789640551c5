package metrics

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestExpiringCountsTheNext30DaysPerCourse(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var asked [2]time.Time
	fail := false
	reg := prometheus.NewRegistry()
	RegisterExpiring(reg, func(_ context.Context, from, before time.Time) (map[string]int, error) {
		asked = [2]time.Time{from, before}
		if fail {
			return nil, errors.New("database down")
		}
		return map[string]int{"course-a": 3, "course-b": 1}, nil
	}, func() time.Time { return now }, slog.New(slog.DiscardHandler))

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP coursehook_certificates_expiring Certificates expiring in the next 30 days, by course id (notifiableId), not renewed and not revoked: the learners due to renew.
# TYPE coursehook_certificates_expiring gauge
coursehook_certificates_expiring{course="course-a"} 3
coursehook_certificates_expiring{course="course-b"} 1
`)))
	require.Equal(t, [2]time.Time{now, now.AddDate(0, 0, 30)}, asked)

	fail = true
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Zero(t, n, "no series rather than a wrong one while the database is down")
}
