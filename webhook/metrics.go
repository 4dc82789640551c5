package webhook

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook server's Prometheus metrics. NewMetrics registers
// them; a nil *Metrics records nothing, for tests and callers without a
// registry.
type Metrics struct {
	requests   *prometheus.CounterVec
	ack        *prometheus.HistogramVec
	started    *prometheus.CounterVec
	duplicates prometheus.Counter
	rejections *prometheus.CounterVec
	startErrs  *prometheus.CounterVec
}

// Rejection reasons, by the answer that refused the request.
var rejectionReasons = map[int]string{
	http.StatusForbidden:             "source",
	http.StatusUnauthorized:          "secret",
	http.StatusRequestEntityTooLarge: "size",
	http.StatusUnsupportedMediaType:  "type",
	http.StatusBadRequest:            "invalid",
}

// NewMetrics registers the webhook server's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_webhook_requests_total",
			Help: "HTTP requests to the webhook server, by route pattern and status code.",
		}, []string{"route", "code"}),
		ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coursehook_webhook_ack_duration_seconds",
			Help: "Time from a request's arrival to its answer (the platform waits 15 s), by route pattern.",
			// From a duplicate's few milliseconds to the 5 s start bound.
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15},
		}, []string{"route"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_webhook_workflows_started_total",
			Help: "Workflows started, by kind of event (completion or ignored).",
		}, []string{"kind"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coursehook_webhook_duplicates_total",
			Help: "Deliveries of an event whose workflow already existed (answered 200 duplicate).",
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_webhook_rejections_total",
			Help: "Requests refused before Temporal was asked, by reason: source, secret, size, type or invalid.",
		}, []string{"reason"}),
		startErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_webhook_start_errors_total",
			Help: "Workflow starts Temporal did not accept, by class: transient (503) or refused (500, dead letter).",
		}, []string{"class"}),
	}
	reg.MustRegister(m.requests, m.ack, m.started, m.duplicates, m.rejections, m.startErrs)
	// Every series exists from the start, so a rate() or an alert sees zero
	// rather than nothing.
	for _, reason := range rejectionReasons {
		m.rejections.WithLabelValues(reason)
	}
	for _, kind := range []string{"completion", "ignored"} {
		m.started.WithLabelValues(kind)
	}
	for _, class := range []string{"transient", "refused"} {
		m.startErrs.WithLabelValues(class)
	}
	return m
}

// observe is the first middleware: it times every request and counts it by
// route pattern (never the path, which may hold the secret) and status.
// A request Admit let through is counted once, by the router that answers
// it, not by Admit's checks as well.
func (m *Metrics) observe(c *gin.Context) {
	if m == nil {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	if letThrough(c.Request) {
		return
	}
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.ack.WithLabelValues(route).Observe(time.Since(start).Seconds())
	if reason, ok := rejectionReasons[status]; ok {
		m.rejections.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) workflowStarted(kind string) {
	if m != nil {
		m.started.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) duplicate() {
	if m != nil {
		m.duplicates.Inc()
	}
}

func (m *Metrics) startError(class string) {
	if m != nil {
		m.startErrs.WithLabelValues(class).Inc()
	}
}
