// Package standin is the bookkeeping the local stand-ins for outside
// services (slacktest for Slack, sendgridtest for SendGrid) have in common,
// so that both record, fail, wait and stall the same way and a fix to one is
// a fix to both.
//
// A stand-in keeps its wire format, its checks and its exported API; it
// hands a Recorder every call to its main endpoint and every message it
// accepts, and asks it whether to fail and how long to hold the answer.
package standin

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// Recorder records the calls to one endpoint of a stand-in and the messages
// it accepted, answers them with scripted failures, holds successful answers
// back by a response delay, and wakes those held answers when the stand-in
// closes. M is the stand-in's record of an accepted message and F its
// scripted failure. Its methods are safe to call from any goroutine.
type Recorder[M, F any] struct {
	closeOnce sync.Once
	// closed wakes held answers when the stand-in stops, so Close does not
	// wait out a long response delay.
	closed chan struct{}

	mu       sync.Mutex
	messages []M
	attempts []time.Time
	queued   []F
	always   F
	failing  bool // always is in force
	delay    time.Duration
	// changed is closed and replaced on every accepted message, so waiters
	// wake on the event instead of polling.
	changed chan struct{}
}

// NewRecorder returns a Recorder with no calls, no messages, no scripted
// failures and no response delay.
func NewRecorder[M, F any]() *Recorder[M, F] {
	return &Recorder[M, F]{closed: make(chan struct{}), changed: make(chan struct{})}
}

// Attempt records a call arriving now and returns when, and the failure to
// answer it with: the first one FailNext queued, else the one FailAlways set.
// The time is taken under the lock, so AttemptTimes is in order.
func (r *Recorder[M, F]) Attempt() (at time.Time, f F, fail bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at = time.Now()
	r.attempts = append(r.attempts, at)
	if len(r.queued) > 0 {
		f = r.queued[0]
		r.queued = r.queued[1:]
		return at, f, true
	}
	return at, r.always, r.failing
}

// Attempts counts the calls Attempt recorded, failed ones included.
func (r *Recorder[M, F]) Attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.attempts)
}

// AttemptTimes returns when each call Attempt recorded arrived, oldest first.
func (r *Recorder[M, F]) AttemptTimes() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.attempts...)
}

// FailNext makes the next n calls fail with f. Calls to FailNext queue up in
// order, ahead of FailAlways; once the queue is used up, FailAlways decides.
func (r *Recorder[M, F]) FailNext(n int, f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range n {
		r.queued = append(r.queued, f)
	}
}

// FailAlways makes every call fail with f once the FailNext queue is used
// up, until ClearFailAlways. Any f counts, its zero value included: a
// stand-in whose zero failure means "stop failing" calls ClearFailAlways for
// it instead.
func (r *Recorder[M, F]) FailAlways(f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.always, r.failing = f, true
}

// ClearFailAlways undoes FailAlways; queued failures stay.
func (r *Recorder[M, F]) ClearFailAlways() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var zero F
	r.always, r.failing = zero, false
}

// Accept stores the message build returns and wakes Wait. build runs under
// the lock with the message's 1-based sequence number, so an id made from it
// is unique and in the order Messages lists.
func (r *Recorder[M, F]) Accept(build func(seq int) M) M {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := build(len(r.messages) + 1)
	r.messages = append(r.messages, m)
	close(r.changed)
	r.changed = make(chan struct{})
	return m
}

// Messages returns the accepted messages, oldest first.
func (r *Recorder[M, F]) Messages() []M {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]M(nil), r.messages...)
}

// Wait waits until at least n messages were accepted and returns them with
// ok true, or, once timeout has passed, the ones there are with ok false. It
// wakes on each accepted message rather than polling.
func (r *Recorder[M, F]) Wait(n int, timeout time.Duration) (msgs []M, ok bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		msgs, changed := append([]M(nil), r.messages...), r.changed
		r.mu.Unlock()
		if len(msgs) >= n {
			return msgs, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return msgs, false
		}
	}
}

// WaitForMessages is Wait for a test: on timeout it fails t with format,
// given the number of messages, timeout, n and the number of attempts, and
// returns nil. Call it from the test's goroutine.
func (r *Recorder[M, F]) WaitForMessages(t testing.TB, n int, timeout time.Duration, format string) []M {
	t.Helper()
	msgs, ok := r.Wait(n, timeout)
	if !ok {
		t.Fatalf(format, len(msgs), timeout, n, r.Attempts())
		return nil
	}
	return msgs
}

// SetResponseDelay makes Stall hold answers back by d; zero turns it off.
func (r *Recorder[M, F]) SetResponseDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = d
}

// Stall waits out the response delay before a handler answers req. When the
// client hangs up or the stand-in closes first, it drops the connection
// without an answer, as a stalled server would: returning from the handler
// would send an empty 200.
func (r *Recorder[M, F]) Stall(req *http.Request) {
	r.mu.Lock()
	d := r.delay
	r.mu.Unlock()
	r.stall(req, d)
}

// Hold takes the response delay in force now, before a handler records
// the message, and returns the wait for it. A test that turns the delay
// off as soon as it sees the message must not race the handler out of
// the wait the message was posted under.
func (r *Recorder[M, F]) Hold() func(*http.Request) {
	r.mu.Lock()
	d := r.delay
	r.mu.Unlock()
	return func(req *http.Request) { r.stall(req, d) }
}

func (r *Recorder[M, F]) stall(req *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return
	case <-req.Context().Done():
	case <-r.closed:
	}
	panic(http.ErrAbortHandler)
}

// Close wakes every stalled answer and then runs stop, which shuts the
// stand-in's server down; the order matters, as an httptest.Server's Close
// waits for its handlers. Only the first call does anything.
func (r *Recorder[M, F]) Close(stop func()) {
	r.closeOnce.Do(func() {
		close(r.closed)
		if stop != nil {
			stop()
		}
	})
}
