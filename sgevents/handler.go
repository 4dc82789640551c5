package sgevents

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Path is where SendGrid posts its events.
const Path = "/webhooks/sendgrid"

// Handler receives SendGrid's Event Webhook: it checks the signature over
// the body as received, decodes the batch, stores the events that name an
// email coursehook sent, and starts the work that applies them, all before
// it answers 200. SendGrid retries any other answer for 24 hours, so a
// database or Temporal outage is a 503 and loses nothing.
type Handler struct {
	Verifier *Verifier
	// MaxBodyBytes caps one batch; a larger one gets 413.
	MaxBodyBytes int64
	// Engagement keeps opens and clicks; without it they are counted and
	// dropped, since they are personal data.
	Engagement bool
	// Save stores the events durably, once per sg_event_id, and returns
	// the new ones (to count) and the ids still to apply.
	Save func(ctx context.Context, evs []Event) (fresh []Event, pending []string, err error)
	// Start starts (or finds running) the work applying ids.
	Start func(ctx context.Context, ids []string) error
	// Timeout bounds Save and Start together, well inside SendGrid's wait.
	Timeout time.Duration
	Metrics *Metrics
	Log     *slog.Logger
}

// Register mounts the handler on r.
func (h *Handler) Register(r gin.IRouter) error {
	if h.Verifier == nil || h.Save == nil || h.Start == nil {
		return errors.New("sendgrid event webhook: verifier, store and start are required")
	}
	r.POST(Path, h.serve)
	return nil
}

// Off mounts the route as it is without a key: 404 for every source, with
// a body that says why, rather than the platform's source check's 403.
func Off(r gin.IRouter) error {
	r.POST(Path, func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, refusal{Error: "SendGrid delivery events are off on this server: it has no SENDGRID_WEBHOOK_PUBLIC_KEY"})
	})
	return nil
}

// refusal is the JSON body of an answer other than 200: what is wrong.
type refusal struct {
	Error string `json:"error"`
}

// answer is the JSON body of a 200: what was done with the batch.
type answer struct {
	Received int `json:"received"`
	Stored   int `json:"stored"`
	// Repeated events were stored by an earlier post.
	Repeated int `json:"repeated"`
	// Ignored events are not coursehook's to keep, by reason.
	Ignored map[string]int `json:"ignored,omitempty"`
}

// Ignore reasons, the metrics' reason label.
const (
	ignoredUnknownShape  = "unknown_shape"
	ignoredDuplicate     = "duplicate_in_batch"
	ignoredEngagementOff = "engagement_off"
	ignoredNotTracked    = "not_tracked"
	ignoredNoEmail       = "no_email_named"
)

func (h *Handler) serve(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, h.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		h.refuse(c, http.StatusRequestEntityTooLarge, "too_large",
			"the batch is larger than "+strconv.FormatInt(h.MaxBodyBytes, 10)+" bytes (SENDGRID_EVENTS_MAX_BODY_BYTES)")
		return
	case err != nil:
		h.refuse(c, http.StatusBadRequest, "unreadable", "the body could not be read")
		return
	}
	if err := h.Verifier.Verify(c.GetHeader(SignatureHeader), c.GetHeader(TimestampHeader), body); err != nil {
		h.Log.Warn("sendgrid event webhook refused", "error", err, "source", c.ClientIP())
		h.refuse(c, http.StatusUnauthorized, "unauthorized", unauthorized(err))
		return
	}
	batch, err := Decode(body)
	if err != nil {
		h.refuse(c, http.StatusBadRequest, "invalid", "the body must be a JSON array of SendGrid events")
		return
	}
	keep, ignored := h.filter(batch)
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.Timeout)
	defer cancel()
	fresh, pending, err := h.Save(ctx, keep)
	if err != nil {
		h.Log.Error("sendgrid events not stored; SendGrid will post them again", "error", err, "events", len(keep))
		h.unavailable(c, "the database did not answer; the batch was not stored")
		return
	}
	if len(pending) > 0 {
		if err := h.Start(ctx, pending); err != nil {
			// Stored, not yet applied: SendGrid's retry finds them
			// stored, and starts their work then.
			h.Log.Error("sendgrid events stored, their work not started; SendGrid will post them again", "error", err, "events", len(pending))
			h.unavailable(c, "Temporal did not answer; the batch is stored and will be applied when SendGrid posts it again")
			return
		}
	}
	for _, e := range fresh {
		h.Metrics.event(e.Type)
	}
	for reason, n := range ignored {
		h.Metrics.ignore(reason, n)
	}
	h.Metrics.batch("accepted")
	a := answer{Received: len(batch.Events) + batch.Unknown + batch.Duplicates, Stored: len(fresh),
		Repeated: len(keep) - len(fresh), Ignored: ignored}
	h.Log.Info("sendgrid events received", "received", a.Received, "stored", a.Stored, "repeated", a.Repeated,
		"pending", len(pending), "ignored", ignored)
	c.JSON(http.StatusOK, a)
}

