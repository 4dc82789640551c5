package integration

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"

	"github.com/coursehook/coursehook/activities"
	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/deliveries"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/internal/syncbuf"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/sgevents"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/store/verifystore"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/verify/page"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/wire"
	"github.com/coursehook/coursehook/workflows"
)

// stack is one coursehook deployment: its own task queue, database, Slack
// and SendGrid stand-ins, Temporal client, worker and webhook server. Logs
// collects everything the deployment logs, the SDK's lines included.
type stack struct {
	Slack     *slacktest.Server
	SendGrid  *sendgridtest.Server
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Server    *httptest.Server
	Logs      *syncbuf.Buffer
	// SendGridKey signs the Event Webhook's batches, with SendGridEvents.
	SendGridKey *ecdsa.PrivateKey
	// DatabaseURL is where Store keeps its rows, for processes of the stack.
	DatabaseURL string
	// DeadLetterDir is the worker's DEAD_LETTER_DIR.
	DeadLetterDir string
	// WebhookMetrics and WorkerMetrics are the two binaries' registries.
	WebhookMetrics, WorkerMetrics *prometheus.Registry
}

// stackOptions vary a deployment; the zero value is the default one.
type stackOptions struct {
	// DataConverter replaces the SDK's default on both the webhook side and
	// the worker side.
	DataConverter converter.DataConverter
	// FailureConverter goes with DataConverter when failures are encrypted.
	FailureConverter converter.FailureConverter
	// Webhook adjusts the handler's options; TaskQueue is set afterwards.
	Webhook webhook.Options
	// SlackPerSecond throttles the Slack queue (1 when zero, as in
	// production).
	SlackPerSecond float64
	// DatabaseURL replaces the test's own SQLite file.
	DatabaseURL string
	// Temporal replaces the shared dev server's client, for tests that stop
	// and restart a server of their own.
	Temporal client.Client
	// NoWorker leaves the worker out, for tests that run it as a process.
	NoWorker bool
	// Routing gives the worker per-course routing and cohort digests, as
	// the worker binary always has: Courses is COURSES_FILE's text (none
	// when empty) over DigestThreshold and DigestWindow (the defaults when
	// zero). Without it the
	// worker posts every notice directly, as before routing existed, which
	// the tests that count one Slack message per event rely on.
	Routing         bool
	Courses         string
	DigestThreshold int
	DigestWindow    time.Duration
	// EmailsPerSecond throttles the email queue (the default when zero).
	EmailsPerSecond float64
	// Verification turns certificate verification on, with the stack's own
	// server as PUBLIC_BASE_URL and VerificationKey as the signing secret.
	Verification bool
	// VerifyPerMinute is the pages' rate limit per source (30 when zero).
	VerifyPerMinute int
	// Channels are notice channels the worker has beside Slack and email;
	// their COURSES_FILE sections are read with Courses.
	Channels []channel.Channel
	// SendGridEvents mounts SendGrid's Event Webhook, checking signatures
	// with the stack's SendGridKey.
	SendGridEvents bool
	// Engagement keeps opens and clicks.
	Engagement bool
}

// verificationKey signs the stacks' certificates.
const verificationKey = "integration-certificate-signing-key-0123456789"

// newStack sends through the real Slack and SendGrid clients, pointed at the
// stand-ins.
func newStack(t testing.TB, opts ...stackOptions) *stack {
	t.Helper()
	slack, sendgrid := slacktest.NewServer(t), sendgridtest.NewServer(t)
	s := build(t,
		slacknotify.New("xoxb-test-token", slacktest.ChannelID, slack.URL(), nil),
		mail.NewSendGrid("SG.test-key", sendgrid.URL(), mail.From{Email: "certificates@coursehook.example", Name: "Certificates"}, nil),
		opts...)
	s.Slack, s.SendGrid = slack, sendgrid
	return s
}

