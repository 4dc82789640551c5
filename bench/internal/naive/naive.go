// Package naive holds the benchmark's reference workflows, which do nothing
// of coursehook's work: a no-op, for the cost of a start alone, and four
// ordinary no-op activities in sequence, coursehook's shape (record, Slack,
// email, outcome) with none of its work. The bench starts them and the
// naiveworker command runs them, each in a process of its own like
// coursehook's worker.
package naive

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The workflow types the bench starts by name.
const (
	NoopName     = "BenchNoop"
	WorkflowName = "BenchNaive"
)

// Noop does nothing: what is left is the cost of a start to the client, the
// server and the worker.
func Noop(workflow.Context) error { return nil }

// Workflow runs the four activities one after the other, as ordinary
// activities with nothing tuned: the baseline coursehook is compared with.
func Workflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	for _, step := range steps {
		if err := workflow.ExecuteActivity(ctx, step).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// steps are the activities' registered names.
var steps = []string{"Record", "Slack", "Email", "Outcome"}

func nothing(context.Context) error { return nil }

// Register puts the two workflows and the four activities on w. The no-op
// is registered under noopAs too when it is not empty, so that it can stand
// in for coursehook's CourseCompletion in the ingest row.
func Register(w worker.Registry, noopAs string) {
	w.RegisterWorkflowWithOptions(Noop, workflow.RegisterOptions{Name: NoopName})
	if noopAs != "" {
		w.RegisterWorkflowWithOptions(Noop, workflow.RegisterOptions{Name: noopAs})
	}
	w.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	for _, name := range steps {
		w.RegisterActivityWithOptions(nothing, activity.RegisterOptions{Name: name})
	}
}
