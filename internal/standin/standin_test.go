package standin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/standin"
)

// testHTTP has a transport of its own. httptest.Server.Close closes the idle
// connections of http.DefaultTransport, which can break a request another
// parallel test is just sending on it.
var testHTTP = &http.Client{Transport: &http.Transport{}}

// echo is the smallest stand-in: it records a POST's body as the message,
// answers a scripted failure with that status, and "ok" otherwise.
type echo struct {
	srv *httptest.Server
	rec *standin.Recorder[string, int]
}

func newEcho(t testing.TB) *echo {
	t.Helper()
	e := &echo{rec: standin.NewRecorder[string, int]()}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, status, fail := e.rec.Attempt(); fail {
			w.WriteHeader(status)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		e.rec.Accept(func(int) string { return string(body) })
		e.rec.Stall(r)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echo) SetResponseDelay(d time.Duration) { e.rec.SetResponseDelay(d) }
func (e *echo) Close()                           { e.rec.Close(e.srv.Close) }

func (e *echo) WaitForMessages(t testing.TB, n int, timeout time.Duration) []string {
	t.Helper()
	return e.rec.WaitForMessages(t, n, timeout, "echo: %d messages after %s, want %d (%d attempts)")
}

func (e *echo) send(ctx context.Context, body string) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// next takes one call and reports the failure it was answered with, or 0.
func next(rec *standin.Recorder[string, int]) int {
	_, f, fail := rec.Attempt()
	if !fail {
		return 0
	}
	return f
}

func TestScriptedFailures(t *testing.T) {
	t.Parallel()
	rec := standin.NewRecorder[string, int]()
	require.Zero(t, next(rec), "no failure until one is scripted")

	rec.FailNext(2, 500)
	rec.FailNext(1, 429)
	rec.FailNext(0, 418)
	rec.FailNext(-1, 418)
	require.Equal(t, []int{500, 500, 429, 0}, []int{next(rec), next(rec), next(rec), next(rec)}, "queued in order, then used up")

	rec.FailAlways(503)
	rec.FailNext(1, 400)
	require.Equal(t, []int{400, 503, 503}, []int{next(rec), next(rec), next(rec)}, "queued failures come before the standing one")

	rec.FailNext(1, 400)
	rec.ClearFailAlways()
	require.Equal(t, []int{400, 0}, []int{next(rec), next(rec)}, "clearing keeps the queue")

	require.Equal(t, 10, rec.Attempts())
	times := rec.AttemptTimes()
	require.Len(t, times, 10)
	for i := 1; i < len(times); i++ {
		require.False(t, times[i].Before(times[i-1]), "attempt times are in order")
	}
}

func TestFailAlwaysTakesZero(t *testing.T) {
	t.Parallel()
	type failure struct{ status int }
	rec := standin.NewRecorder[string, failure]()
	rec.FailAlways(failure{})
	_, f, fail := rec.Attempt()
	require.True(t, fail, "a zero failure is still a failure; the stand-in decides what zero means")
	require.Zero(t, f.status)

	rec.ClearFailAlways()
	_, _, fail = rec.Attempt()
	require.False(t, fail)
}

func TestAttemptTime(t *testing.T) {
	t.Parallel()
	rec := standin.NewRecorder[string, int]()
	before := time.Now()
	at, _, _ := rec.Attempt()
	require.False(t, at.Before(before))
	require.Equal(t, []time.Time{at}, rec.AttemptTimes())
}

func TestAccept(t *testing.T) {
	t.Parallel()
	rec := standin.NewRecorder[string, int]()
	require.Nil(t, rec.Messages())

	got := rec.Accept(func(seq int) string { return fmt.Sprint("m", seq) })
	require.Equal(t, "m1", got)
	rec.Accept(func(seq int) string { return fmt.Sprint("m", seq) })

	msgs := rec.Messages()
	require.Equal(t, []string{"m1", "m2"}, msgs)
	msgs[0] = "changed"
	require.Equal(t, []string{"m1", "m2"}, rec.Messages(), "Messages returns a copy")
	require.Zero(t, rec.Attempts(), "accepting is not an attempt")
}

func TestAcceptConcurrently(t *testing.T) {
	t.Parallel()
	rec := standin.NewRecorder[int, int]()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { rec.Accept(func(seq int) int { return seq }) })
	}
	wg.Wait()
	msgs := rec.Messages()
	require.Len(t, msgs, 50)
	for i, seq := range msgs {
		require.Equal(t, i+1, seq, "sequence numbers are unique and in the order Messages lists")
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	t.Run("already there", func(t *testing.T) {
		t.Parallel()
		rec := standin.NewRecorder[string, int]()
		rec.Accept(func(int) string { return "a" })
		msgs, ok := rec.Wait(1, 0)
		require.True(t, ok)
		require.Equal(t, []string{"a"}, msgs)
	})
	t.Run("wakes on arrival", func(t *testing.T) {
		t.Parallel()
		rec := standin.NewRecorder[string, int]()
		go func() {
			for _, m := range []string{"a", "b"} {
				time.Sleep(20 * time.Millisecond)
				rec.Accept(func(int) string { return m })
			}
		}()
		start := time.Now()
		msgs, ok := rec.Wait(2, time.Minute)
		require.True(t, ok)
		require.Equal(t, []string{"a", "b"}, msgs)
		require.Less(t, time.Since(start), 30*time.Second, "Wait returns on the message, not the timeout")
	})
	t.Run("times out", func(t *testing.T) {
		t.Parallel()
		rec := standin.NewRecorder[string, int]()
		rec.Accept(func(int) string { return "a" })
		start := time.Now()
		msgs, ok := rec.Wait(2, 50*time.Millisecond)
		require.False(t, ok)
		require.Equal(t, []string{"a"}, msgs, "what arrived so far")
		require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	})
}

