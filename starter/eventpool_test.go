package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/devserver"
	"github.com/coursehook/coursehook/internal/syncbuf"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/workflows"
)

// gate stands in for the webhook handler: an event request reads its body,
// says it has entered, and waits for a release before it echoes the body
// with 202; any other request is answered 200 at once.
type gate struct {
	entered chan struct{}
	release chan struct{}
	// inside and most count the event requests in the handler now and at
	// most.
	inside, most atomic.Int32
	// calls counts every event request the handler saw.
	calls atomic.Int32
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 100), release: make(chan struct{}, 100)}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isEventRequest(r) {
		w.WriteHeader(http.StatusOK)
		return
	}
	g.calls.Add(1)
	n := g.inside.Add(1)
	defer g.inside.Add(-1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Header.Get("X-Panic") != "" {
		panic("handler failed")
	}
	g.entered <- struct{}{}
	<-g.release
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body)
}

// poolServer serves the pool over real HTTP (a worker writes the answer of
// another goroutine's connection) and counts the requests that reached it;
// g is the gate behind the pool.
func poolServer(t *testing.T, p *eventPool, g *gate, readTimeout time.Duration) (url string, arrived *atomic.Int32) {
	t.Helper()
	arrived = &atomic.Int32{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		p.ServeHTTP(w, r)
	}))
	srv.Config.ReadTimeout = readTimeout
	// A handler's panic is logged by net/http; the test expects one.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	// Cleanups run last first: the gate lets go of whatever a failed test
	// left in the handler, the server waits for its requests, then the
	// workers stop, as in run.
	t.Cleanup(p.Close)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(g.release) })
	return srv.URL, arrived
}

// waitCount is how many waits the pool's histogram has recorded.
func waitCount(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "coursehook_webhook_queue_wait_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no coursehook_webhook_queue_wait_seconds")
	return 0
}

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

type answer struct {
	code       int
	body       string
	retryAfter string
	err        error
}

// poolHTTP gives up after 10 s, so that a pool that holds a request it
// should not fails the test instead of hanging it.
var poolHTTP = &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}

func postBody(url, body string) answer {
	return answerOf(poolHTTP.Post(url+webhook.Path, "application/json", strings.NewReader(body)))
}

func answerOf(resp *http.Response, err error) answer {
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After"), err: err}
}

// within waits for n receives on c, failing the test after d.
func within(t *testing.T, d time.Duration, c <-chan struct{}, n int, what string) {
	t.Helper()
	timeout := time.After(d)
	for i := range n {
		select {
		case <-c:
		case <-timeout:
			t.Fatalf("%s: %d of %d within %s", what, i, n, d)
		}
	}
}

// TestEventPoolBoundsTheRequestsInFlight: with two workers, six concurrent
// events are worked on two at a time; the other four wait, and once the
// handler lets go every one is answered with its own body: nothing lost,
// nothing crossed.
func TestEventPoolBoundsTheRequestsInFlight(t *testing.T) {
	t.Parallel()
	g := newGate()
	reg := prometheus.NewRegistry()
	p := newEventPool(g, nil, 2, 10*time.Second, 0, quietLog(), reg)
	url, arrived := poolServer(t, p, g, 0)

	const events = 6
	answers := make(chan answer, events)
	for i := range events {
		go func() { answers <- postBody(url, fmt.Sprintf(`{"id":"event-%d"}`, i)) }()
	}
	within(t, 10*time.Second, g.entered, 2, "events entering the handler")
	eventually(t, 10*time.Second, func() bool { return arrived.Load() == events },
		func() string { return fmt.Sprintf("%d of %d requests arrived", arrived.Load(), events) })
	require.EqualValues(t, 2, g.inside.Load(), "every request has arrived, and only two are in the handler")

	got := map[string]bool{}
	for i := range events {
		g.release <- struct{}{}
		a := <-answers
		require.NoError(t, a.err)
		require.Equal(t, http.StatusAccepted, a.code, a.body)
		got[a.body] = true
		if i < events-2 {
			// Each answer frees a worker for one of those waiting.
			within(t, 10*time.Second, g.entered, 1, "a waiting event entering the handler")
		}
	}
	for i := range events {
		require.True(t, got[fmt.Sprintf(`{"id":"event-%d"}`, i)], "event-%d answered with its own body", i)
	}
	require.EqualValues(t, 2, g.most.Load(), "never more events in the handler than workers")
	require.EqualValues(t, events, g.calls.Load())
	require.Zero(t, testutil.ToFloat64(p.timeouts))
	require.EqualValues(t, events, waitCount(t, reg), "every event's wait is recorded")
}

