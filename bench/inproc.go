package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// noop is the ceiling's workflow: with nothing to do, what is left is the
// cost of a start to the client and the server.
func noop(workflow.Context) error { return nil }

// naiveActivities are the naive row's four steps: coursehook's shape (record,
// Slack, email, outcome) with none of its work.
type naiveActivities struct{}

func (*naiveActivities) Record(context.Context) error  { return nil }
func (*naiveActivities) Slack(context.Context) error   { return nil }
func (*naiveActivities) Email(context.Context) error   { return nil }
func (*naiveActivities) Outcome(context.Context) error { return nil }

// naive runs the four activities one after the other, as ordinary
// activities with nothing tuned: the baseline coursehook is compared with.
func naive(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var a *naiveActivities
	for _, step := range []any{a.Record, a.Slack, a.Email, a.Outcome} {
		if err := workflow.ExecuteActivity(ctx, step).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// startStats is a batch of starts.
type startStats struct {
	Latencies  []time.Duration
	Start, End time.Time
	problems
}

// startMany starts n workflows from c concurrent callers, each start timed.
func startMany(ctx context.Context, tc client.Client, n, c int, queue string, wf any) *startStats {
	st := &startStats{Latencies: make([]time.Duration, n)}
	var next atomic.Int64
	var mu sync.Mutex
	var callers sync.WaitGroup
	st.Start = time.Now()
	for range c {
		callers.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				began := time.Now()
				_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
					ID:        fmt.Sprintf("%s-%d", queue, i),
					TaskQueue: queue,
				}, wf)
				st.Latencies[i] = time.Since(began)
				if err != nil {
					mu.Lock()
					st.add("start %d: %v", i, err)
					mu.Unlock()
				}
			}
		})
	}
	callers.Wait()
	st.End = time.Now()
	return st
}

// inProcessWorker runs wf, and the naive activities, on queue until the
// returned function is called.
func inProcessWorker(tc client.Client, queue string, wf any, name string) (stop func(), err error) {
	w := worker.New(tc, queue, worker.Options{})
	if name != "" {
		w.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: name})
	} else {
		w.RegisterWorkflow(wf)
	}
	w.RegisterActivity(&naiveActivities{})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start the in-process worker on %s: %w", queue, err)
	}
	return w.Stop, nil
}

// ceilingResult is the raw SDK's start rate.
type ceilingResult struct {
	Rate          float64
	P50, P95, P99 time.Duration
	// Workflows were started and completed, using CPU.
	Workflows int
	CPU       cpuUse
}

// ceiling starts N no-op workflows with C callers while an in-process worker
// completes them, and waits for every one to complete.
func (b *bench) ceiling(ctx context.Context) (ceilingResult, error) {
	b.progress("ceiling: %d no-op starts from %d callers", b.opts.N, b.opts.C)
	cpu := b.measureCPU(nil, nil)
	st, d, err := b.inProcessRow(ctx, "ceiling", noop)
	if err != nil {
		return ceilingResult{}, err
	}
	lat := newDist(st.Latencies)
	return ceilingResult{Rate: perSecond(b.opts.N-st.Count, st.End.Sub(st.Start)), P50: lat.pct(50), P95: lat.pct(95), P99: lat.pct(99),
		Workflows: len(d.Runs), CPU: cpu()}, nil
}

// naiveResult is the naive workflow's end-to-end rate.
type naiveResult struct {
	Workflows int
	Rate      float64
	Elapsed   time.Duration
	// Each is one workflow's time from start to close, p50 and p99.
	EachP50, EachP99 time.Duration
	// CPU is the row's processor time: the dev server's, and this
	// process's (the in-process worker and the callers).
	CPU cpuUse
}

// naive starts N naive workflows with C callers and measures from the first
// start to the last close, as the server recorded them.
func (b *bench) naive(ctx context.Context) (naiveResult, error) {
	b.progress("naive: %d four-activity workflows from %d callers", b.opts.N, b.opts.C)
	cpu := b.measureCPU(nil, nil)
	_, d, err := b.inProcessRow(ctx, "naive", naive)
	if err != nil {
		return naiveResult{}, err
	}
	each := d.durations()
	return naiveResult{Workflows: len(d.Runs), Rate: perSecond(len(d.Runs), d.Elapsed()), Elapsed: d.Elapsed(),
		EachP50: each.pct(50), EachP99: each.pct(99), CPU: cpu()}, nil
}

// inProcessRow starts N workflows of wf from C callers on a task queue of
// its own, served by an in-process worker, and waits until all have closed.
func (b *bench) inProcessRow(ctx context.Context, row string, wf any) (*startStats, drained, error) {
	queue := b.queue(row)
	stop, err := inProcessWorker(b.plain, queue, wf, "")
	if err != nil {
		return nil, drained{}, err
	}
	defer stop()
	st := startMany(ctx, b.plain, b.opts.N, b.opts.C, queue, wf)
	b.errs.merge(st.problems)
	d, err := drain(ctx, b.plain, b.opts.Namespace, queue, b.opts.N-st.Count, b.opts.DrainTimeout, nil)
	b.errs.merge(d.problems)
	if err != nil {
		return nil, drained{}, fmt.Errorf("%s: %w", row, err)
	}
	return st, d, nil
}