func build(t testing.TB, poster slacknotify.Poster, sender mail.Sender, opts ...stackOptions) *stack {
	t.Helper()
	var o stackOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s := &stack{Logs: &syncbuf.Buffer{}, WebhookMetrics: prometheus.NewRegistry(), WorkerMetrics: prometheus.NewRegistry()}
	// The server's address is PUBLIC_BASE_URL, which the worker prints on
	// certificates, so it is known before either starts.
	s.Server = httptest.NewUnstartedServer(nil)
	log := slog.New(slog.NewJSONHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()

	dbURL := o.DatabaseURL
	if dbURL == "" {
		dbURL = filepath.Join(t.TempDir(), "coursehook.db")
	}
	s.DatabaseURL = dbURL
	st, err := store.Open(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	s.Store = st

	// A client of its own shares the dev server connection but carries this
	// deployment's logger and data converter.
	base := o.Temporal
	if base == nil {
		base = temporal
	}
	c, err := client.NewClientFromExisting(base, client.Options{
		Logger:           sdklog.NewStructuredLogger(log),
		DataConverter:    o.DataConverter,
		FailureConverter: o.FailureConverter,
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	s.Temporal = c

	taskQueue := "coursehook-" + t.Name() + "-" + uuid.NewString()
	s.TaskQueue = taskQueue
	if !o.NoWorker {
		builtins := wire.Builtins{SlackPerSecond: o.SlackPerSecond, EmailsPerSecond: o.EmailsPerSecond, PublicBaseURL: s.URL()}
		if o.SendGridEvents {
			// A retried email looks for its first attempt in the events.
			builtins.Events, builtins.EventsWait = st, config.DefaultSendGridEventsWait
		}
		acts := wire.NewActivities(st, append(wire.Builtin(poster, sender, builtins), o.Channels...))
		acts.Metrics = metrics.NewWorker(s.WorkerMetrics, func(ctx context.Context) (int, error) {
			return st.CountStatus(ctx, store.StatusPartial)
		}, log)
		acts.Metrics.BlockedReasons(store.BlockedReasons()...)
		metrics.RegisterExpiring(s.WorkerMetrics, st.ExpiringByCourse, nil, log)
		s.DeadLetterDir = filepath.Join(t.TempDir(), "dead-letter")
		acts.DeadLetters = deadletter.Dir(s.DeadLetterDir)
		if o.Routing {
			acts.Routes, acts.Digests = routes(t, o), c
		}
		if o.Verification {
			acts.Verifier = &activities.Verifier{Keys: verificationKeys(t)}
		}
		stop, err := wire.StartWorkers(wire.NewWorkers(c, taskQueue, acts, wire.WorkerOptions{}))
		require.NoError(t, err)
		t.Cleanup(stop)
	}

	wopts := o.Webhook
	wopts.TaskQueue = taskQueue
	wopts.Metrics = webhook.NewMetrics(s.WebhookMetrics)
	if wopts.DeadLetters == "" {
		wopts.DeadLetters = deadletter.Dir(t.TempDir())
	}
	var hook *webhook.Server
	if o.Verification {
		h := &page.Handler{
			Lookup:     verifystore.Lookup{Store: st, DefaultIssuer: "Course Certificates"},
			RenderPDF:  verifystore.Renderer{Store: st, BaseURL: s.URL()}.RenderPDF,
			Keys:       verificationKeys(t),
			BaseURL:    s.URL(),
			IssuerName: "Course Certificates",
			ClientIP:   func(c *gin.Context) string { return hook.ClientAddr(c) },
			PerMinute:  o.VerifyPerMinute,
			Log:        log,
		}
		require.NoError(t, h.Register(gin.New()))
		wopts.Public = h.Register
	}
	if o.SendGridEvents {
		key, err := sgevents.GenerateKey()
		require.NoError(t, err)
		pub, err := sgevents.PublicKeyBase64(&key.PublicKey)
		require.NoError(t, err)
		v, err := sgevents.NewVerifier(pub)
		require.NoError(t, err)
		s.SendGridKey = key
		events := deliveries.Handler(deliveries.Options{
			Verifier: v, MaxBodyBytes: config.DefaultSendGridEventsMaxBodyBytes, Engagement: o.Engagement,
			Store: st, Temporal: c, TaskQueue: taskQueue, Timeout: 10 * time.Second,
			Metrics: sgevents.NewMetrics(s.WebhookMetrics), Log: log,
		})
		pages := wopts.Public
		wopts.Public = func(r gin.IRouter) error {
			if pages != nil {
				if err := pages(r); err != nil {
					return err
				}
			}
			return events.Register(r)
		}
	}
	hook = webhook.New(c, log, wopts)
	s.Server.Config.Handler = hook.Router()
	s.Server.Start()
	t.Cleanup(s.Server.Close)
	return s
}

// workerEnv is what a worker process needs to work for the stack: its
// Temporal server and task queue, the database at databaseURL, and the
// Slack and SendGrid stand-ins (emails at 50 a second); more adds or
// overrides variables.
func (s *stack) workerEnv(databaseURL string, more ...string) []string {
	return append([]string{
		"TEMPORAL_ADDRESS=" + frontend,
		"TEMPORAL_TASK_QUEUE=" + s.TaskQueue,
		"DATABASE_URL=" + databaseURL,
		"SLACK_BOT_TOKEN=xoxb-test-token",
		"SLACK_CHANNEL=" + slacktest.ChannelID,
		"SLACK_API_URL=" + s.Slack.URL(),
		"SENDGRID_EMAILS_PER_SECOND=50",
		"SENDGRID_API_KEY=SG.test-key",
		"SENDGRID_API_URL=" + s.SendGrid.URL(),
		"EMAIL_FROM=certificates@coursehook.example",
	}, more...)
}

// URL is the stack's public base URL: its webhook server.
func (s *stack) URL() string { return "http://" + s.Server.Listener.Addr().String() }

func verificationKeys(t testing.TB) *verify.Keys {
	t.Helper()
	k, err := verify.NewKeys([]byte(verificationKey))
	require.NoError(t, err)
	return k
}

// routes loads the stack's courses file, as the worker binary does.
func routes(t testing.TB, o stackOptions) *courses.Routes {
	t.Helper()
	var path string
	if o.Courses != "" {
		path = filepath.Join(t.TempDir(), "courses.yaml")
		require.NoError(t, os.WriteFile(path, []byte(o.Courses), 0o600))
	}
	base := courses.Route{
		Slack:  courses.SlackRoute{Channel: slacktest.ChannelID, Enabled: true},
		Email:  courses.EmailRoute{Enabled: true},
		Digest: courses.DigestRoute{Threshold: cmp.Or(o.DigestThreshold, config.DefaultDigestThreshold), Window: cmp.Or(o.DigestWindow, config.DefaultDigestWindow)},
	}
	table, err := courses.Load(path, base, wire.Sections(o.Channels)...)
	require.NoError(t, err)
	return courses.NewRoutes(table)
}

type answer struct {
	Status     int
	RetryAfter string
	Body       map[string]any
}

func (s *stack) post(t testing.TB, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Server.URL+webhook.Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	require.NoError(t, json.Unmarshal(raw, &a.Body), "answer is not JSON: %s", raw)
	return a
}

// result waits for the event's workflow to close and returns its result.
// The wait is generous: under the race detector, with the fault scenarios
// running in parallel on two cores, a workflow that retries can take a while.
func (s *stack) result(t testing.TB, eventID string) workflows.CourseCompletionResult {
	t.Helper()
	return s.resultWithin(t, eventID, 2*time.Minute)
}

func (s *stack) resultWithin(t testing.TB, eventID string, timeout time.Duration) workflows.CourseCompletionResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var r workflows.CourseCompletionResult
	require.NoError(t, s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(eventID), "").Get(ctx, &r))
	return r
}

// sample returns a testdata sample with a fresh event id, so tests sharing
// the dev server never collide.
func sample(t testing.TB, name string) (id string, body []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	old := m["id"].(string)
	id = uuid.NewString()
	return id, []byte(strings.Replace(string(raw), old, id, 1))
}
