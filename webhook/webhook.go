// Package webhook is the HTTP face of coursehook: the gin router that takes
// the learning platform's events and starts one workflow per event id, and
// the health endpoints.
package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/workflows"
)

// Path is where the platform posts its events. With a secret configured,
// the token follows as one more segment, Path + "/<token>", or comes as
// ?token=<token>.
const Path = "/webhooks/events"

const (
	healthPath = "/healthz"
	readyPath  = "/readyz"
)

// Temporal is the part of the Temporal client the server uses. The
// workflow service answers /readyz's question whether the namespace exists.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
	WorkflowService() workflowservice.WorkflowServiceClient
}

// readyFor is how long /readyz remembers a positive answer. It is probed
// often, and DescribeNamespace reads the server's database every time.
const readyFor = 5 * time.Second

// Options tune the server. Zero values take the defaults shown.
type Options struct {
	// MaxBodyBytes caps a request body (1 MiB).
	MaxBodyBytes int64
	// StartTimeout bounds the call that starts a workflow (5 s), well inside
	// the platform's 15 s wait, so a Temporal outage answers 503 in time.
	StartTimeout time.Duration
	// RetryAfter is sent with a 503 (30 s). The platform keeps its own
	// schedule, but other senders and proxies honour it.
	RetryAfter time.Duration
	// NoticeDeadline is passed to each workflow (workflows.DefaultNoticeDeadline).
	NoticeDeadline time.Duration
	// TaskQueue is where workflows start (workflows.TaskQueue).
	TaskQueue string
	// Namespace is the client's namespace, which /readyz requires to exist
	// (client.DefaultNamespace). A separate job may register it after the
	// server has started.
	Namespace string
	// Now is the clock that stamps ReceivedAt and times how long /readyz
	// remembers a positive answer (time.Now).
	Now func() time.Time

	// AllowedSources are the addresses, as prefixes, that may reach anything
	// but /healthz and /readyz; any other source is answered 403. A single
	// address is a /32 or /128 prefix. nil turns the check off, which suits
	// tests and callers that filter elsewhere; a non-nil empty list allows
	// no one. The starter always passes config's list, which is the
	// platform's two addresses unless ALLOWED_SOURCE_IPS says otherwise, and
	// nil only when it says "*".
	AllowedSources []netip.Prefix
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// checking the source (none). Nothing else is trusted: not loopback, not
	// a Unix socket, not any other header.
	TrustedProxies []netip.Prefix
	// Secret, when set, is a token every event must carry in its URL, in the
	// path or the query; without it the answer is 401. Without a secret, only
	// the bare Path takes events.
	Secret string
	// PreviousSecret is accepted as well as Secret while the platform's URL
	// is being changed to a new one.
	PreviousSecret string
	// DeadLetters keeps the body of an event whose start Temporal refused
	// for good (config.DefaultDeadLetterDir).
	DeadLetters deadletter.Dir
	// LearnerHashKey keys the learner hash in logs and in the LearnerHash
	// search attribute (config.DevelopmentLearnerHashKey).
	LearnerHashKey []byte
	// Metrics records requests, starts and refusals; nil records nothing.
	Metrics *Metrics
	// Checked, when set, holds /readyz at 503 until it returns nil, with
	// its error as the reason. The starter passes its start-up check of the
	// search attributes: until the namespace is known to have them, a start
	// that sets them may be refused. Nil gates nothing.
	Checked func() error
	// Public registers routes any source may reach, beside the webhook:
	// the certificate verification pages. Nil registers none. The routes
	// it adds skip the source check; everything else keeps it.
	Public func(r gin.IRouter) error
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = config.DefaultMaxBodyBytes
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = config.DefaultStartTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 30 * time.Second
	}
	if o.NoticeDeadline <= 0 {
		o.NoticeDeadline = workflows.DefaultNoticeDeadline
	}
	if o.TaskQueue == "" {
		o.TaskQueue = workflows.TaskQueue
	}
	if o.Namespace == "" {
		o.Namespace = client.DefaultNamespace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DeadLetters == "" {
		o.DeadLetters = config.DefaultDeadLetterDir
	}
	if len(o.LearnerHashKey) == 0 {
		o.LearnerHashKey = []byte(config.DevelopmentLearnerHashKey)
	}
	return o
}

