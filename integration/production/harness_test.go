// Package production proves coursehook on the production topology of
// docker-compose.yml, stood up without Docker by internal/cluster: the
// Temporal server release compose pins, on PostgreSQL, each service in its
// own process, with two coursehook workers and two webhook servers, under
// the faults a deployment meets (a service killed, the frontend restarted,
// PostgreSQL restarted).
package production

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	deploytemporal "github.com/coursehook/coursehook/deploy/temporal"
	"github.com/coursehook/coursehook/internal/cluster"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/webhook"
)

const repo = "../.."

// learnerHashKey is shared by every coursehook process of a run.
const learnerHashKey = "production-test-learner-hash-key"

// binaries builds the worker and the webhook server once for the run.
var binaries = sync.OnceValues(func() (map[string]string, error) {
	dir, err := os.MkdirTemp("", "coursehook-production-bin-")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range []string{"worker", "starter"} {
		bin := filepath.Join(dir, name)
		if b, err := exec.Command("go", "build", "-o", bin, filepath.Join(repo, name)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", name, err, b)
		}
		out[name] = bin
	}
	return out, nil
})

// testbed is one cluster with its coursehook processes and the Slack and
// SendGrid stand-ins they send to.
type testbed struct {
	t        testing.TB
	c        *cluster.Cluster
	slack    *slacktest.Server
	sendgrid *sendgridtest.Server
	bins     map[string]string
}

// startDatabase stands up the cluster's first half (PostgreSQL and
// Temporal's schema); the caller starts Temporal with c.UpTemporal.
func startDatabase(t *testing.T) *testbed {
	t.Helper()
	server := filepath.Join(repo, "bin", "temporal-server-"+deploytemporal.Version, "temporal-server")
	if _, err := os.Stat(server); err != nil {
		t.Skipf("no %s: `make cluster-bins` builds the production Temporal server (make test does)", server)
	}
	if _, err := exec.LookPath("pg_ctl"); err != nil {
		if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(dirs) == 0 && os.Getenv("PG_BIN") == "" {
			t.Skip("no PostgreSQL server programs (initdb, pg_ctl) to run the cluster's own PostgreSQL: install Debian's postgresql package")
		}
	}
	bins, err := binaries()
	require.NoError(t, err)
	ports, err := cluster.FreePorts()
	require.NoError(t, err)
	// Not t.TempDir: PostgreSQL runs as the postgres user, which must be
	// able to reach its data directory, and t.TempDir's parent is private.
	dir, err := os.MkdirTemp("", "coursehook-cluster-")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.UpDatabase(ctx, cluster.Options{Repo: repo, Dir: dir, Ports: ports, Log: logWriter{t}})
	if err != nil {
		os.RemoveAll(dir)
		require.NoError(t, err)
	}
	tb := &testbed{t: t, c: c, slack: slacktest.NewServer(t), sendgrid: sendgridtest.NewServer(t), bins: bins}
	t.Cleanup(func() {
		if t.Failed() {
			tb.dumpLogs()
		}
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("stop the cluster: %v", err)
		}
		os.RemoveAll(dir)
	})
	return tb
}

// logWriter passes the cluster's progress lines to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dumpLogs shows the end of every process's log, for a failed run.
func (tb *testbed) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(tb.c.Dir(), "logs", "*.log"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		tb.t.Logf("--- %s:\n%s", filepath.Base(f), b)
	}
}

