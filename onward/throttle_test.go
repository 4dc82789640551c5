package onward

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

func TestOneLimiterPerHost(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, status(http.StatusOK))
	s := localSender(Options{})

	// One machine, two host names: two throttles, each made once.
	for _, target := range []string{rcv.URL, rcv.viaLocalhost(t), rcv.URL, rcv.viaLocalhost(t)} {
		_, err := send(t, s, target)
		require.NoError(t, err)
	}
	s.mu.Lock()
	hosts := make([]string, 0, len(s.limiters))
	for h := range s.limiters {
		hosts = append(hosts, h)
	}
	s.mu.Unlock()
	require.ElementsMatch(t, []string{"127.0.0.1", "localhost"}, hosts)
}

func TestLimiterIsSharedUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := NewSender(Options{})
	const workers = 32
	got := make([]*rate.Limiter, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			host := "a.example"
			if i%2 == 1 {
				host = "b.example"
			}
			got[i] = s.limiter(host)
		})
	}
	wg.Wait()
	for i := 2; i < workers; i++ {
		require.Same(t, got[i%2], got[i], "worker %d got its own limiter", i)
	}
	require.NotSame(t, got[0], got[1])
	require.Len(t, s.limiters, 2)
	require.Equal(t, rate.Limit(defaultPerSecond), got[0].Limit(), "0 per second means the default")
}

// TestSendCancelledWhileThrottled: with the host's only token spent and the
// next one hours away, Send waits on the throttle; cancelling the context
// ends the wait at once, with the context's error, as a retryable failure,
// and nothing is sent.
func TestSendCancelledWhileThrottled(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	rcv := newReceiver(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	s := localSender(Options{PerSecond: 1.0 / 3600})
	lim := s.limiter("127.0.0.1")
	require.True(t, lim.Allow(), "precondition: the burst token is spent here")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, rcv.URL, vectorSecret, vectorMsgID, []byte(vectorPayload))
		done <- err
	}()
	// Send has reserved the next token once the bucket goes negative; only
	// then is it waiting on the throttle.
	require.Eventually(t, func() bool { return lim.Tokens() < -0.5 }, 10*time.Second, time.Millisecond)
	cancel()

	select {
	case err := <-done:
		e := deliveryError(t, err)
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
		require.False(t, e.Permanent)
		require.Zero(t, e.StatusCode)
		require.Contains(t, e.Message, "throttle")
	case <-time.After(10 * time.Second):
		t.Fatal("Send kept waiting on the throttle after its context was cancelled")
	}
	require.Zero(t, hits.Load())
	require.Greater(t, lim.Tokens(), -0.5, "the cancelled reservation was not given back")
}

// TestSendThrottleRespectsDeadline: a deadline nearer than the next token
// fails at once rather than sleeping until it passes.
func TestSendThrottleRespectsDeadline(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, status(http.StatusOK))
	s := localSender(Options{PerSecond: 1.0 / 3600})
	require.True(t, s.limiter("127.0.0.1").Allow())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	_, err := s.Send(ctx, rcv.URL, vectorSecret, vectorMsgID, []byte(vectorPayload))
	e := deliveryError(t, err)
	require.False(t, e.Permanent)
	require.Contains(t, e.Message, "throttle")
	require.Empty(t, rcv.deliveries())
}
