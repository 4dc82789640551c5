package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/workflows"
)

// liveCertificates is the scale the design is held to: a million
// certificates whose schedules sleep at once.
const liveCertificates = 1_000_000

// validityResult is the validity row: N certificates' schedules started
// and left asleep, and what they cost the server.
type validityResult struct {
	N int
	// Starts is how long starting them all took; Settled how long until
	// each sat in its timer.
	Starts, Settled time.Duration
	// Running is what the server's visibility counts, -1 when it could
	// not.
	Running int64
	// Events and Bytes are the median history of one sleeping schedule;
	// Timers its pending timers.
	Events, Bytes, Timers int64
	// ServerCPU is the server's processor time over the row; RSSBefore
	// and RSSAfter its resident memory around it, zero when unknown.
	ServerCPU           time.Duration
	RSSBefore, RSSAfter int64
}

// validity starts b.opts.Validity certificates' CertificateValidity
// workflows, each a year from its expiry with reminders at 30 and 7 days,
// on an in-process worker with nothing else registered, and measures them
// asleep. No timer fires in the row, so what it measures is the standing
// cost of live certificates, which is what a million of them cost most of
// the time. The workflows are left to the server, which the bench stops.
func (b *bench) validity(ctx context.Context) (validityResult, error) {
	n := b.opts.Validity
	res := validityResult{N: n, Running: -1}
	queue := "bench-validity-" + uuid.NewString()
	w := worker.New(b.plain, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.CertificateValidity, workflow.RegisterOptions{Name: workflows.ValidityWorkflowType})
	if err := w.Start(); err != nil {
		return res, fmt.Errorf("validity worker: %w", err)
	}
	defer w.Stop()

	res.RSSBefore = b.serverRSS()
	cpu := b.measureCPU(nil, nil)
	expires := time.Now().AddDate(1, 0, 0).UTC()
	in := workflows.CertificateValidityInput{ExpiresAt: expires, Reminders: []workflows.DueReminder{
		{Before: "30d", At: expires.AddDate(0, 0, -30)}, {Before: "7d", At: expires.AddDate(0, 0, -7)},
	}}
	ids := make([]string, n)
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, b.opts.C)
	next := make(chan int)
	for range b.opts.C {
		wg.Go(func() {
			for i := range next {
				in := in
				in.EventID = fmt.Sprintf("%s-%06d", queue, i)
				_, err := b.plain.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ValidityWorkflowID(in.EventID), TaskQueue: queue},
					workflows.ValidityWorkflowType, in)
				if err != nil {
					errs <- err
					return
				}
				ids[i] = workflows.ValidityWorkflowID(in.EventID)
			}
		})
	}
	var startErr error
	for i := range n {
		select {
		case next <- i:
			continue
		case startErr = <-errs:
		case <-ctx.Done():
			startErr = ctx.Err()
		}
		break
	}
	close(next)
	wg.Wait()
	if startErr != nil {
		return res, fmt.Errorf("start validity workflows: %w", startErr)
	}
	res.Starts = time.Since(began)

	// A sample across the run, and the last ones started, which the
	// worker reaches last.
	var sample []string
	for i := 0; i < n; i += max(1, n/100) {
		sample = append(sample, ids[i])
	}
	sample = append(sample, ids[max(0, n-5):]...)
	const asleep = 5 // started, a workflow task scheduled, started, completed, the timer started
	histories, err := b.awaitHistories(ctx, sample, asleep, 10*time.Minute)
	if err != nil {
		return res, err
	}
	res.Settled = time.Since(began)
	used := cpu()
	res.ServerCPU = used.Server
	res.RSSAfter = b.serverRSS()

	var events, sizes []int64
	for _, h := range histories {
		events, sizes = append(events, h.GetHistoryLength()), append(sizes, h.GetHistorySizeBytes())
	}
	res.Events, res.Bytes = median64(events), median64(sizes)
	res.Timers = b.pendingTimers(ctx, sample[0])
	res.Running = b.countRunning(ctx, queue, int64(n))
	return res, nil
}

