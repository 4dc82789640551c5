package production

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	deploytemporal "github.com/coursehook/coursehook/deploy/temporal"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// stream posts events the way the platform sends them, one every interval,
// until stop is called. plan says where each goes: the cluster test sends
// every event to every webhook server at once (a re-delivery that lands on
// the other server), the soak one at a time, with some re-delivered later.
type stream struct {
	plan func(n int) []target
	wg   sync.WaitGroup

	mu       sync.Mutex
	events   []*sent
	finished int
	stopped  chan struct{}
}

// target is one delivery of an event: to url, after a delay.
type target struct {
	url   string
	after time.Duration
}

// sent is one event and its deliveries.
type sent struct {
	id, course string
	body       []byte
	deliveries []delivery
}

// toEvery sends each event to every server at once.
func toEvery(urls ...string) func(int) []target {
	return func(int) []target {
		out := make([]target, len(urls))
		for i, u := range urls {
			out[i] = target{url: u}
		}
		return out
	}
}

func startStream(t testing.TB, every time.Duration, plan func(n int) []target) *stream {
	s := &stream{plan: plan, stopped: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 0; ; n++ {
			id, course, body := event(t, n)
			s.send(&sent{id: id, course: course, body: body}, plan(n))
			select {
			case <-s.stopped:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *stream) send(e *sent, targets []target) {
	s.mu.Lock()
	s.events = append(s.events, e)
	e.deliveries = make([]delivery, len(targets))
	s.mu.Unlock()
	var each sync.WaitGroup
	for i, tg := range targets {
		each.Go(func() {
			time.Sleep(tg.after) // the platform's own delay before a re-delivery
			deliver(context.Background(), tg.url, e.body, func(a answer) {
				s.mu.Lock()
				e.deliveries[i].attempts = append(e.deliveries[i].attempts, a)
				s.mu.Unlock()
			})
		})
	}
	s.wg.Go(func() {
		each.Wait()
		s.mu.Lock()
		s.finished++
		s.mu.Unlock()
	})
}

// done is how many events every server has answered for good.
func (s *stream) done() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished
}

// answered503 is how many deliveries were answered 503 at least once.
func (s *stream) answered503() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		for _, d := range e.deliveries {
			for _, a := range d.attempts {
				if a.status == http.StatusServiceUnavailable {
					n++
					break
				}
			}
		}
	}
	return n
}

// progress waits until n more events than now are answered for good: the
// cluster is taking work again.
func (s *stream) progress(t *testing.T, n int, within time.Duration, after string) {
	t.Helper()
	base := s.done()
	eventually(t, within, fmt.Sprintf("%d more events answered after %s", n, after), func() bool { return s.done() >= base+n })
}

// stop ends the stream and waits for every delivery, retries included.
func (s *stream) stop() []*sent {
	close(s.stopped)
	s.wg.Wait()
	return s.events
}

// TestProductionCluster runs coursehook on the cluster compose describes,
// through the faults a production deployment meets, and checks that every
// event was answered 2xx (at once, or after a 503 and the platform's
// retries) and processed exactly once.
func TestProductionCluster(t *testing.T) {
	started := time.Now()
	tb := startDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// A webhook server and a worker that start before Temporal answers.
	web1 := tb.startWebhook("webhook-1")
	tb.startWorker("worker-1")
	early := post(web1, mustBody(t))
	require.NoError(t, early.err)
	require.Equal(t, http.StatusServiceUnavailable, early.status, "before Temporal answers: %v", early.body)
	require.NotEmpty(t, early.retryAfter, "a 503 says when to retry")
	requireReady(t, web1, http.StatusServiceUnavailable)

	require.NoError(t, tb.c.UpTemporal(ctx))
	eventually(t, time.Minute, "webhook-1's /readyz to turn 200 on its own", func() bool { return readyz(web1) == http.StatusOK })
	require.Regexp(t, `temporal not reachable yet|cannot check the search attributes yet|not registered`, tb.logOf("worker-1"),
		"the worker said why it waited")
	tb.startWorker("worker-2")
	web2 := tb.startWebhook("webhook-2")
	eventually(t, time.Minute, "webhook-2's /readyz to turn 200", func() bool { return readyz(web2) == http.StatusOK })
	t.Logf("cluster and coursehook up in %s", time.Since(started).Round(time.Second))

	s := startStream(t, 250*time.Millisecond, toEvery(web1, web2))
	s.progress(t, 5, time.Minute, "the start")

	injectFaults(t, ctx, tb, s)

	events := s.stop()
	t.Logf("%d events posted to both servers through the faults, %d deliveries answered 503 first", len(events), s.answered503())

	tc, err := client.Dial(client.Options{HostPort: tb.c.Frontend(), Namespace: "default"})
	require.NoError(t, err)
	defer tc.Close()
	requireProcessedOnce(t, ctx, tb, tc, events)
	requireVisible(t, ctx, tc, events)
	requireNamespaceJobIdempotent(t, ctx, tb, tc)
	requireProductionConfig(t, tb)
	t.Logf("the cluster test took %s", time.Since(started).Round(time.Second))
}