// Server holds the handler's dependencies.
type Server struct {
	temporal Temporal
	log      *slog.Logger
	opts     Options
	secrets  secrets
	// public are the route patterns Options.Public registered.
	public map[string]bool

	mu sync.Mutex
	// readyUntil is when /readyz next asks Temporal.
	readyUntil time.Time
}

// New returns the server; Router gives its http.Handler.
func New(t Temporal, log *slog.Logger, opts Options) *Server {
	return &Server{temporal: t, log: log, opts: opts.withDefaults(), secrets: newSecrets(opts.Secret, opts.PreviousSecret)}
}

// Router builds the gin engine. A request meets its checks in this order:
// the source (403), the route and method (404, 405), the token (401), the
// content type and encoding (415), the size (413) and the payload (400).
// An event request that Admit let through skips the first three, which
// Admit has run.
func (s *Server) Router() *gin.Engine {
	r := s.engine(s.receive)
	r.GET(healthPath, func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET(readyPath, s.ready)
	if s.opts.Public != nil {
		before := map[string]bool{}
		for _, rt := range r.Routes() {
			before[rt.Method+" "+rt.Path] = true
		}
		if err := s.opts.Public(r); err != nil {
			// The caller checks its handler before it starts serving; a
			// page that cannot mount is left out rather than half mounted.
			s.log.Error("public pages not mounted", "error", err)
		}
		s.public = map[string]bool{}
		for _, rt := range r.Routes() {
			if !before[rt.Method+" "+rt.Path] {
				s.public[rt.Path] = true
			}
		}
	}
	s.notFound(r)
	return r
}

// engine is a gin engine with the middleware and the event routes, which
// end in event: the router's receive, or Admit's admit. Both build theirs
// here, so that an event request meets the same checks in the same order,
// and a refusal is logged and counted under the same route, in either.
//
// gin's own client-address logic stays off: it trusts no proxy and no
// platform header, and it would trust any Unix-socket peer. The source check
// reads X-Forwarded-For itself, and only from Options.TrustedProxies.
func (s *Server) engine(event gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// A redirect would answer before the source check runs.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Errors are ignored here: nil disables trusting proxies and cannot fail.
	_ = r.SetTrustedProxies(nil)
	r.ForwardedByClientIP = false
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	r.TrustedPlatform = ""
	// Metrics come first, so a refused source is counted too.
	r.Use(s.opts.Metrics.observe, s.recoverer, s.allowSources)
	r.POST(Path, s.requireToken, event)
	if s.secrets.enabled() {
		// Without a secret this route does not exist, so a URL with a token
		// in it is a 404 rather than an event accepted under a false sense
		// of protection.
		r.POST(Path+"/:"+tokenParam, s.requireToken, event)
	}
	return r
}

// notFound sets the answers to a route or method r does not have.
func (s *Server) notFound(r *gin.Engine) {
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not found", "hint": "the platform posts events to " + Path})
	})
	r.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": "method " + c.Request.Method + " not allowed", "hint": "use POST " + Path})
	})
}

// refuseHeaders answers 415 or 413 for a request whose headers alone rule
// it out: not JSON, compressed, or declared too large. It reads no body, so
// Admit runs it too, before the request waits for a worker.
func (s *Server) refuseHeaders(c *gin.Context) bool {
	if !isJSON(c.GetHeader("Content-Type")) {
		c.JSON(http.StatusUnsupportedMediaType, gin.H{
			"error": "unsupported content type " + strconv.Quote(c.GetHeader("Content-Type")),
			"hint":  "send the event as Content-Type: application/json",
		})
		return true
	}
	if enc, ok := identityEncoding(c.Request.Header.Values("Content-Encoding")); !ok {
		// Compressed bodies are refused, not inflated: a few kilobytes of
		// gzip can hold gigabytes.
		c.JSON(http.StatusUnsupportedMediaType, gin.H{
			"error": "unsupported content encoding " + strconv.Quote(enc) + "; compressed bodies are not accepted",
			"hint":  "send the event uncompressed, without Content-Encoding",
		})
		return true
	}
	if c.Request.ContentLength > s.opts.MaxBodyBytes {
		s.tooLarge(c)
		return true
	}
	return false
}

