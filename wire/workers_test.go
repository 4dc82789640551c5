package wire

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/worker"
)

// fakeWorker records Start and Stop; the embedded interface is nil, so any
// other call panics.
type fakeWorker struct {
	worker.Worker
	startErr error
	started  chan struct{}
	stopped  atomic.Bool
}

func newFakeWorker() *fakeWorker { return &fakeWorker{started: make(chan struct{})} }

func (w *fakeWorker) Start() error {
	if w.startErr != nil {
		return w.startErr
	}
	close(w.started)
	return nil
}

func (w *fakeWorker) Stop() { w.stopped.Store(true) }

func fakeWorkers(ws ...*fakeWorker) *Workers {
	out := &Workers{queues: []string{"q", "q-slack"}, fatal: make(chan error, len(ws))}
	for _, w := range ws {
		out.workers = append(out.workers, w)
	}
	return out
}

// runAsync runs ws until ctx ends, once every worker has started.
func runAsync(t *testing.T, ctx context.Context, ws *Workers, fakes ...*fakeWorker) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- ws.Run(ctx) }()
	for _, w := range fakes {
		select {
		case <-w.started:
		case <-time.After(5 * time.Second):
			t.Fatal("worker not started")
		}
	}
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestRunStopsEveryWorkerOnAFatalError(t *testing.T) {
	t.Parallel()
	main, slack := newFakeWorker(), newFakeWorker()
	ws := fakeWorkers(main, slack)
	done := runAsync(t, t.Context(), ws, main, slack)

	ws.reportFatal("q-slack")(serviceerror.NewNamespaceNotFound("gone"))
	err := wait(t, done)

	var notFound *serviceerror.NamespaceNotFound
	require.ErrorAs(t, err, &notFound)
	assert.EqualError(t, err, "worker on task queue q-slack stopped: Namespace gone is not found.")
	assert.True(t, main.stopped.Load(), "main worker stopped")
	assert.True(t, slack.stopped.Load(), "slack worker stopped")
}

func TestRunReturnsNilWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	main, slack := newFakeWorker(), newFakeWorker()
	ctx, cancel := context.WithCancel(t.Context())
	done := runAsync(t, ctx, fakeWorkers(main, slack), main, slack)

	cancel()
	require.NoError(t, wait(t, done))
	assert.True(t, main.stopped.Load(), "main worker stopped")
	assert.True(t, slack.stopped.Load(), "slack worker stopped")
}

func TestRunStopsTheStartedWorkersWhenOneCannotStart(t *testing.T) {
	t.Parallel()
	main, slack := newFakeWorker(), newFakeWorker()
	slack.startErr = errors.New("boom")

	err := fakeWorkers(main, slack).Run(t.Context())
	require.EqualError(t, err, "start worker on task queue q-slack: boom")
	assert.True(t, main.stopped.Load(), "main worker stopped")
	assert.False(t, slack.stopped.Load(), "slack worker was never started")
}

func TestReportFatalNeverBlocks(t *testing.T) {
	t.Parallel()
	ws := fakeWorkers(newFakeWorker(), newFakeWorker())
	// More reports than workers, and nobody reading: the SDK calls the hook
	// at most once per worker, but a stuck hook would stall its shutdown.
	for range 3 {
		ws.reportFatal("q")(errors.New("fatal"))
	}
	require.EqualError(t, <-ws.fatal, "worker on task queue q stopped: fatal")
}

// TestRunStopsWhenTheNamespaceIsGone: the namespace check ends Run with the
// server's NamespaceNotFound, and rides out an unreachable server.
func TestRunStopsWhenTheNamespaceIsGone(t *testing.T) {
	t.Parallel()
	main, slack := newFakeWorker(), newFakeWorker()
	ws := fakeWorkers(main, slack)
	var calls atomic.Int32
	ws.checkEvery = time.Millisecond
	ws.describe = func(context.Context) error {
		switch calls.Add(1) {
		case 1:
			return nil
		case 2, 3:
			return serviceerror.NewUnavailable("connection refused")
		default:
			return serviceerror.NewNamespaceNotFound("coursehook")
		}
	}
	err := ws.Run(t.Context())
	var gone *serviceerror.NamespaceNotFound
	require.ErrorAs(t, err, &gone)
	require.ErrorContains(t, err, "namespace check")
	require.EqualValues(t, 4, calls.Load(), "an outage is not a lost namespace")
	require.True(t, main.stopped.Load())
	require.True(t, slack.stopped.Load())
}
