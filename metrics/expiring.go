package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ExpiringWindow is how far ahead coursehook_certificates_expiring looks.
const ExpiringWindow = 30 * 24 * time.Hour

// ExpiringCounter counts, by course id, the certificates that expire in
// [from, before) and are still due: neither renewed nor revoked.
type ExpiringCounter func(ctx context.Context, from, before time.Time) (map[string]int, error)

// expiring is the coursehook_certificates_expiring gauge, counted at each
// scrape from the database, so it is as fresh as the scrape and costs
// nothing between scrapes.
type expiring struct {
	desc  *prometheus.Desc
	count ExpiringCounter
	now   func() time.Time
	log   *slog.Logger
}

// RegisterExpiring registers coursehook_certificates_expiring{course}: the
// certificates expiring in the next 30 days, per course, that no
// re-completion renewed and no operator revoked. A course with none has
// no series. now is the clock (time.Now when nil).
func RegisterExpiring(reg prometheus.Registerer, count ExpiringCounter, now func() time.Time, log *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	reg.MustRegister(&expiring{
		desc: prometheus.NewDesc("coursehook_certificates_expiring",
			"Certificates expiring in the next 30 days, by course id (notifiableId), not renewed and not revoked: the learners due to renew.",
			[]string{"course"}, nil),
		count: count, now: now, log: log,
	})
}

func (e *expiring) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

func (e *expiring) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := e.now()
	counts, err := e.count(ctx, now, now.Add(ExpiringWindow))
	if err != nil {
		// No series rather than a wrong one; the log says why.
		e.log.Warn("count expiring certificates for /metrics", "error", err)
		return
	}
	for course, n := range counts {
		ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, float64(n), course)
	}
}
