// Package metrics holds the worker's own Prometheus metrics: notices by
// channel and outcome, the providers' answer times, and the number of
// partial events. The Temporal SDK's metrics sit beside them on the same
// registry (see app).
package metrics

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Notice outcomes.
const (
	Sent          = "sent"
	Retryable     = "retryable"
	Permanent     = "permanent"
	FoundExisting = "found-existing"
)

// Worker records what the activities do. A nil *Worker records nothing.
type Worker struct {
	notices   *prometheus.CounterVec
	provider  *prometheus.HistogramVec
	unmatched prometheus.Counter
	blocked   *prometheus.CounterVec
}

// Counter counts the events of one status, for the partial-events gauge.
type Counter func(ctx context.Context) (int, error)

// NewWorker registers the worker's metrics with reg. partial, when not nil,
// is asked for the number of partial events at each scrape (with a bound on
// how long it may take); log hears of its failures.
func NewWorker(reg prometheus.Registerer, partial Counter, log *slog.Logger) *Worker {
	w := &Worker{
		notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_notices_total",
			Help: "Notice attempts by channel (slack, email, webhook) and outcome (sent, retryable, permanent, found-existing).",
		}, []string{"channel", "outcome"}),
		provider: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coursehook_provider_request_duration_seconds",
			Help:    "Time a notice's send took, by provider (slack, sendgrid, webhook) and result (ok, error); an email's includes rendering its certificate.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 9), // 10 ms to about 15 s
		}, []string{"provider", "result"}),
	}
	w.unmatched = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "coursehook_delivery_events_unmatched_total",
		Help: "SendGrid delivery events that name no email coursehook sent (no custom args and an unknown message id, or an event id never recorded).",
	})
	w.blocked = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coursehook_database_blocked_total",
		Help: "Database steps that failed for a reason an operator must fix (permission, schema, read-only, disk-full), and wait for it: one count an attempt, about one a minute per waiting event.",
	}, []string{"reason"})
	reg.MustRegister(w.notices, w.provider, w.unmatched, w.blocked)
	w.Channel("slack")
	w.Channel("email")
	if partial != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "coursehook_partial_events",
			Help: "Events whose notices failed for good (status partial in the database), waiting for an operator.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := partial(ctx)
			if err != nil {
				log.Warn("count partial events for /metrics", "error", err)
				return math.NaN()
			}
			return float64(n)
		}))
	}
	return w
}

// Channel makes the channel's notice counters exist at zero, so rates and
// alerts over them work before its first notice.
func (w *Worker) Channel(name string) {
	if w == nil {
		return
	}
	for _, o := range []string{Sent, Retryable, Permanent, FoundExisting} {
		w.notices.WithLabelValues(name, o)
	}
}

// Notice counts one attempt of a notice.
func (w *Worker) Notice(channel, outcome string) {
	if w != nil {
		w.notices.WithLabelValues(channel, outcome).Inc()
	}
}

// ProviderCall records how long one request to a provider took.
func (w *Worker) ProviderCall(provider string, d time.Duration, err error) {
	if w == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	w.provider.WithLabelValues(provider, result).Observe(d.Seconds())
}

// BlockedReasons makes the database-blocked counters of reasons exist at
// zero, so the alert over them works before the first.
func (w *Worker) BlockedReasons(reasons ...string) {
	if w == nil {
		return
	}
	for _, r := range reasons {
		w.blocked.WithLabelValues(r)
	}
}

// DatabaseBlocked counts one attempt of a database step that waits for an
// operator, for reason.
func (w *Worker) DatabaseBlocked(reason string) {
	if w != nil {
		w.blocked.WithLabelValues(reason).Inc()
	}
}

// DeliveryUnmatched counts delivery events that matched no email.
func (w *Worker) DeliveryUnmatched(n int) {
	if w != nil && n > 0 {
		w.unmatched.Add(float64(n))
	}
}