// recoverer answers 500 in JSON and logs the panic, without the request
// body, which may hold personal data, and with the route pattern instead of
// the URL, which may hold the secret token.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("handler panic", "panic", v, "route", c.FullPath())
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		}
	}()
	c.Next()
}

type startAnswer struct {
	Status     string `json:"status"`
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId,omitempty"`
	// learner is the event's learner hash, for the log line: computed once
	// for the search attribute and the log.
	learner string
}

func (s *Server) receive(c *gin.Context) {
	if s.refuseHeaders(c) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.tooLarge(c)
			return
		}
		c.JSON(http.StatusBadRequest, gin.H{"error": "could not read the request body"})
		return
	}
	ev, err := event.Parse(body)
	if err != nil {
		var v *event.ValidationError
		if errors.As(err, &v) {
			// The fields are named, never their values, which may be
			// personal data.
			s.log.Info("event refused", "problems", len(v.Problems), "firstField", v.Problems[0].Field, "source", s.source(c))
			c.JSON(http.StatusBadRequest, gin.H{"error": "invalid event", "problems": v.Problems})
			return
		}
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}

	receivedAt := s.opts.Now().UTC()
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.StartTimeout)
	defer cancel()
	ans, err := s.start(ctx, ev, body, receivedAt, ImportOptions{})
	switch {
	case err == nil && ans.Status == StatusDuplicate:
		s.opts.Metrics.duplicate()
		s.log.Info("duplicate delivery", "eventId", ev.ID, "workflowId", ans.WorkflowID,
			"courseId", ev.NotifiableID, "learner", ans.learner)
		c.JSON(http.StatusOK, ans)
	case err == nil:
		s.opts.Metrics.workflowStarted(map[string]string{StatusAccepted: "completion", StatusIgnored: "ignored"}[ans.Status])
		// The learner appears as a hash: Info lines never carry an email
		// address or a name.
		s.log.Info("event accepted", "eventId", ev.ID, "workflowId", ans.WorkflowID, "runId", ans.RunID,
			"status", ans.Status, "courseId", ev.NotifiableID, "learner", ans.learner)
		c.JSON(http.StatusAccepted, ans)
	case Transient(err):
		s.opts.Metrics.startError("transient")
		// Nothing durable happened, and Temporal may well answer the
		// platform's next attempt, so it must try again.
		c.Header("Retry-After", strconv.Itoa(int(s.opts.RetryAfter.Seconds())))
		if ns, missing := app.MissingNamespace(err); missing {
			// The name in Temporal's answer is the client's namespace;
			// Options.Namespace only mirrors it.
			ns = cmp.Or(ns, s.opts.Namespace)
			s.log.Error("could not start workflow: namespace "+ns+" is not registered (yet); answering 503 for the platform to retry",
				"eventId", ev.ID, "namespace", ns, "error", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal namespace " + ns + " is not registered yet; the event was not accepted, retry later", "eventId": ev.ID})
			return
		}
		s.log.Error("could not start workflow; answering 503 for the platform to retry", "eventId", ev.ID, "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal unavailable; the event was not accepted, retry later", "eventId": ev.ID})
	default:
		s.opts.Metrics.startError("refused")
		s.refused(c, ev, body, receivedAt, err)
	}
}