// injectFaults takes the cluster through one round of faults while s
// posts events, and waits after each until the cluster takes work again.
func injectFaults(t *testing.T, ctx context.Context, tb *testbed, s *stream) {
	t.Helper()
	// History: killed, so starts fail until it is back.
	before := s.answered503()
	kill(t, tb, "temporal-history")
	eventually(t, 30*time.Second, "a 503 while history is down", func() bool { return s.answered503() > before })
	require.NoError(t, tb.c.Restart("temporal-history"))
	s.progress(t, 5, 90*time.Second, "history restarted")

	// Matching: killed for a few seconds; the tasks it held are handed out
	// again once it is back.
	kill(t, tb, "temporal-matching")
	outage()
	require.NoError(t, tb.c.Restart("temporal-matching"))
	s.progress(t, 5, 90*time.Second, "matching restarted")

	// The frontend: stopped as a deploy stops it, and started again.
	p, err := tb.c.Process("temporal-frontend")
	require.NoError(t, err)
	require.NoError(t, p.Stop(20*time.Second))
	require.NoError(t, tb.c.Restart("temporal-frontend"))
	s.progress(t, 5, 90*time.Second, "the frontend restarted")

	// PostgreSQL: Temporal's persistence and coursehook's store, at once.
	require.NoError(t, tb.c.StopPostgres(ctx, "fast"))
	outage()
	require.NoError(t, tb.c.StartPostgres(ctx))
	s.progress(t, 5, 90*time.Second, "PostgreSQL restarted")
}

// outage is how long a killed or stopped dependency stays down: long
// enough for requests to fail against it, short enough for the suite.
func outage() { time.Sleep(3 * time.Second) }

// kill SIGKILLs one of the cluster's processes.
func kill(t *testing.T, tb *testbed, name string) {
	t.Helper()
	p, err := tb.c.Process(name)
	require.NoError(t, err)
	require.NoError(t, p.Kill())
}

func mustBody(t *testing.T) []byte {
	_, _, body := event(t, 0)
	return body
}

func readyz(url string) int {
	resp, err := httpClient.Get(url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func requireReady(t *testing.T, url string, want int) {
	t.Helper()
	require.Equal(t, want, readyz(url), "%s/readyz", url)
}

// requireProcessedOnce: every delivery succeeded; each event started once
// at most (a start whose answer was lost is answered "duplicate" on the
// retry); every workflow completed with its row; one Slack announcement (a
// message of its own, or a line in the digest its row names) and at least
// one email per event; no failed workflow. An email sent twice is
// SendGrid's window (docs/reliability.md, "Crash windows"): counted and printed, not
// failed.
func requireProcessedOnce(t *testing.T, ctx context.Context, tb *testbed, tc client.Client, events []*sent) {
	t.Helper()
	for _, e := range events {
		accepted := 0
		for i, d := range e.deliveries {
			require.True(t, d.succeeded(), "event %s at webhook server %d: %+v", e.id, i+1, d.attempts)
			for _, a := range d.attempts {
				if a.status == http.StatusAccepted {
					accepted++
				}
			}
		}
		require.LessOrEqual(t, accepted, 1, "event %s was started at most once", e.id)
	}
	r := judge(t, ctx, tb, tc, events)
	require.Zero(t, r.lost, "lost events")
	require.Zero(t, r.slackTwice, "events with two Slack notices")

	dbURL, err := tb.c.DatabaseURL()
	require.NoError(t, err)
	st, err := store.Open(ctx, dbURL)
	require.NoError(t, err)
	defer st.Close()
	n, err := st.Count(ctx)
	require.NoError(t, err)
	require.Equal(t, len(events), n, "one row per event")
	digests := map[string]bool{}
	for _, m := range tb.slack.Messages() {
		if meta, ok := m.Meta(); ok && meta.EventType == slacktest.DigestEventType {
			digests[m.TS] = true
		}
	}
	digested := 0
	for _, e := range events {
		rec, err := st.Get(ctx, e.id)
		require.NoError(t, err)
		switch rec.Receipts[workflows.StepNameSlack].Via {
		case workflows.AnnouncedMessage:
			require.Len(t, tb.slack.MessagesFor(e.id), 1, "one Slack message for %s", e.id)
		case workflows.AnnouncedDigest:
			require.Empty(t, tb.slack.MessagesFor(e.id), "%s was digested, not posted", e.id)
			require.True(t, digests[rec.Receipts[workflows.StepNameSlack].ID], "%s's row names its digest", e.id)
			digested++
		default:
			t.Fatalf("event %s: announcement %q", e.id, rec.Receipts[workflows.StepNameSlack].Via)
		}
		require.NotEmpty(t, tb.sendgrid.MessagesFor(e.id), "an email for %s", e.id)
	}
	failed, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "ExecutionStatus = 'Failed'"})
	require.NoError(t, err)
	require.Zero(t, failed.GetCount(), "no failed workflow")
	t.Logf("processed once (%d announced in a cohort digest, the rest in a message of their own):\n%s", digested, r)
}

