package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coursehook/coursehook/workflows"
	"github.com/stretchr/testify/require"
)

func testList(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	base := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	// Seven events; three share one instant, so paging must break the tie.
	for i, at := range []time.Duration{0, time.Hour, time.Hour, time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour} {
		c := sampleCompletion(fmt.Sprintf("evt-%d", 6-i)) // ids out of time order
		c.CompletedAt = base.Add(at)
		c.CourseID = []string{"course-a", "course-b"}[i%2]
		c.CompanyID = []string{"acme", "globex", "initech"}[i%3]
		if i == 4 {
			c.LearnerEmail = "Ana.Silva@Example.org"
		}
		_, _, err := s.Insert(ctx, c, StatusRecorded)
		require.NoError(t, err)
	}
	require.NoError(t, s.RecordOutcome(ctx, Outcome{EventID: "evt-1", Status: StatusPartial, FailedStep: "slack", Error: "slack: invalid_auth"}))

	ids := func(rs []Record) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.EventID)
		}
		return out
	}
	list := func(f Filter) []string {
		t.Helper()
		rs, err := s.List(ctx, f)
		require.NoError(t, err)
		for _, r := range rs {
			require.Empty(t, r.Payload, "List leaves the payload to Get")
		}
		return ids(rs)
	}
	require.Equal(t, []string{"evt-6", "evt-3", "evt-4", "evt-5", "evt-2", "evt-1", "evt-0"}, list(Filter{}), "completion time, then event id")
	require.Equal(t, []string{"evt-6", "evt-4", "evt-2", "evt-0"}, list(Filter{CourseID: "course-a"}))
	require.Equal(t, []string{"evt-6", "evt-3", "evt-0"}, list(Filter{CompanyID: "acme"}))
	require.Equal(t, []string{"evt-2"}, list(Filter{LearnerEmail: "ana.silva@EXAMPLE.org"}), "email matches regardless of case")
	require.Equal(t, []string{"evt-1"}, list(Filter{Status: StatusPartial}))
	require.Equal(t, []string{"evt-3", "evt-4", "evt-5", "evt-2"}, list(Filter{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour)}))
	require.Equal(t, []string{"evt-6", "evt-3"}, list(Filter{Limit: 2}))
	require.Len(t, list(Filter{ReceivedSince: time.Date(2026, 5, 20, 14, 3, 28, 0, time.UTC)}), 7)
	require.Empty(t, list(Filter{ReceivedSince: time.Date(2026, 5, 21, 0, 0, 0, 0, time.UTC)}))

	// Pages of two walk every record once, ties included.
	var walked []string
	var after *Cursor
	for {
		rs, err := s.List(ctx, Filter{Limit: 2, After: after})
		require.NoError(t, err)
		if len(rs) == 0 {
			break
		}
		walked = append(walked, ids(rs)...)
		c := CursorOf(rs[len(rs)-1])
		after = &c
	}
	require.Equal(t, list(Filter{}), walked)

	n, err := s.CountStatus(ctx, StatusPartial)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	_, err = s.List(ctx, Filter{Status: "stuck"})
	require.True(t, errors.Is(err, ErrInvalid), "%v", err)
}

func testResends(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	r := Resend{RequestID: "r1", EventID: "e1", What: "email", Reason: "bounced", RequestedBy: "ops", RequestedAt: at}
	got, created, err := s.InsertResend(ctx, r)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, ResendRunning, got.Status)
	require.True(t, got.FinishedAt.IsZero())

	r.Reason = "a second try"
	got, created, err = s.InsertResend(ctx, r)
	require.NoError(t, err)
	require.False(t, created, "one request id is recorded once")
	require.Equal(t, "bounced", got.Reason)

	require.NoError(t, s.FinishResend(ctx, Resend{RequestID: "r1", Status: ResendDone, Result: "email sent", Receipts: workflows.Receipts{"email": {ID: "m2"}}}))
	_, _, err = s.InsertResend(ctx, Resend{RequestID: "r0", EventID: "e1", What: "slack", RequestedAt: at.Add(-time.Hour)})
	require.NoError(t, err)
	list, err := s.Resends(ctx, "e1")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "r0", list[0].RequestID, "oldest first")
	require.Equal(t, ResendDone, list[1].Status)
	require.Equal(t, "m2", list[1].Receipts["email"].ID)
	require.False(t, list[1].FinishedAt.IsZero())

	err = s.FinishResend(ctx, Resend{RequestID: "nope", Status: ResendDone})
	require.True(t, errors.Is(err, ErrNotFound))
}
