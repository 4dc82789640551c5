package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coursehook/coursehook/webhook"
)

// eventWorkers is how many event requests the webhook server works on at
// once; the others wait for one of them to finish.
//
// Each request in flight holds a goroutine whose stack grows to 64-128 KB on
// its way through gin, the SDK's interceptors and gRPC, and keeps it while it
// waits on Temporal. net/http runs every connection on a goroutine of its
// own, so 200 concurrent senders meant 200 such stacks: 22 MB at the peak of
// a 5,000-event burst, and the collector's heap goal grows with the stacks.
// More starts in flight do not make Temporal answer sooner: the bench's
// ceiling, with 32 callers, starts at least as many workflows a second as
// the burst's 200 senders got accepted, and past that the extra starts only
// queue inside Temporal instead of here. 32 starts of 50 ms each, a fast
// server's, still take 640 events a second through one webhook server.
const eventWorkers = 32

// busyRetryAfter is the Retry-After of a 503 for an event that found no free
// worker in time: the webhook's own for a failed start (its default), as both
// mean "not accepted, deliver it again".
const busyRetryAfter = 30 * time.Second

// eventPool runs the platform's event requests on a fixed set of long-lived
// goroutines and makes the others wait for a free one, their bodies still
// unread. A waiting request costs its connection's shallow goroutine; only
// the workers grow deep stacks, and they keep them from one request to the
// next instead of each request growing new ones.
//
// The wait counts against the start timeout: a request gets one deadline,
// its arrival plus the timeout, for its wait and its start together, so the
// platform still has an answer within TEMPORAL_START_TIMEOUT when Temporal is
// slow or down. A request still waiting at its deadline is answered 503 with
// Retry-After, as a start that timed out is; nothing was started for it, and
// the platform delivers it again (any answer outside 200-308 is a failed
// attempt; it makes ten in all, over about 3.5 h).
//
// An event request meets the webhook's body-free checks (source, route,
// token, headers: webhook.Server.Admit) before it waits, on its own
// goroutine. One they refuse is answered 403, 404, 401, 415 or 413 at
// once, as the router would have: waiting, it would take a worker and
// queue time from the platform's events, and under a burst be answered 503
// instead of its refusal. Only a request they pass waits for a worker.
//
// Other routes (health, readiness, the verification pages, SendGrid's
// events) do not wait: a health check must not queue behind a burst.
//
// Unlike the worker, the webhook server sets no soft memory limit: with the
// pool, its peak is the binary's own pages, the open connections and the
// workers' requests, none of which a collection frees (GOMEMLIMIT=32MiB
// moved a 5,000-event burst's peak by under 1 MB, and cost processor time).
type eventPool struct {
	next http.Handler
	// events is where an event request goes: the queue, behind the
	// checks it was given.
	events  http.Handler
	size    int
	timeout time.Duration
	// readTimeout restarts the server's ReadTimeout when a worker takes a
	// request, so that a long wait does not use up the time its body has to
	// arrive. Zero leaves the server's deadline alone.
	readTimeout time.Duration
	log         *slog.Logger
	// jobs is unbuffered: a request is handed over only to a worker that
	// takes it, so a request that gives up was never started.
	jobs    chan *eventJob
	stop    chan struct{}
	workers sync.WaitGroup

	wait     prometheus.Histogram
	timeouts prometheus.Counter
}

// eventJob is one request handed to a worker. done carries what the handler
// panicked with back to the request's own goroutine, or nil.
type eventJob struct {
	w    http.ResponseWriter
	r    *http.Request
	done chan any
}

// newEventPool starts size workers serving next, until Close. An event
// request meets admit's checks before it waits for one; nil admits every
// request. Its metrics go to reg when it is not nil.
func newEventPool(next http.Handler, admit func(http.Handler) http.Handler, size int, timeout, readTimeout time.Duration, log *slog.Logger, reg prometheus.Registerer) *eventPool {
	p := &eventPool{
		next: next, size: size, timeout: timeout, readTimeout: readTimeout, log: log,
		jobs: make(chan *eventJob), stop: make(chan struct{}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "coursehook_webhook_queue_wait_seconds",
			Help: "Time an event waited for a free worker; coursehook_webhook_ack_duration_seconds starts after it.",
			// From no wait to the 5 s start bound.
			Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coursehook_webhook_queue_timeouts_total",
			Help: "Events answered 503 because no worker was free within the start timeout.",
		}),
	}
	if reg != nil {
		reg.MustRegister(p.wait, p.timeouts)
	}
	p.events = http.HandlerFunc(p.queue)
	if admit != nil {
		p.events = admit(p.events)
	}
	for range size {
		p.workers.Go(p.work)
	}
	return p
}

func (p *eventPool) work() {
	for {
		select {
		case j := <-p.jobs:
			if p.readTimeout > 0 {
				// Not every ResponseWriter has a connection to set it
				// on; the server's own deadline then stands.
				_ = http.NewResponseController(j.w).SetReadDeadline(time.Now().Add(p.readTimeout))
			}
			j.done <- serveRecovered(p.next, j.w, j.r)
		case <-p.stop:
			return
		}
	}
}

// serveRecovered serves one request and returns what it panicked with, to be
// raised again on the request's own goroutine, where net/http recovers it
// for that connection alone; a panic on a worker would end the process.
func serveRecovered(h http.Handler, w http.ResponseWriter, r *http.Request) (panicked any) {
	defer func() { panicked = recover() }()
	h.ServeHTTP(w, r)
	return nil
}

// ServeHTTP hands an event request that passes its checks to a worker and
// waits until it has been answered; any other request is served at once.
func (p *eventPool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isEventRequest(r) {
		p.next.ServeHTTP(w, r)
		return
	}
	p.events.ServeHTTP(w, r)
}

// queue hands an event request to a worker and waits until it has been
// answered.
func (p *eventPool) queue(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	j := &eventJob{w: w, r: r.WithContext(ctx), done: make(chan any, 1)}
	select {
	case p.jobs <- j:
		p.wait.Observe(time.Since(arrived).Seconds())
	case <-ctx.Done():
		p.busy(w, r)
		return
	}
	// The worker owns w until it sends on done, and this may not return
	// before then: net/http reuses w once it has.
	if v := <-j.done; v != nil {
		panic(v)
	}
}

// busy answers a request that found no free worker before its deadline.
func (p *eventPool) busy(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() != nil {
		// The sender hung up; nobody reads an answer.
		return
	}
	p.timeouts.Inc()
	// The body is unread, so the event id is unknown; the route is the
	// pattern, since the path may hold the secret.
	p.log.Warn("no free worker within the start timeout; answering 503 for the platform to retry",
		"route", webhook.Path, "workers", p.size, "timeout", p.timeout.String())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Retry-After", strconv.Itoa(int(busyRetryAfter.Seconds())))
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":"too many events in flight; the event was not accepted, retry later"}`))
}

// Close stops the workers. It is called once the servers have shut down:
// a request still waiting then would find none.
func (p *eventPool) Close() {
	close(p.stop)
	p.workers.Wait()
}

// isEventRequest reports whether r is the platform posting an event, to the
// bare path or with its token as one more segment.
func isEventRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.URL.Path == webhook.Path || strings.HasPrefix(r.URL.Path, webhook.Path+"/"))
}