func TestClose(t *testing.T) {
	t.Parallel()
	rec := standin.NewRecorder[string, int]()
	stops := 0
	rec.Close(func() { stops++ })
	rec.Close(func() { stops++ })
	require.Equal(t, 1, stops, "only the first Close stops the server")

	standin.NewRecorder[string, int]().Close(nil)
}

func TestWaitForMessages(t *testing.T) {
	t.Parallel()
	rec := standin.NewRecorder[string, int]()
	go rec.Accept(func(int) string { return "a" })
	require.Equal(t, []string{"a"}, rec.WaitForMessages(t, 1, time.Minute, "%d messages after %s, want %d (%d attempts)"))
}

func TestStall(t *testing.T) {
	t.Parallel()
	const delay = 100 * time.Millisecond
	tests := []struct {
		name  string
		delay time.Duration
		// end cuts the wait short before Stall is called, or is nil.
		end func(rec *standin.Recorder[string, int], cancel context.CancelFunc)
		// Stall takes from fastest to slowest; aborts says it drops the
		// connection rather than letting the handler answer.
		fastest, slowest time.Duration
		aborts           bool
	}{
		{name: "no delay", slowest: delay},
		{name: "delay", delay: delay, fastest: delay, slowest: time.Minute},
		{name: "client hung up", delay: time.Hour, end: func(_ *standin.Recorder[string, int], cancel context.CancelFunc) { cancel() }, slowest: time.Minute, aborts: true},
		{name: "stand-in closed", delay: time.Hour, end: func(rec *standin.Recorder[string, int], _ context.CancelFunc) { rec.Close(nil) }, slowest: time.Minute, aborts: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := standin.NewRecorder[string, int]()
			rec.SetResponseDelay(tt.delay)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.end != nil {
				tt.end(rec, cancel)
			}
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
			start := time.Now()
			stall := func() { rec.Stall(req) }
			if tt.aborts {
				require.PanicsWithValue(t, http.ErrAbortHandler, stall)
			} else {
				require.NotPanics(t, stall)
			}
			took := time.Since(start)
			require.GreaterOrEqual(t, took, tt.fastest)
			require.Less(t, took, tt.slowest)
		})
	}
}

// TestDelayEndsEarly runs the stand-ins' shared check on the smallest one,
// through a real HTTP server.
func TestDelayEndsEarly(t *testing.T) {
	t.Parallel()
	standin.CheckDelayEndsEarly[string](t, newEcho, func(ctx context.Context, e *echo) error {
		_, err := e.send(ctx, "hi")
		return err
	})
}

// TestHoldKeepsTheDelayOfItsTime: the wait Hold returns is the delay in
// force when it was taken, though the delay is turned off before the
// handler waits, as a test does once it sees the message recorded.
func TestHoldKeepsTheDelayOfItsTime(t *testing.T) {
	t.Parallel()
	const delay = 100 * time.Millisecond
	rec := standin.NewRecorder[string, int]()
	rec.SetResponseDelay(delay)
	hold := rec.Hold()
	rec.SetResponseDelay(0)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil)
	start := time.Now()
	require.NotPanics(t, func() { hold(req) })
	require.GreaterOrEqual(t, time.Since(start), delay)
	start = time.Now()
	rec.Hold()(req)
	require.Less(t, time.Since(start), delay, "taken after it was turned off: no wait")
}
