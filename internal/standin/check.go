package standin

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Delayed is what CheckDelayEndsEarly needs of a stand-in: the part of its
// API that every stand-in built on Recorder exports.
type Delayed[M any] interface {
	SetResponseDelay(d time.Duration)
	WaitForMessages(t testing.TB, n int, timeout time.Duration) []M
	Close()
}

// CheckDelayEndsEarly runs, as parallel subtests of t, what every stand-in's
// response delay promises besides the wait itself: a request cancelled while
// its answer is held back returns at once, and Close neither waits out the
// delay nor answers, but drops the connection. newServer starts a stand-in;
// send sends it one message with ctx, closes any response body and returns
// the client's error.
func CheckDelayEndsEarly[M any, S Delayed[M]](t *testing.T, newServer func(testing.TB) S, send func(ctx context.Context, s S) error) {
	t.Helper()
	t.Run("cancelled request stops waiting", func(t *testing.T) {
		t.Parallel()
		s := newServer(t)
		s.SetResponseDelay(time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		done := sendHeld(t, s, func() error { return send(ctx, s) })
		cancel()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(5 * time.Second):
			t.Fatal("the request did not return after cancellation")
		}
	})
	t.Run("close does not wait out the delay", func(t *testing.T) {
		t.Parallel()
		s := newServer(t)
		s.SetResponseDelay(time.Hour)
		done := sendHeld(t, s, func() error { return send(t.Context(), s) })
		closed := make(chan struct{})
		go func() {
			s.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close waited for the delayed answer")
		}
		var urlErr *url.Error
		require.ErrorAs(t, <-done, &urlErr, "the connection is dropped without an answer")
	})
}

// sendHeld starts send in the background and returns once s has recorded
// the message, with the channel send's error will arrive on.
func sendHeld[M any, S Delayed[M]](t testing.TB, s S, send func() error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- send() }()
	s.WaitForMessages(t, 1, 5*time.Second)
	return done
}