// requireVisible finds the events on SQL visibility by the search
// attributes operators use.
func requireVisible(t *testing.T, ctx context.Context, tc client.Client, events []*sent) {
	t.Helper()
	course := events[0].course
	want := 0
	for _, e := range events {
		if e.course == course {
			want++
		}
	}
	query := fmt.Sprintf("CourseId = '%s' AND CompletionStatus = 'completed'", course)
	eventually(t, time.Minute, "visibility to list the course's events by CourseId and CompletionStatus", func() bool {
		resp, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		return err == nil && resp.GetCount() == int64(want)
	})
	resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query + " AND WorkflowId = '" + workflows.WorkflowID(events[0].id) + "'"})
	require.NoError(t, err)
	require.Len(t, resp.GetExecutions(), 1)
}

// requireNamespaceJobIdempotent runs compose's namespace job again: it
// finds everything in place and changes nothing.
func requireNamespaceJobIdempotent(t *testing.T, ctx context.Context, tb *testbed, tc client.Client) {
	t.Helper()
	list := func() *operatorservice.ListSearchAttributesResponse {
		resp, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
		require.NoError(t, err)
		return resp
	}
	before := list()
	for name, typ := range workflows.SearchAttributeTypes() {
		require.Equal(t, typ, before.GetCustomAttributes()[name], "search attribute %s on SQL visibility", name)
	}
	out, err := tb.c.CreateNamespace(ctx)
	require.NoError(t, err)
	require.Contains(t, out, "namespace default already exists")
	for name := range workflows.SearchAttributeTypes() {
		require.Contains(t, out, "search attribute "+name+" already exists")
	}
	require.Equal(t, before.GetCustomAttributes(), list().GetCustomAttributes())
}

// requireProductionConfig: the server that ran is the release compose
// pins, its config is the image's template rendered from compose's
// environment (PostgreSQL for persistence and visibility, compose's shard
// count), and the dynamic config passed the server's own check in Up.
func requireProductionConfig(t *testing.T, tb *testbed) {
	t.Helper()
	out, err := exec.Command(filepath.Join(repo, "bin", "temporal-server-"+deploytemporal.Version, "temporal-server"), "--version").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(out), deploytemporal.Version)

	rendered, err := os.ReadFile(tb.c.RenderedConfig())
	require.NoError(t, err)
	require.Len(t, regexp.MustCompile(`pluginName: postgres12\n`).FindAll(rendered, -1), 2, "persistence and visibility on postgres12:\n%s", rendered)
	env, err := tb.c.Compose().Env("temporal")
	require.NoError(t, err)
	require.NotEmpty(t, env["NUM_HISTORY_SHARDS"], "compose chooses the shard count")
	require.Contains(t, string(rendered), "numHistoryShards: "+env["NUM_HISTORY_SHARDS"]+"\n")
	require.Contains(t, tb.logOf("temporal-frontend"), deploytemporal.Version)
}