// filter keeps the events coursehook tracks: the delivery states of
// emails it can match, and opens and clicks when they are tracked.
func (h *Handler) filter(b Batch) ([]Event, map[string]int) {
	ignored := map[string]int{}
	if b.Unknown > 0 {
		ignored[ignoredUnknownShape] = b.Unknown
	}
	if b.Duplicates > 0 {
		ignored[ignoredDuplicate] = b.Duplicates
	}
	keep := make([]Event, 0, len(b.Events))
	for _, e := range b.Events {
		switch {
		case e.Engagement != "" && !h.Engagement:
			ignored[ignoredEngagementOff]++
		case e.State == "" && e.Engagement == "":
			ignored[ignoredNotTracked]++
		case e.EventID == "" && MessageKey(e.MessageID) == "":
			ignored[ignoredNoEmail]++
		default:
			keep = append(keep, e)
		}
	}
	return keep, ignored
}

func (h *Handler) refuse(c *gin.Context, status int, result, msg string) {
	h.Metrics.batch(result)
	c.AbortWithStatusJSON(status, refusal{Error: msg})
}

func (h *Handler) unavailable(c *gin.Context, msg string) {
	c.Header("Retry-After", "60")
	h.refuse(c, http.StatusServiceUnavailable, "unavailable", msg)
}

// unauthorized says what was wrong with the signature, in words that help
// whoever configures SendGrid and nothing more.
func unauthorized(err error) string {
	switch {
	case errors.Is(err, ErrNoSignature):
		return "the " + SignatureHeader + " and " + TimestampHeader + " headers are required: turn on Signed Event Webhook in SendGrid"
	case errors.Is(err, ErrStale):
		return "the signature's timestamp is outside the replay window"
	default:
		return "the signature does not match the body and timestamp (is SENDGRID_WEBHOOK_PUBLIC_KEY this account's key?)"
	}
}

// Metrics count what the Event Webhook brings.
type Metrics struct {
	events  *prometheus.CounterVec
	ignored *prometheus.CounterVec
	batches *prometheus.CounterVec
}

// NewMetrics registers the Event Webhook's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_sendgrid_events_total",
			Help: "SendGrid delivery events stored, by SendGrid's type (processed, delivered, deferred, bounce, dropped, spamreport, open, click); a repeated event counts once.",
		}, []string{"type"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_sendgrid_events_ignored_total",
			Help: "SendGrid events not kept, by reason (unknown_shape, duplicate_in_batch, engagement_off, not_tracked, no_email_named).",
		}, []string{"reason"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coursehook_sendgrid_batches_total",
			Help: "SendGrid Event Webhook posts by result (accepted, unauthorized, invalid, too_large, unreadable, unavailable).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.events, m.ignored, m.batches)
	// At zero from the start, so the bounce-rate alert has its series.
	for _, t := range []string{TypeProcessed, TypeDeferred, TypeDelivered, TypeBounce, TypeDropped, TypeSpamReport} {
		m.events.WithLabelValues(t)
	}
	for _, r := range []string{"accepted", "unauthorized", "unavailable"} {
		m.batches.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) event(typ string) {
	if m != nil {
		m.events.WithLabelValues(typ).Inc()
	}
}

func (m *Metrics) ignore(reason string, n int) {
	if m != nil {
		m.ignored.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) batch(result string) {
	if m != nil {
		m.batches.WithLabelValues(result).Inc()
	}
}