// TestEventPoolAnswers503AtTheDeadline: an event that finds no free worker
// before the start timeout is answered 503 with Retry-After, as a start that
// timed out is, and never reaches the handler; the one in the handler is
// still answered, and its context carries the same deadline.
func TestEventPoolAnswers503AtTheDeadline(t *testing.T) {
	t.Parallel()
	var deadline time.Time
	var mu sync.Mutex
	g := newGate()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deadline, _ = r.Context().Deadline()
		mu.Unlock()
		g.ServeHTTP(w, r)
	})
	const timeout = 300 * time.Millisecond
	p := newEventPool(h, nil, 1, timeout, 0, quietLog(), nil)
	url, _ := poolServer(t, p, g, 0)

	began := time.Now()
	first := make(chan answer, 1)
	go func() { first <- postBody(url, `{"id":"first"}`) }()
	within(t, 10*time.Second, g.entered, 1, "the first event entering the handler")

	second := postBody(url, `{"id":"second"}`)
	require.NoError(t, second.err)
	require.Equal(t, http.StatusServiceUnavailable, second.code)
	require.Equal(t, "30", second.retryAfter)
	require.JSONEq(t, `{"error":"too many events in flight; the event was not accepted, retry later"}`, second.body)
	require.EqualValues(t, 1, testutil.ToFloat64(p.timeouts))

	g.release <- struct{}{}
	a := <-first
	require.NoError(t, a.err)
	require.Equal(t, http.StatusAccepted, a.code)
	require.EqualValues(t, 1, g.calls.Load(), "the event answered 503 was never started")
	mu.Lock()
	defer mu.Unlock()
	require.False(t, deadline.IsZero(), "the handler's context has the deadline")
	require.WithinRange(t, deadline, began, began.Add(timeout+time.Second), "the wait and the start share one deadline")
}

// TestEventPoolGivesTheBodyItsReadTimeoutAfterTheWait: an event that waited
// longer than the server's ReadTimeout still has that long to send its body
// once a worker takes it. The body is larger than what arrives with the
// headers, so reading it goes to the connection and its deadline.
func TestEventPoolGivesTheBodyItsReadTimeoutAfterTheWait(t *testing.T) {
	t.Parallel()
	const readTimeout = 200 * time.Millisecond
	g := newGate()
	p := newEventPool(g, nil, 1, 10*time.Second, readTimeout, quietLog(), nil)
	url, arrived := poolServer(t, p, g, readTimeout)

	first := make(chan answer, 1)
	go func() { first <- postBody(url, `{"id":"first"}`) }()
	within(t, 10*time.Second, g.entered, 1, "the first event entering the handler")
	big := `{"id":"second","pad":"` + strings.Repeat("x", 256<<10) + `"}`
	second := make(chan answer, 1)
	go func() { second <- postBody(url, big) }()
	eventually(t, 10*time.Second, func() bool { return arrived.Load() == 2 }, func() string { return "the second event did not arrive" })
	// The one timer of the test: the second event must wait past the
	// server's ReadTimeout, which is what is tested.
	<-time.After(3 * readTimeout)

	g.release <- struct{}{}
	require.Equal(t, http.StatusAccepted, (<-first).code)
	g.release <- struct{}{}
	a := <-second
	require.NoError(t, a.err)
	require.Equal(t, http.StatusAccepted, a.code, "the body was read in full: %.80s", a.body)
	require.Equal(t, big, a.body)
}

// TestEventPoolPanicStaysWithItsRequest: a handler's panic ends its own
// request, as net/http does for any handler, and the worker goes on.
func TestEventPoolPanicStaysWithItsRequest(t *testing.T) {
	t.Parallel()
	g := newGate()
	p := newEventPool(g, nil, 1, 10*time.Second, 0, quietLog(), nil)
	url, _ := poolServer(t, p, g, 0)

	req, err := http.NewRequest(http.MethodPost, url+webhook.Path, strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("X-Panic", "1")
	_, err = poolHTTP.Do(req)
	require.Error(t, err, "net/http drops the connection of a request whose handler panicked")

	g.release <- struct{}{}
	a := postBody(url, `{"id":"after"}`)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusAccepted, a.code, "the one worker still serves")
}