// startWorker runs a coursehook worker with compose's environment, sending
// to the stand-ins.
func (tb *testbed) startWorker(name string) *cluster.Process {
	tb.t.Helper()
	env, err := tb.c.CoursehookEnv("worker", filepath.Join(tb.c.Dir(), "coursehook", name), map[string]string{
		"METRICS_ADDR":               "127.0.0.1:0",
		"LEARNER_HASH_KEY":           learnerHashKey,
		"SLACK_BOT_TOKEN":            "xoxb-test-token",
		"SLACK_CHANNEL":              slacktest.ChannelID,
		"SLACK_API_URL":              tb.slack.URL(),
		"SENDGRID_API_KEY":           "SG.test-key",
		"SENDGRID_API_URL":           tb.sendgrid.URL(),
		"SENDGRID_EMAILS_PER_SECOND": "50",
		"EMAIL_FROM":                 "certificates@coursehook.example",
		"SLACK_DIGEST_WINDOW":        "5s",
		// One channel takes every notice here; Slack allows bursts above
		// the default of one a second, and the suite has no minute to spare.
		"SLACK_MESSAGES_PER_SECOND": "10",
	})
	require.NoError(tb.t, err)
	p, err := tb.c.Start(name, tb.bins["worker"], env)
	require.NoError(tb.t, err)
	return p
}

// startWebhook runs a coursehook webhook server with compose's environment
// and returns its base URL.
func (tb *testbed) startWebhook(name string) string {
	tb.t.Helper()
	port, err := cluster.FreePort()
	require.NoError(tb.t, err)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env, err := tb.c.CoursehookEnv("starter", filepath.Join(tb.c.Dir(), "coursehook", name), map[string]string{
		"HTTP_ADDR":          addr,
		"ADMIN_ADDR":         "127.0.0.1:0",
		"ALLOWED_SOURCE_IPS": "127.0.0.1",
		"LEARNER_HASH_KEY":   learnerHashKey,
	})
	require.NoError(tb.t, err)
	_, err = tb.c.Start(name, tb.bins["starter"], env)
	require.NoError(tb.t, err)
	url := "http://" + addr
	eventually(tb.t, 30*time.Second, name+" to listen", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
}

// logOf is what the named process has logged so far.
func (tb *testbed) logOf(name string) string {
	b, _ := os.ReadFile(filepath.Join(tb.c.Dir(), "logs", name+".log"))
	return string(b)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// courses are the courses the events complete: enough that most are
// announced one by one, while the busiest reach the cohort digest.
var courses = func() []string {
	out := make([]string, 20)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}()

// event is a fresh completion of the nth course, from the sample.
func event(t testing.TB, n int) (id, course string, body []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "testdata", "course-completion.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	id, course = uuid.NewString(), courses[n%len(courses)]
	text := strings.Replace(string(raw), m["id"].(string), id, 1)
	text = strings.Replace(text, m["notifiableId"].(string), course, 1)
	return id, course, []byte(text)
}

// answer is one response of a webhook server.
type answer struct {
	status     int
	retryAfter string
	body       map[string]any
	err        error
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func post(url string, body []byte) answer {
	resp, err := httpClient.Post(url+webhook.Path, "application/json", bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), err: err}
	if err == nil {
		if jerr := json.Unmarshal(raw, &a.body); jerr != nil {
			a.err = fmt.Errorf("answer %d is not JSON: %q", resp.StatusCode, raw)
		}
	}
	return a
}

// delivery is the platform's delivery of one event to one webhook server:
// every attempt, retried while the answer is not a success (200-308), on a
// schedule compressed from the platform's ~3.5 hours into about a minute.
type delivery struct {
	attempts []answer
}

// retrySchedule is the wait before each retry.
var retrySchedule = []time.Duration{
	500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second,
	5 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second, 15 * time.Second,
}

// deliver posts body to url until it succeeds or the schedule is spent,
// passing each answer to record as it comes.
func deliver(ctx context.Context, url string, body []byte, record func(answer)) {
	for i := 0; ; i++ {
		a := post(url, body)
		record(a)
		if a.err == nil && a.status >= 200 && a.status <= 308 {
			return
		}
		if i >= len(retrySchedule) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retrySchedule[i]):
		}
	}
}

// final is the last answer.
func (d delivery) final() answer { return d.attempts[len(d.attempts)-1] }

// succeeded says whether the platform counted the delivery as a success.
func (d delivery) succeeded() bool {
	f := d.final()
	return f.err == nil && f.status >= 200 && f.status <= 308
}