// refused answers an event Temporal will not start however often the
// platform retries (an invalid argument, a permission error, a payload it
// will not take). The platform would give up after ten tries, so the body is
// kept as a dead letter first; only if that fails too is the answer a 503, so
// that the platform's retries at least keep the event alive.
func (s *Server) refused(c *gin.Context, ev event.Event, body []byte, receivedAt time.Time, cause error) {
	path, err := s.opts.DeadLetters.Put(deadletter.Letter{EventID: ev.ID, ReceivedAt: receivedAt, Error: cause.Error(), Body: body})
	if err != nil {
		s.log.Error("temporal refused the workflow and the dead letter could not be written; answering 503 for the platform to retry",
			"eventId", ev.ID, "error", cause, "deadLetterError", err)
		c.Header("Retry-After", strconv.Itoa(int(s.opts.RetryAfter.Seconds())))
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the event could not be started or stored; retry later", "eventId": ev.ID})
		return
	}
	s.log.Error("temporal refused the workflow; the event is kept as a dead letter for an operator to replay",
		"eventId", ev.ID, "error", cause, "deadLetter", path)
	c.JSON(http.StatusInternalServerError, gin.H{
		"error":      "temporal refused to start the workflow: " + status.Convert(cause).Message(),
		"eventId":    ev.ID,
		"deadLetter": "kept for replay by the operators",
	})
}

// Answer statuses: what a start did, as the platform is told.
const (
	// StatusAccepted: a course completion's workflow was started.
	StatusAccepted = "accepted"
	// StatusIgnored: an event of another type was started, to be
	// recorded without notifying anyone.
	StatusIgnored = "ignored"
	// StatusDuplicate: the event's workflow already existed; nothing was
	// started.
	StatusDuplicate = "duplicate"
)

// ImportOptions are how an imported event's workflow differs from a
// delivery's (Import).
type ImportOptions struct {
	// RecordOnly records the completion and sends no notice
	// (workflows.CourseCompletionInput.RecordOnly).
	RecordOnly bool
	// AfterFailure starts the event again when its workflow failed (a dead
	// letter's replay): Temporal allows the id once more only after a
	// failed, terminated, cancelled or timed-out run
	// (ALLOW_DUPLICATE_FAILED_ONLY); a completed one is still a duplicate.
	AfterFailure bool
}

// start starts the workflow of one parsed event. A re-delivery is not an
// error: it comes back with the status "duplicate" and the existing run.
func (s *Server) start(ctx context.Context, ev event.Event, body []byte, receivedAt time.Time, opts ImportOptions) (startAnswer, error) {
	ans := startAnswer{Status: StatusAccepted, EventID: ev.ID, WorkflowID: workflows.WorkflowID(ev.ID),
		learner: ev.LearnerHash(s.opts.LearnerHashKey)}
	if !ev.IsCourseCompletion() {
		ans.Status = StatusIgnored
	}
	reuse := enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	if opts.AfterFailure {
		reuse = enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
	}
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        ans.WorkflowID,
		TaskQueue: s.opts.TaskQueue,
		// Without these two, Temporal quietly hands back the existing run
		// and a re-delivery would look new; with them it says so.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowIDReusePolicy:                    reuse,
		StaticSummary:                            workflows.Summary(ev),
		TypedSearchAttributes:                    workflows.StartSearchAttributes(ev, ans.learner),
	}, workflows.CourseCompletion, workflows.CourseCompletionInput{
		// The brief event and the raw body: the body travels once.
		Event:          ev.Brief(),
		Payload:        body,
		ReceivedAt:     receivedAt,
		NoticeDeadline: s.opts.NoticeDeadline,
		RecordOnly:     opts.RecordOnly,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		ans.Status, ans.RunID = StatusDuplicate, started.RunId
		return ans, nil
	case err != nil:
		return ans, err
	}
	ans.RunID = run.GetRunID()
	return ans, nil
}

