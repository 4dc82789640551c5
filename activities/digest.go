package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/workflows"
)

// Signaller is the part of the Temporal client that feeds a course's digest
// workflow: it starts the workflow if it is not running, and signals it.
type Signaller interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// EnqueueDigestEntry hands a completion to its course's digest. A retry
// may deliver the signal twice; the digest counts an event id once.
func (a *Activities) EnqueueDigestEntry(ctx context.Context, in workflows.EnqueueInput) error {
	if a.Digests == nil {
		return errors.New("enqueue digest entry: the worker has no Temporal client for digests")
	}
	_, err := a.Digests.SignalWithStartWorkflow(ctx, in.WorkflowID, in.Signal, in.Entry,
		client.StartWorkflowOptions{ID: in.WorkflowID, TaskQueue: in.TaskQueue}, in.WorkflowType, in.Start)
	if err != nil {
		return fmt.Errorf("enqueue event %s in digest %s: %w", in.Entry.EventID, in.WorkflowID, err)
	}
	return nil
}

// slackLook is a look for an earlier Slack message (a digest, a reply) as
// deliveredBefore takes it: Slack's receipt as ours, and its failure
// classified as the notice's is (slacknotify.FindError).
func slackLook(find func(since time.Time) (slacknotify.Receipt, bool, error)) func(since time.Time) (workflows.Receipt, bool, error) {
	return func(since time.Time) (workflows.Receipt, bool, error) {
		r, found, err := find(since)
		if err != nil {
			return workflows.Receipt{}, false, slacknotify.FindError(err)
		}
		return workflows.Receipt{ID: r.TS, Where: r.Channel}, found, nil
	}
}

// PostDigest posts a course window's digest. Like a notice, a retry first
// looks for the digest an earlier attempt may have posted, by the window id
// in its metadata, so a crash between Slack's answer and ours never posts a
// second digest.
func (a *Activities) PostDigest(ctx context.Context, in workflows.DigestInput) (workflows.SlackResult, error) {
	slack := channel.Spec{Name: workflows.StepNameSlack}
	if a.DigestFinder != nil {
		find := slackLook(func(since time.Time) (slacknotify.Receipt, bool, error) {
			return a.DigestFinder.FindDigest(ctx, in.Channel, in.WindowID, since)
		})
		if r, found, err := a.deliveredBefore(ctx, slack, in.WindowID, find); found || err != nil {
			return workflows.SlackResult{Channel: r.Where, TS: r.ID}, err
		}
	}
	start := time.Now()
	r, err := a.DigestPoster.PostDigest(ctx, in)
	a.Metrics.ProviderCall("slack", time.Since(start), err)
	if err != nil {
		return workflows.SlackResult{}, a.counted(slack.Name, failure(slack, in.WindowID, slacknotify.Failure(err)))
	}
	a.Metrics.Notice(slack.Name, metrics.Sent)
	activity.GetLogger(ctx).Info("slack digest posted", "window", in.WindowID, "count", in.Count, "channel", r.Channel, "ts", r.TS)
	return workflows.SlackResult{Channel: r.Channel, TS: r.TS}, nil
}
