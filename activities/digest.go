package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/slacknotify"
)

// Signaller is the part of the Temporal client that feeds a course's digest
// workflow: it starts the workflow if it is not running, and signals it.
type Signaller interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// DigestEntry is one completion offered to its course's digest: the
// digest decides whether it gets a message of its own or a line in the
// digest, and signals the answer back to WorkflowID.
type DigestEntry struct {
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
	// LearnerName is shown in the digest (the first ten are named).
	LearnerName string `json:"learnerName,omitempty"`
	CourseTitle string `json:"courseTitle,omitempty"`
	CourseName  string `json:"courseName,omitempty"`
	// Threshold and Window are the event's recorded route: the first
	// Threshold completions of a Window are posted one by one.
	Threshold int           `json:"threshold"`
	Window    time.Duration `json:"window"`
}

// DigestStart identifies a course's digest: one per deployment (task
// queue), course and channel.
type DigestStart struct {
	TaskQueue string `json:"taskQueue"`
	CourseID  string `json:"courseId"`
	Channel   string `json:"channel"`
	// NoticeDeadline bounds the retries of a digest post, as the notices'
	// own; zero means the default.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
}

// EnqueueInput is what EnqueueDigestEntry sends: the entry, to the digest
// workflow WorkflowID (of type WorkflowType, started on TaskQueue with
// Start when it is not running).
type EnqueueInput struct {
	WorkflowID   string      `json:"workflowId"`
	WorkflowType string      `json:"workflowType"`
	TaskQueue    string      `json:"taskQueue"`
	Signal       string      `json:"signal"`
	Entry        DigestEntry `json:"entry"`
	Start        DigestStart `json:"start"`
}

// EnqueueDigestEntry hands a completion to its course's digest. A retry
// may deliver the signal twice; the digest counts an event id once.
func (a *Activities) EnqueueDigestEntry(ctx context.Context, in EnqueueInput) error {
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

// DigestInput is one digest message: the completions of a course window
// beyond its threshold, as slacknotify posts it.
type DigestInput = slacknotify.Digest

// PostDigest posts a course window's digest. Like a notice, a retry first
// looks for the digest an earlier attempt may have posted, by the window id
// in its metadata, so a crash between Slack's answer and ours never posts a
// second digest.
func (a *Activities) PostDigest(ctx context.Context, in DigestInput) (SlackResult, error) {
	if a.DigestFinder != nil {
		find := func(since time.Time) (slacknotify.Receipt, bool, error) {
			return a.DigestFinder.FindDigest(ctx, in.Channel, in.WindowID, since)
		}
		if r, found, err := a.postedBefore(ctx, "digest", in.WindowID, find, "window", in.WindowID); found || err != nil {
			return r, err
		}
	}
	start := time.Now()
	r, err := a.DigestPoster.PostDigest(ctx, in)
	a.Metrics.ProviderCall("slack", time.Since(start), err)
	if err != nil {
		return SlackResult{}, a.counted("slack", slackFailure(in.WindowID, err))
	}
	a.Metrics.Notice("slack", metrics.Sent)
	activity.GetLogger(ctx).Info("slack digest posted", "window", in.WindowID, "count", in.Count, "channel", r.Channel, "ts", r.TS)
	return SlackResult{Channel: r.Channel, TS: r.TS}, nil
}
