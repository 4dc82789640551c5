package main

import (
	"context"
	"fmt"
	"github.com/coursehook/coursehook/workflows"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// closedRun is one workflow as visibility lists it once closed.
type closedRun struct {
	WorkflowID string
	RunID      string
	Status     enums.WorkflowExecutionStatus
	Start      time.Time
	Close      time.Time
}

// drained is a task queue's workflows, all closed.
type drained struct {
	Runs []closedRun
	// First is the earliest start, Last the latest close: both the
	// server's clock, so a remote server's skew does not matter.
	First, Last time.Time
	problems
}

// pollEvery is how often drain counts. The close times come from the
// server, so a slower poll costs no precision, only a late answer.
const pollEvery = 500 * time.Millisecond

// drain waits until n workflows of queue have closed, then lists them. It
// polls visibility's count, which is cheap for the server, so the wait does
// not load what it measures; the close times come from the server's records,
// so visibility's lag only delays the answer. It gives up when no workflow
// has closed for stall, so a long burst may take as long as it needs. alive
// is called on each poll and ends the wait with its error (a worker process
// that died, say); a workflow that ends other than completed ends it too.
func drain(ctx context.Context, c client.Client, namespace, queue string, n int, stall time.Duration, alive func() error) (drained, error) {
	// A course's digest runs on the queue too, and stays open for a quiet
	// spell after its last digest; it is not one of the n.
	all := fmt.Sprintf("TaskQueue = %q AND WorkflowType != %q", queue, workflows.DigestWorkflowType)
	closed := all + ` AND ExecutionStatus != "Running"`
	bad := closed + ` AND ExecutionStatus != "Completed"`
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	polls, seen, progressed := 0, -1, time.Now()
	for {
		select {
		case <-ctx.Done():
			return drained{}, fmt.Errorf("%d of %d workflows on %s closed: %w", max(seen, 0), n, queue, ctx.Err())
		case <-tick.C:
		}
		if alive != nil {
			if err := alive(); err != nil {
				return drained{}, err
			}
		}
		got, err := count(ctx, c, namespace, closed)
		if err == nil && got > seen {
			seen, progressed = got, time.Now()
		}
		if time.Since(progressed) > stall {
			return drained{}, fmt.Errorf("%d of %d workflows on %s closed, and none for %s", max(seen, 0), n, queue, stall)
		}
		if err != nil {
			continue // a slow answer under load; the stall bounds the wait
		}
		// A failed workflow is rare and its count a second query: look every
		// few polls, and on the way out.
		if polls++; polls%4 == 0 || got >= n {
			if failed, err := count(ctx, c, namespace, bad); err == nil && failed > 0 {
				d, _ := list(ctx, c, namespace, all)
				return d, fmt.Errorf("%d workflows on %s ended other than completed", failed, queue)
			}
		}
		if got >= n {
			return list(ctx, c, namespace, all)
		}
	}
}

func count(ctx context.Context, c client.Client, namespace, query string) (int, error) {
	resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
	if err != nil {
		return 0, fmt.Errorf("count workflows: %w", err)
	}
	return int(resp.GetCount()), nil
}

// list lists every workflow the query matches, and notes the failed ones.
func list(ctx context.Context, c client.Client, namespace, query string) (drained, error) {
	var d drained
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return d, fmt.Errorf("list workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			r := closedRun{
				WorkflowID: e.GetExecution().GetWorkflowId(),
				RunID:      e.GetExecution().GetRunId(),
				Status:     e.GetStatus(),
				Start:      e.GetStartTime().AsTime(),
				Close:      e.GetCloseTime().AsTime(),
			}
			if r.Status != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				d.add("workflow %s: %s", r.WorkflowID, r.Status)
			}
			if r.Close.After(d.Last) {
				d.Last = r.Close
			}
			if d.First.IsZero() || r.Start.Before(d.First) {
				d.First = r.Start
			}
			d.Runs = append(d.Runs, r)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return d, nil
		}
	}
}

// Elapsed is from the first start to the last close.
func (d drained) Elapsed() time.Duration { return d.Last.Sub(d.First) }

// durations are each run's time from start to close.
func (d drained) durations() dist {
	out := make([]time.Duration, len(d.Runs))
	for i, r := range d.Runs {
		out[i] = r.Close.Sub(r.Start)
	}
	return newDist(out)
}

// closeTimes are the runs' close times, for peak rates.
func (d drained) closeTimes() []time.Time {
	out := make([]time.Time, len(d.Runs))
	for i, r := range d.Runs {
		out[i] = r.Close
	}
	return out
}