// awaitHistories polls the workflows until each history has at least
// events events, within the deadline, and returns their execution infos.
func (b *bench) awaitHistories(ctx context.Context, ids []string, events int64, within time.Duration) ([]interface {
	GetHistoryLength() int64
	GetHistorySizeBytes() int64
}, error) {
	deadline := time.Now().Add(within)
	for {
		var out []interface {
			GetHistoryLength() int64
			GetHistorySizeBytes() int64
		}
		behind := ""
		for _, id := range ids {
			d, err := b.plain.WorkflowService().DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
				Namespace: b.opts.Namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: id},
			})
			if err != nil {
				return nil, fmt.Errorf("describe %s: %w", id, err)
			}
			info := d.GetWorkflowExecutionInfo()
			if info.GetHistoryLength() < events {
				behind = id
				break
			}
			out = append(out, info)
		}
		if behind == "" {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s was not asleep after %s", behind, within)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pendingTimers counts the timers started and neither fired nor canceled
// in a workflow's history.
func (b *bench) pendingTimers(ctx context.Context, id string) int64 {
	iter := b.plain.GetWorkflowHistory(ctx, id, "", false, 0)
	var pending int64
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return -1
		}
		switch {
		case e.GetTimerStartedEventAttributes() != nil:
			pending++
		case e.GetTimerFiredEventAttributes() != nil, e.GetTimerCanceledEventAttributes() != nil:
			pending--
		}
	}
	return pending
}

// countRunning asks the server's visibility how many of the row's
// schedules run, polling briefly for visibility to catch up with want;
// -1 when it cannot say.
func (b *bench) countRunning(ctx context.Context, queue string, want int64) int64 {
	query := `WorkflowType = "` + workflows.ValidityWorkflowType + `" AND ExecutionStatus = "Running" AND TaskQueue = "` + queue + `"`
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := b.plain.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: b.opts.Namespace, Query: query})
		if err != nil {
			return -1
		}
		if r.GetCount() >= want || time.Now().After(deadline) {
			return r.GetCount()
		}
		select {
		case <-ctx.Done():
			return r.GetCount()
		case <-time.After(time.Second):
		}
	}
}

// serverRSS is the Temporal server's resident memory, its parts added up;
// zero when a part cannot be read (a server the bench did not start).
func (b *bench) serverRSS() int64 {
	var total int64
	for _, p := range b.serverParts {
		rss, err := residentBytes(p.Pid)
		if err != nil {
			return 0
		}
		total += rss
	}
	return total
}

// residentBytes reads VmRSS from /proc/<pid>/status.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

func median64(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// validityRow is the row of the table: what was measured at N, and what
// it comes to at a million live certificates.
func (r *report) validityRow() row {
	v := r.Validity
	x := row{name: "validity", measured: notMeasured, target: "1,000,000 live certificates", status: "—"}
	if v == nil {
		return x
	}
	x.what = fmt.Sprintf("%s certificates' CertificateValidity schedules, each sleeping a year from its expiry (reminders at 30 and 7 days), "+
		"started by %s, measured asleep; then %s live certificates extrapolated", thousands(v.N), "the bench's callers", thousands(liveCertificates))
	rate := float64(v.N) / v.Starts.Seconds()
	m := fmt.Sprintf("started in %s (%.0f/s), all asleep after %s; server counts %s running; per certificate %d history events, %s of history, %d pending timer",
		v.Starts.Round(time.Millisecond), rate, v.Settled.Round(time.Millisecond), running(v.Running), v.Events, bytesText(v.Bytes), v.Timers)
	if v.ServerCPU > 0 {
		m += fmt.Sprintf(", %.2f ms of server processor time to start and settle", float64(v.ServerCPU.Microseconds())/1000/float64(v.N))
	}
	if v.RSSBefore > 0 && v.RSSAfter > 0 {
		m += fmt.Sprintf("; server memory %s → %s", bytesText(v.RSSBefore), bytesText(v.RSSAfter))
	}
	x.measured = m
	x.ratio = v.extrapolate()
	return x
}

// extrapolate is the row's million, from the measured figures.
func (v validityResult) extrapolate() string {
	scale := float64(liveCertificates) / float64(v.N)
	s := fmt.Sprintf("at %s: %s open workflows and as many timers, %s of history held (%s each); "+
		"continue-as-new at most every 30 days a certificate: %.2f new runs/s while they sleep, plus one a notice",
		thousands(liveCertificates), thousands(liveCertificates), bytesText(int64(float64(v.Bytes)*float64(liveCertificates))), bytesText(v.Bytes),
		float64(liveCertificates)/(30*24*3600))
	if v.ServerCPU > 0 {
		s += fmt.Sprintf("; starting them all: %s of server processor time", (time.Duration(float64(v.ServerCPU) * scale)).Round(time.Minute))
	}
	// Memory is not scaled: the server's caches of workflows are bounded,
	// and a sleeping schedule lives in persistence (its history, its
	// execution and its timer task), not in memory, except on the
	// in-memory dev server.
	return s
}

func running(n int64) string {
	if n < 0 {
		return "(visibility did not say)"
	}
	return thousands(int(n))
}

// bytesText writes a size in B, KB, MB or GB (powers of 1,000).
func bytesText(n int64) string {
	switch f := float64(n); {
	case f >= 1e9:
		return fmt.Sprintf("%.1f GB", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.1f MB", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.1f KB", f/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
