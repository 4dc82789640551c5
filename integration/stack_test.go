package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/workflows"
)

// stack is one coursehook deployment: its own task queue, database, Slack
// and SendGrid stand-ins, worker and webhook server.
type stack struct {
	Slack    *slacktest.Server
	SendGrid *sendgridtest.Server
	Store    *store.Store
	Server   *httptest.Server
	Logs     *syncBuffer
}

// newStack sends through the real Slack and SendGrid clients, pointed at the
// stand-ins.
func newStack(t *testing.T) *stack {
	t.Helper()
	slack, sendgrid := slacktest.NewServer(t), sendgridtest.NewServer(t)
	s := build(t,
		slacknotify.New("xoxb-test-token", "#course-completions", slack.URL(), nil),
		mail.NewSendGrid("SG.test-key", sendgrid.URL(), mail.From{Email: "certificates@coursehook.example", Name: "Certificates"}, nil))
	s.Slack, s.SendGrid = slack, sendgrid
	return s
}

func build(t *testing.T, poster slacknotify.Poster, sender mail.Sender) *stack {
	t.Helper()
	s := &stack{Logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "coursehook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	s.Store = st

	taskQueue := "coursehook-" + t.Name() + "-" + uuid.NewString()
	w := app.NewWorker(temporal, taskQueue, app.NewActivities(st, poster, sender), worker.Options{})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	s.Server = httptest.NewServer(webhook.New(temporal, log, webhook.Options{TaskQueue: taskQueue}).Router())
	t.Cleanup(s.Server.Close)
	return s
}

type answer struct {
	Status     int
	RetryAfter string
	Body       map[string]any
}

func (s *stack) post(t *testing.T, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Server.URL+webhook.Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	require.NoError(t, json.Unmarshal(raw, &a.Body), "answer is not JSON: %s", raw)
	return a
}

// result waits for the event's workflow to close and returns its result.
func result(t *testing.T, eventID string) workflows.CourseCompletionResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var r workflows.CourseCompletionResult
	require.NoError(t, temporal.GetWorkflow(ctx, workflows.WorkflowID(eventID), "").Get(ctx, &r))
	return r
}

// sample returns a testdata sample with a fresh event id, so tests sharing
// the dev server never collide.
func sample(t *testing.T, name string) (id string, body []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	old := m["id"].(string)
	id = uuid.NewString()
	return id, []byte(strings.Replace(string(raw), old, id, 1))
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