// TestOtherRoutesDoNotWait: with the only worker busy, health checks and
// every other route are answered at once.
func TestOtherRoutesDoNotWait(t *testing.T) {
	t.Parallel()
	g := newGate()
	p := newEventPool(g, nil, 1, 10*time.Second, 0, quietLog(), nil)
	url, _ := poolServer(t, p, g, 0)
	held := make(chan answer, 1)
	go func() { held <- postBody(url, `{"id":"held"}`) }()
	within(t, 10*time.Second, g.entered, 1, "the event entering the handler")

	resp, err := poolHTTP.Get(url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = poolHTTP.Post(url+"/webhooks/sendgrid", "application/json", bytes.NewReader([]byte(`[]`)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	g.release <- struct{}{}
	require.Equal(t, http.StatusAccepted, (<-held).code)
}

// TestRefusalsDoNotWaitForAWorker: with every worker held, an event the
// webhook refuses unread (a source it does not allow, a missing or wrong
// token) is answered its 403 or 401 at once, with its JSON naming the
// problem, instead of waiting for a worker and getting 503; it never
// reaches a worker, and is logged and counted once. An event that passes
// the checks still waits for a worker.
func TestRefusalsDoNotWaitForAWorker(t *testing.T) {
	t.Parallel()
	const secret = "pool-secret-0123456789"
	reg := prometheus.NewRegistry()
	logs := &syncbuf.Buffer{}
	hook := webhook.New(nil, slog.New(slog.NewJSONHandler(logs, nil)), webhook.Options{
		AllowedSources: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")},
		// The test's connections all come from loopback; as a trusted
		// proxy, its X-Forwarded-For says who sends each one.
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Secret:         secret,
		Metrics:        webhook.NewMetrics(reg),
	})
	g := newGate()
	// Shorter than poolHTTP's 10 s: a refusal left to wait would be
	// answered 503 rather than hang the test.
	const timeout = 5 * time.Second
	p := newEventPool(g, hook.Admit, 2, timeout, 0, quietLog(), reg)
	url, arrived := poolServer(t, p, g, 0)
	const platform = "192.0.2.1"
	tokenPath := webhook.Path + "/" + secret

	answers := make(chan answer, 3)
	for i := range 2 {
		go func() { answers <- postFrom(url, tokenPath, platform, fmt.Sprintf(`{"id":"held-%d"}`, i)) }()
	}
	within(t, 10*time.Second, g.entered, 2, "events taking both workers")

	for _, c := range []struct {
		name, target, from string
		code               int
		problem            string
	}{
		{"a source not allowed", tokenPath, "203.0.113.9", http.StatusForbidden, "source not allowed"},
		{"no token", webhook.Path, platform, http.StatusUnauthorized, "missing webhook token"},
		{"a wrong token", webhook.Path + "/wrong-secret-0123456789", platform, http.StatusUnauthorized, "wrong webhook token"},
	} {
		began := time.Now()
		a := postFrom(url, c.target, c.from, `{"id":"refused"}`)
		require.NoError(t, a.err, c.name)
		require.Equal(t, c.code, a.code, "%s: %s", c.name, a.body)
		require.Less(t, time.Since(began), timeout, "%s: answered without waiting for a worker", c.name)
		var body struct{ Error string }
		require.NoError(t, json.Unmarshal([]byte(a.body), &body), c.name)
		require.Contains(t, body.Error, c.problem, c.name)
		require.Empty(t, a.retryAfter, c.name)
		require.EqualValues(t, 2, g.inside.Load(), "%s: answered while both workers were still held", c.name)
	}
	require.EqualValues(t, 2, g.calls.Load(), "no refusal reached a worker")
	require.EqualValues(t, 2, waitCount(t, reg), "no refusal waited")

	go func() { answers <- postFrom(url, tokenPath, platform, `{"id":"waiting"}`) }()
	eventually(t, 10*time.Second, func() bool { return arrived.Load() == 6 },
		func() string { return fmt.Sprintf("%d of 6 requests arrived", arrived.Load()) })
	require.EqualValues(t, 2, g.calls.Load(), "an event that passes waits while the workers are held")
	g.release <- struct{}{}
	within(t, 10*time.Second, g.entered, 1, "the waiting event taking the freed worker")
	g.release <- struct{}{}
	g.release <- struct{}{}
	for range 3 {
		a := <-answers
		require.NoError(t, a.err)
		require.Equal(t, http.StatusAccepted, a.code, a.body)
	}
	require.EqualValues(t, 3, waitCount(t, reg))
	require.Zero(t, testutil.ToFloat64(p.timeouts))

	// Each refusal logged and counted once, as the router alone would have.
	require.Equal(t, 1, strings.Count(logs.String(), `"msg":"source refused"`), logs.String())
	require.Equal(t, 2, strings.Count(logs.String(), `"msg":"webhook token refused"`), logs.String())
	tokenRoute := "route=" + webhook.Path + "/:token"
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"coursehook_webhook_rejections_total", []string{"reason=source"}, 1},
		{"coursehook_webhook_rejections_total", []string{"reason=secret"}, 2},
		{"coursehook_webhook_requests_total", []string{"code=403", tokenRoute}, 1},
		{"coursehook_webhook_requests_total", []string{"code=401", "route=" + webhook.Path}, 1},
		{"coursehook_webhook_requests_total", []string{"code=401", tokenRoute}, 1},
		{"coursehook_webhook_ack_duration_seconds", []string{tokenRoute}, 2},
		{"coursehook_webhook_ack_duration_seconds", []string{"route=" + webhook.Path}, 1},
	} {
		require.Equal(t, c.want, metric(t, reg, c.name, c.labels...), "%s%v", c.name, c.labels)
	}
}

// TestRunRefusesBeforeThePool: run puts the webhook's checks in front of
// the pool, so an event from a source it does not allow never waits for a
// worker, and is counted once.
func TestRunRefusesBeforeThePool(t *testing.T) {
	t.Parallel()
	addr, logs := serve(t, map[string]string{})
	require.Equal(t, http.StatusForbidden, post(t, "http://"+addr+webhook.Path))
	resp, err := poolHTTP.Get("http://" + listening(t, logs, "admin server") + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for _, line := range []string{
		"coursehook_webhook_queue_wait_seconds_count 0",
		`coursehook_webhook_rejections_total{reason="source"} 1`,
		`coursehook_webhook_requests_total{code="403",route="/webhooks/events"} 1`,
	} {
		require.True(t, strings.Contains(string(metrics), line+"\n"), "no %s in the metrics", line)
	}
}

// postFrom posts body to target as a trusted proxy forwarding from.
func postFrom(url, target, from, body string) answer {
	req, err := http.NewRequest(http.MethodPost, url+target, strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", from)
	return answerOf(poolHTTP.Do(req))
}

// metric is reg's series of name with labels (name=value, in the order of
// their names): a counter's value, or a histogram's number of observations;
// 0 when there is none.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			if mf.GetName() != name || !slices.Equal(got, labels) {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestIsEventRequest(t *testing.T) {
	for _, c := range []struct {
		method, path string
		event        bool
	}{
		{http.MethodPost, webhook.Path, true},
		{http.MethodPost, webhook.Path + "/a-secret-token", true},
		{http.MethodGet, webhook.Path, false},
		{http.MethodPost, webhook.Path + "x", false},
		{http.MethodPost, "/healthz", false},
		{http.MethodPost, "/webhooks/sendgrid", false},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		require.Equal(t, c.event, isEventRequest(r), "%s %s", c.method, c.path)
	}
}

// TestEventsBeyondTheWorkersAreAllStarted: the real webhook server, on a
// dev server, takes three times as many concurrent events as it has
// workers; every one is answered 202 and its workflow exists, and every one
// went through the pool.
func TestEventsBeyondTheWorkersAreAllStarted(t *testing.T) {
	t.Parallel()
	srv, err := devserver.Start(t.Context(), devserver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	addr, logs := serveWith(t, map[string]string{
		"HTTP_ADDR":           "127.0.0.1:0",
		"ADMIN_ADDR":          "127.0.0.1:0",
		"TEMPORAL_ADDRESS":    srv.FrontendHostPort(),
		"TEMPORAL_TASK_QUEUE": "starter-pool-" + uuid.NewString()[:8],
		"ALLOWED_SOURCE_IPS":  "127.0.0.1,::1",
		"DEAD_LETTER_DIR":     t.TempDir(),
	})
	sample, err := os.ReadFile("../testdata/course-completion.json")
	require.NoError(t, err)
	var ev struct{ ID string }
	require.NoError(t, json.Unmarshal(sample, &ev))

	n := 3 * eventWorkers
	ids := make([]string, n)
	answers := make(chan answer, n)
	for i := range ids {
		ids[i] = uuid.NewString()
		body := strings.Replace(string(sample), ev.ID, ids[i], 1)
		go func() { answers <- postBody("http://"+addr, body) }()
	}
	accepted := map[string]bool{}
	for range n {
		a := <-answers
		require.NoError(t, a.err)
		require.Equal(t, http.StatusAccepted, a.code, "%s\nlogs:\n%s", a.body, logs.String())
		var got struct{ Status, EventID string }
		require.NoError(t, json.Unmarshal([]byte(a.body), &got))
		require.Equal(t, webhook.StatusAccepted, got.Status)
		accepted[got.EventID] = true
	}
	for _, id := range ids {
		require.True(t, accepted[id], "event %s accepted", id)
		_, err := srv.Client().DescribeWorkflow(t.Context(), workflows.WorkflowID(id), "")
		require.NoError(t, err, "the workflow of event %s", id)
	}

	resp, err := poolHTTP.Get("http://" + listening(t, logs, "admin server") + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(metrics), fmt.Sprintf("coursehook_webhook_queue_wait_seconds_count %d\n", n))
	require.Contains(t, string(metrics), "coursehook_webhook_queue_timeouts_total 0\n")
}
