package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/bench/internal/naive"
)

// startStats is a batch of starts.
type startStats struct {
	Latencies  []time.Duration
	Start, End time.Time
	problems
}

// startMany starts n workflows of type wf from c concurrent callers, each
// start timed.
func startMany(ctx context.Context, tc client.Client, n, c int, queue, wf string) *startStats {
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

// naiveWorkers starts n naiveworker processes on queue, each running the
// reference workflows, and the no-op under noopAs as well when it is set.
// The caller stops them.
func (b *bench) naiveWorkers(ctx context.Context, row, queue, noopAs string, n int) ([]*process, error) {
	dir := filepath.Join(b.work, row)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	var ps []*process
	for i := range n {
		env := append(b.env(queue), "NOOP_AS="+noopAs)
		p, _, err := startProcess(ctx, fmt.Sprintf("naiveworker-%d", i+1), b.naiveBin, dir, env, workerStarting, startupTimeout)
		if err != nil {
			stopAll(ps)
			return nil, fmt.Errorf("%s: %w", row, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func stopAll(ps []*process) {
	for _, p := range ps {
		p.Stop()
	}
}

// ceilingResult is the raw SDK's start rate.
type ceilingResult struct {
	Rate          float64
	P50, P95, P99 time.Duration
	// Workflows were started and completed, using CPU.
	Workflows int
	CPU       cpuUse
}

// ceiling starts N no-op workflows with C callers while the worker
// processes complete them, and waits for every one to complete.
func (b *bench) ceiling(ctx context.Context, workers int) (ceilingResult, error) {
	b.progress("ceiling: %d no-op starts from %d callers, %d worker process(es)", b.opts.N, b.opts.C, workers)
	st, d, cpu, _, err := b.startedRow(ctx, rowName("ceiling", workers), naive.NoopName, workers, false)
	if err != nil {
		return ceilingResult{}, err
	}
	lat := newDist(st.Latencies)
	return ceilingResult{Rate: perSecond(b.opts.N-st.Count, st.End.Sub(st.Start)), P50: lat.pct(50), P95: lat.pct(95), P99: lat.pct(99),
		Workflows: len(d.Runs), CPU: cpu}, nil
}

// naiveResult is the naive workflow's end-to-end rate.
type naiveResult struct {
	Workflows int
	Rate      float64
	Elapsed   time.Duration
	// Each is one workflow's time from start to close, p50 and p99.
	EachP50, EachP99 time.Duration
	// CPU is the row's processor time: the server's, the worker
	// processes' and this process's (the callers).
	CPU cpuUse
	// Cost is what a workflow cost the server in actions and history.
	Cost *costResult
}

// naive starts N naive workflows with C callers and measures from the first
// start to the last close, as the server recorded them.
func (b *bench) naive(ctx context.Context, workers int) (naiveResult, error) {
	b.progress("naive: %d four-activity workflows from %d callers, %d worker process(es)", b.opts.N, b.opts.C, workers)
	_, d, cpu, cost, err := b.startedRow(ctx, rowName("naive", workers), naive.WorkflowName, workers, true)
	if err != nil {
		return naiveResult{}, err
	}
	each := d.durations()
	return naiveResult{Workflows: len(d.Runs), Rate: perSecond(len(d.Runs), d.Elapsed()), Elapsed: d.Elapsed(),
		EachP50: each.pct(50), EachP99: each.pct(99), CPU: cpu, Cost: cost}, nil
}

// startedRow starts N workflows of type wf from C callers on a task queue of
// its own, served by worker processes, and waits until all have closed.
// With costed, it also counts what they cost in actions and history, once
// the processor time is read.
func (b *bench) startedRow(ctx context.Context, row, wf string, workers int, costed bool) (*startStats, drained, cpuUse, *costResult, error) {
	queue := b.queue(row)
	ws, err := b.naiveWorkers(ctx, row, queue, "", workers)
	if err != nil {
		return nil, drained{}, cpuUse{}, nil, err
	}
	defer stopAll(ws)
	alive := func() error { return exited(ws) }
	actions := b.actionMeter(ctx)
	cpu := b.measureCPU(ws, nil)
	st := startMany(ctx, b.plain, b.opts.N, b.opts.C, queue, wf)
	b.errs.merge(st.problems)
	d, err := drain(ctx, b.plain, b.opts.Namespace, queue, b.opts.N-st.Count, b.opts.DrainTimeout, alive)
	b.errs.merge(d.problems)
	if err != nil {
		return nil, drained{}, cpuUse{}, nil, fmt.Errorf("%s: %w", row, err)
	}
	used, metric := cpu(), actions()
	if !costed {
		return st, d, used, nil, nil
	}
	cost, err := b.rowCost(ctx, row, queue, len(d.Runs), metric)
	return st, d, used, cost, err
}

// rowCost is a row's cost per completion: the action metric's gain over
// the row, and its histories read.
func (b *bench) rowCost(ctx context.Context, row, queue string, completions int, metric map[string]float64) (*costResult, error) {
	b.progress("%s: reading the histories", row)
	hctx, cancel := context.WithTimeout(ctx, historyWait)
	defer cancel()
	cost, err := b.historyCost(hctx, queue, completions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", row, err)
	}
	cost.Metric = perCompletion(metric, completions)
	return cost, nil
}

// exited fails once one of ps has ended on its own.
func exited(ps []*process) error {
	for _, p := range ps {
		if p.Exited() {
			return fmt.Errorf("%s exited; its log ends:\n%s", p.Name, p.Tail(2000))
		}
	}
	return nil
}

// rowName is a row's name with its worker count when there is more than
// one: "naive", "naive-2".
func rowName(row string, workers int) string {
	if workers == 1 {
		return row
	}
	return fmt.Sprintf("%s-%d", row, workers)
}