// Transient reports whether a failed start may succeed if tried again:
// Temporal unreachable, too slow or overloaded, or its namespace not
// registered yet (a separate job registers it, and may run after this
// server starts; the server also answers NamespaceNotFound when its own
// lookup of the namespace fails, a database timeout included). Anything
// else (an invalid argument, a permission error, a payload that cannot be
// encoded) would fail the same way on every retry.
func Transient(err error) bool {
	if _, missing := app.MissingNamespace(err); missing {
		return true
	}
	switch serviceerror.ToStatus(err).Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Canceled, codes.Aborted:
		return true
	}
	return false
}

// Replay starts the workflow of a dead letter, dated by its original
// receipt. It returns the answer the platform would have had.
func (s *Server) Replay(ctx context.Context, l deadletter.Letter) (string, error) {
	return s.Import(ctx, l.Body, l.ReceivedAt, ImportOptions{AfterFailure: true})
}

// Import starts the workflow of one event that did not come through the
// webhook (a dead letter, a line of coursehookctl import's backfill), dated
// by receivedAt (now when zero). The body meets the webhook's validation,
// and the start is the webhook's own: the same workflow id, input and
// duplicate check, so an event imported and also delivered is worked on
// once. It returns the status a delivery would have been answered with
// (StatusAccepted, StatusIgnored or StatusDuplicate); a body that fails
// validation returns its *event.ValidationError, and a failed start
// Temporal's error, which Transient classifies.
func (s *Server) Import(ctx context.Context, body []byte, receivedAt time.Time, opts ImportOptions) (string, error) {
	ev, err := event.Parse(body)
	if err != nil {
		return "", err
	}
	if receivedAt.IsZero() {
		receivedAt = s.opts.Now().UTC()
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	ans, err := s.start(ctx, ev, body, receivedAt, opts)
	if err != nil {
		return "", fmt.Errorf("start %s: %w", workflows.WorkflowID(ev.ID), err)
	}
	return ans.Status, nil
}

func (s *Server) tooLarge(c *gin.Context) {
	c.JSON(http.StatusRequestEntityTooLarge, gin.H{
		"error": "request body too large",
		"limit": s.opts.MaxBodyBytes,
	})
}

// ready answers 200 once Temporal answers, the namespace exists and
// Options.Checked passes: before that, every start would fail.
func (s *Server) ready(c *gin.Context) {
	now := s.opts.Now()
	s.mu.Lock()
	cached := now.Before(s.readyUntil)
	s.mu.Unlock()
	if cached {
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.StartTimeout)
	defer cancel()
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		s.log.Warn("readiness check failed", "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": "temporal unreachable"})
		return
	}
	ns := s.opts.Namespace
	if _, err := s.temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns}); err != nil {
		if _, missing := app.MissingNamespace(err); missing {
			s.log.Warn("readiness check failed: namespace "+ns+" is not registered (yet)", "namespace", ns, "error", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": "namespace " + ns + " is not registered"})
			return
		}
		s.log.Warn("readiness check failed: cannot describe the namespace", "namespace", ns, "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": "namespace " + ns + " could not be checked"})
		return
	}
	if s.opts.Checked != nil {
		if err := s.opts.Checked(); err != nil {
			s.log.Warn("readiness check failed", "error", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": err.Error()})
			return
		}
	}
	s.mu.Lock()
	s.readyUntil = now.Add(readyFor)
	s.mu.Unlock()
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// identityEncoding reports whether the Content-Encoding headers, if any, all
// say identity, and otherwise returns the first one that does not.
func identityEncoding(values []string) (string, bool) {
	for _, v := range values {
		for _, enc := range strings.Split(v, ",") {
			enc = strings.TrimSpace(enc)
			if enc != "" && !strings.EqualFold(enc, "identity") {
				return enc, false
			}
		}
	}
	return "", true
}

// source is the request's client address for log lines.
func (s *Server) source(c *gin.Context) string {
	if a, err := clientAddr(c.Request, s.opts.TrustedProxies); err == nil {
		return a.String()
	}
	return c.Request.RemoteAddr
}

// isJSON accepts application/json and any +json type, with parameters such
// as charset.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
