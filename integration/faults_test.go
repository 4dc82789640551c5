package integration

// The fault-injection suite: each scenario scripts a failure of the
// platform, a provider, the database, Temporal or the worker, and asserts its
// counts. docs/reliability.md has the table of scenarios and results.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/testsuite"

	"github.com/coursehook/coursehook/internal/devserver"
	"github.com/coursehook/coursehook/internal/faultproxy"
	"github.com/coursehook/coursehook/internal/pgtest"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/workflows"
)

// postStatus posts without failing the test, for use from many goroutines.
func postStatus(serverURL string, body []byte) (int, map[string]any, error) {
	resp, err := testHTTP.Post(serverURL+webhook.Path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("answer is not JSON: %q", raw)
	}
	return resp.StatusCode, m, nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postMany posts each body once, with a few at a time, and returns the
// statuses in order.
func postMany(t *testing.T, serverURL string, bodies [][]byte) []int {
	t.Helper()
	statuses := make([]int, len(bodies))
	errs := make([]error, len(bodies))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, b := range bodies {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			statuses[i], _, errs[i] = postStatus(serverURL, b)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return statuses
}

func samples(t testing.TB, n int) (ids []string, bodies [][]byte) {
	t.Helper()
	for range n {
		id, body := sample(t, "course-completion.json")
		ids, bodies = append(ids, id), append(bodies, body)
	}
	return ids, bodies
}

func row(t *testing.T, s *stack, id string) store.Record {
	t.Helper()
	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	return rec
}

func rows(t *testing.T, s *stack) int {
	t.Helper()
	n, err := s.Store.Count(context.Background())
	require.NoError(t, err)
	return n
}

// Scenario 1.
func TestFaultConcurrentDeliveriesOfOneEvent(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion.json")

	const n = 50
	statuses := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], _, errs[i] = postStatus(s.Server.URL, body)
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i := range n {
		require.NoError(t, errs[i])
		count[statuses[i]]++
	}
	require.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusOK: n - 1}, count)

	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Len(t, s.Slack.Messages(), 1)
	require.Len(t, s.SendGrid.Messages(), 1)
	require.Equal(t, 1, rows(t, s))
	var runs int
	eventually(t, 10*time.Second, "the workflow in visibility", func() bool {
		resp, err := s.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = %q", workflows.WorkflowID(id)),
		})
		require.NoError(t, err)
		runs = len(resp.Executions)
		return runs > 0
	})
	require.Equal(t, 1, runs)
}

// Scenario 2.
func TestFaultRedeliveryAfterCompletion(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)

	again := s.post(t, body)
	require.Equal(t, http.StatusOK, again.Status)
	require.Equal(t, "duplicate", again.Body["status"])
	require.Equal(t, 1, s.Slack.Attempts())
	require.Equal(t, 1, s.SendGrid.Attempts())
}

// Scenario 3: Temporal's retention removed the history, the database did not
// forget.
func TestFaultRedeliveryAfterHistoryIsGone(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)

	ctx := context.Background()
	_, err := s.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace:         "default",
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflows.WorkflowID(id)},
	})
	require.NoError(t, err)
	// The dev server deletes histories in the background, in tens of seconds.
	eventually(t, 2*time.Minute, "the history to be deleted", func() bool {
		_, err := s.Temporal.DescribeWorkflow(ctx, workflows.WorkflowID(id), "")
		var notFound *serviceerror.NotFound
		return errors.As(err, &notFound)
	})

	again := s.post(t, body)
	require.Equal(t, http.StatusAccepted, again.Status, "Temporal no longer knows the id: %v", again.Body)
	require.Equal(t, workflows.StatusDuplicate, s.result(t, id).Status)
	require.Equal(t, 1, s.Slack.Attempts(), "no second Slack notice")
	require.Equal(t, 1, s.SendGrid.Attempts(), "no second email")
	require.Equal(t, store.StatusCompleted, row(t, s, id).Status)
}

// Scenario 4.
func TestFaultSlack500ThenSuccess(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.Slack.FailNext(3, slacktest.Failure{Status: http.StatusInternalServerError})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Equal(t, 4, s.Slack.Attempts())
	require.Len(t, s.Slack.Messages(), 1)
	require.Equal(t, store.StatusCompleted, row(t, s, id).Status)
}

// Scenario 5.
func TestFaultSlackRateLimitedWaitsRetryAfter(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.Slack.FailNext(1, slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "2"})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	times := s.Slack.AttemptTimes()
	require.Len(t, times, 2)
	require.GreaterOrEqual(t, times[1].Sub(times[0]), 2*time.Second, "the retry honours Retry-After")
	require.Len(t, s.Slack.Messages(), 1)
}

// Scenario 6.
func TestFaultSlackInvalidAuthIsPermanent(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.Slack.FailAlways(slacktest.Failure{Status: http.StatusOK, SlackError: "invalid_auth"})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	r := s.result(t, id)
	require.Equal(t, workflows.StatusPartial, r.Status)
	recordHistory(t, id, "history-partial.json")
	require.Equal(t, 1, s.Slack.Attempts(), "no retries")
	require.Len(t, s.SendGrid.Messages(), 1, "the email still goes out")
	rec := row(t, s, id)
	require.Equal(t, store.StatusPartial, rec.Status)
	require.Equal(t, "slack", rec.FailedStep)
	require.Contains(t, rec.Error, "invalid_auth")
	require.NotEmpty(t, rec.Receipts[workflows.StepNameEmail].ID)
}

// Scenario 7.
func TestFaultSendGrid503ThenAccepted(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.SendGrid.FailNext(2, sendgridtest.Failure{Status: http.StatusServiceUnavailable})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Equal(t, 3, s.SendGrid.Attempts())
	require.Len(t, s.SendGrid.Messages(), 1)
}

// Scenario 8.
func TestFaultSendGrid400IsPermanent(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const msg = "The to email does not contain a valid address."
	s.SendGrid.FailAlways(sendgridtest.Failure{Status: http.StatusBadRequest, Errors: []string{msg}})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	require.Equal(t, workflows.StatusPartial, s.result(t, id).Status)
	require.Equal(t, 1, s.SendGrid.Attempts(), "no retries")
	require.Len(t, s.Slack.Messages(), 1, "the Slack notice still goes out")
	rec := row(t, s, id)
	require.Equal(t, store.StatusPartial, rec.Status)
	require.Equal(t, "email", rec.FailedStep)
	require.Contains(t, rec.Error, msg)
	require.NotEmpty(t, rec.Receipts[workflows.StepNameSlack].ID)
}

// Scenario 9: the database disappears for 10 s while an event is recorded.
func TestFaultDatabaseOutage(t *testing.T) {
	t.Parallel()
	dbURL, err := url.Parse(pgtest.URL(t))
	require.NoError(t, err)
	proxy := faultproxy.Start(t, dbURL.Host)
	dbURL.Host = proxy.Addr()
	s := newStack(t, stackOptions{DatabaseURL: dbURL.String()})
	id, body := sample(t, "course-completion.json")

	cutAt := time.Now()
	proxy.Cut()
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status, "ingest does not need the database")
	// The record step first retries in the worker for the local budget
	// (10 s), then goes on as an ordinary activity, which the UI shows.
	eventually(t, 45*time.Second, "the record step to fail and retry as an ordinary activity", func() bool {
		d, err := s.Temporal.DescribeWorkflow(context.Background(), workflows.WorkflowID(id), "")
		require.NoError(t, err)
		for _, a := range d.RawResponse.GetPendingActivities() {
			if a.ActivityType.GetName() == "RecordCompletion" && a.Attempt >= 2 {
				return true
			}
		}
		return false
	})
	// The outage lasts 10 s; this wait is the fault itself, not a way to
	// synchronise with the workflow.
	time.Sleep(time.Until(cutAt.Add(10 * time.Second)))
	proxy.Restore()

	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Equal(t, 1, rows(t, s))
	require.Len(t, s.Slack.Messages(), 1)
	require.Len(t, s.SendGrid.Messages(), 1)
	recordHistory(t, id, "history-database-outage.json")
}

// ownServer runs a dev server of the test's own, on a fixed port and a
// database file, so it can be stopped and started again with its state.
type ownServer struct {
	t        *testing.T
	hostPort string
	db       string
	srv      *testsuite.DevServer
}

func newOwnServer(t *testing.T) *ownServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hostPort := ln.Addr().String()
	require.NoError(t, ln.Close())
	o := &ownServer{t: t, hostPort: hostPort, db: filepath.Join(t.TempDir(), "temporal.db")}
	o.start()
	t.Cleanup(func() {
		if o.srv != nil {
			o.srv.Stop()
		}
	})
	return o
}

func (o *ownServer) start() {
	o.t.Helper()
	srv, err := devserver.Start(context.Background(), devserver.Options{DBFilename: o.db, HostPort: o.hostPort})
	require.NoError(o.t, err)
	o.srv = srv
}

func (o *ownServer) stop() {
	o.t.Helper()
	require.NoError(o.t, o.srv.Stop())
	o.srv = nil
}

// Scenario 10.
func TestFaultTemporalDownAtIngest(t *testing.T) {
	t.Parallel()
	own := newOwnServer(t)
	s := newStack(t, stackOptions{Temporal: own.srv.Client()})
	id, body := sample(t, "course-completion.json")

	own.stop()
	began := time.Now()
	down := s.post(t, body)
	elapsed := time.Since(began)
	require.Equal(t, http.StatusServiceUnavailable, down.Status)
	require.NotEmpty(t, down.RetryAfter)
	require.Less(t, elapsed, 5*time.Second+500*time.Millisecond, "answered within the start timeout")

	own.start()
	eventually(t, 30*time.Second, "readiness after the restart", func() bool {
		resp, err := testHTTP.Get(s.Server.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	up := s.post(t, body)
	require.Equal(t, http.StatusAccepted, up.Status, "%v", up.Body)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Len(t, s.Slack.Messages(), 1)
	require.Len(t, s.SendGrid.Messages(), 1)
}

// Scenario 12.
func TestFaultDevServerRestartWithWorkflowsInFlight(t *testing.T) {
	t.Parallel()
	own := newOwnServer(t)
	s := newStack(t, stackOptions{Temporal: own.srv.Client(), SlackPerSecond: 100})
	s.Slack.SetResponseDelay(500 * time.Millisecond)
	ids, bodies := samples(t, 20)
	for _, st := range postMany(t, s.Server.URL, bodies) {
		require.Equal(t, http.StatusAccepted, st)
	}
	s.Slack.WaitForMessages(t, 3, 30*time.Second)

	own.stop()
	own.start()

	for _, id := range ids {
		require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status, id)
		require.Len(t, s.Slack.MessagesFor(id), 1, id)
	}
	require.Equal(t, 20, rows(t, s))
}

// Scenario 13: a burst for one channel meets the throttle, not Slack's limit.
func TestFaultSlackBurstStaysUnderTheRateLimit(t *testing.T) {
	t.Parallel()
	const burst = 500
	s := newStack(t, stackOptions{SlackPerSecond: 20})
	s.Slack.SetRateLimit(30)
	ids, bodies := samples(t, burst)
	for _, st := range postMany(t, s.Server.URL, bodies) {
		require.Equal(t, http.StatusAccepted, st)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for _, id := range ids {
		require.Equal(t, workflows.StatusCompleted, s.resultWithin(t, id, time.Until(deadline)).Status, id)
	}
	require.Len(t, s.Slack.Messages(), burst)
	require.Zero(t, s.Slack.RateLimited(), "Slack never had to say 429")
}

// Scenario 11: the worker is SIGKILLed with 50 workflows in flight, some of
// them inside the window where Slack has the message and the worker has no
// answer yet.
func TestFaultWorkerKilledMidFlight(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{NoWorker: true})
	dbPath := filepath.Join(t.TempDir(), "worker.db")
	emailDuplicates, lookups := killWorkerMidFlight(t, s, dbPath)
	t.Logf("%d Slack lookups on retry; %d duplicate emails (no delivery events: SendGrid has no idempotency key)",
		lookups, emailDuplicates)
}

// killWorkerMidFlight posts 50 completions to s, SIGKILLs the worker
// process after ten Slack messages, starts another, and checks that every
// completion completed with one Slack message and one row. It returns the
// emails sent twice and the Slack lookups made.
func killWorkerMidFlight(t *testing.T, s *stack, databaseURL string) (emailDuplicates, lookups int) {
	t.Helper()
	s.Slack.SetResponseDelay(400 * time.Millisecond)
	s.SendGrid.SetResponseDelay(200 * time.Millisecond)
	env := s.workerEnv(databaseURL,
		"SLACK_MESSAGES_PER_SECOND=50",
		// Every completion gets a message of its own, so each one's crash
		// window can be checked; the digest's is checked in cohort_test.go.
		"SLACK_DIGEST_THRESHOLD=1000",
		"LOG_LEVEL=debug",
	)
	first := startWorkerProcess(t, env, "worker-1.log")

	ids, bodies := samples(t, 50)
	for _, st := range postMany(t, s.Server.URL, bodies) {
		require.Equal(t, http.StatusAccepted, st)
	}
	s.Slack.WaitForMessages(t, 10, 60*time.Second)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	killedAt := len(s.Slack.Messages())

	startWorkerProcess(t, env, "worker-2.log")
	for _, id := range ids {
		require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status, id)
	}
	for _, id := range ids {
		require.Len(t, s.Slack.MessagesFor(id), 1, "exactly one Slack message for %s", id)
		emailDuplicates += len(s.SendGrid.MessagesFor(id)) - 1
	}
	st, err := store.Open(context.Background(), databaseURL)
	require.NoError(t, err)
	defer st.Close()
	for _, id := range ids {
		_, err := st.Get(context.Background(), id)
		require.NoError(t, err, "every completion has its row")
	}
	t.Logf("killed after %d Slack messages", killedAt)
	return emailDuplicates, s.Slack.HistoryCalls()
}

// startWorkerProcess runs the real worker binary; the test's cleanup stops
// it.
func startWorkerProcess(t *testing.T, env []string, logName string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(workerBinary(t))
	// Each process gets its own metrics port, so several can run at once.
	cmd.Env = append(append(os.Environ(), "METRICS_ADDR=127.0.0.1:0"), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s:\n%s", logName, tail(b, 4000))
		}
	})
	return cmd
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Each binary is built once per test run, into the folder TestMain removes
// at the end.
var (
	buildWorker  = sync.OnceValues(func() (string, error) { return goBuild("worker") })
	buildStarter = sync.OnceValues(func() (string, error) { return goBuild("starter") })
)

// goBuild builds the binary in the repository's folder name.
func goBuild(name string) (string, error) {
	bin := filepath.Join(scratch, name)
	out, err := exec.Command("go", "build", "-o", bin, "../"+name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", name, err, out)
	}
	return bin, nil
}

func workerBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildWorker()
	require.NoError(t, err)
	return bin
}

func starterBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildStarter()
	require.NoError(t, err)
	return bin
}
