package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// Signaller is the part of the Temporal client that feeds a course's digest
// workflow (it starts the workflow if it is not running, and signals it),
// and that answers a window's entries: by signal, or, for a planned
// window, by completing each entry's AwaitDigest activity.
type Signaller interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID string, runID string, signalName string, arg any) error
	CompleteActivityByID(ctx context.Context, namespace, workflowID, runID, activityID string, result any, err error) error
}

// DigestStore is the part of the database a cohort digest keeps its
// windows' entries in.
type DigestStore interface {
	GatherDigestEntries(ctx context.Context, digestID, windowID string, entries []store.DigestEntry) ([]string, []store.LateEntry, error)
	FindDigestEntries(ctx context.Context, digestID string, eventIDs []string) ([]string, []store.LateEntry, error)
	CloseDigestWindow(ctx context.Context, digestID, windowID string, announcement []byte) error
	DigestWindowEntries(ctx context.Context, windowID, after string, limit int) ([]store.DigestEntry, error)
	ForgetDigestWindows(ctx context.Context, before time.Time) (int, error)
	KeepAnnounced(ctx context.Context, eventID, channel string, r workflows.Receipt) (bool, error)
	SealNoticeWindow(ctx context.Context, digestID, windowID string, names int) (store.WindowSummary, error)
}

// Digest windows are answered a page at a time, answerers at once; an
// answered window is kept a week for an entry that comes again.
const (
	answerPage     = 1000
	answerers      = 16
	keepDigestsFor = 7 * 24 * time.Hour
)

// GatherDigestEntries keeps a batch of the entries a digest gathered into
// its open window, and returns those new to it; with no window, it looks
// them up only. An entry whose window was answered already came again (an
// enqueue retried after its signal went through): it gets that answer
// again, here, as the digest workflow would have given it.
func (a *Activities) GatherDigestEntries(ctx context.Context, in workflows.GatherInput) (workflows.GatherResult, error) {
	ds, err := a.digestStore()
	if err != nil {
		return workflows.GatherResult{}, err
	}
	var fresh, waiting []string
	var late []store.LateEntry
	if in.WindowID == "" {
		ids := make([]string, len(in.Entries))
		for i, e := range in.Entries {
			ids[i] = e.EventID
		}
		waiting, late, err = ds.FindDigestEntries(ctx, in.DigestID, ids)
	} else {
		entries := make([]store.DigestEntry, len(in.Entries))
		for i, e := range in.Entries {
			entries[i] = store.DigestEntry{EventID: e.EventID, WorkflowID: e.WorkflowID}
		}
		fresh, late, err = ds.GatherDigestEntries(ctx, in.DigestID, in.WindowID, entries)
	}
	if err != nil {
		return workflows.GatherResult{}, a.recordFailure(ctx, err)
	}
	for _, l := range late {
		var ann workflows.Announcement
		if err := json.Unmarshal(l.Announcement, &ann); err != nil {
			return workflows.GatherResult{}, fmt.Errorf("answer %s again: %w", l.EventID, err)
		}
		ann.EventID = l.EventID
		// One whose workflow has ended has nobody to tell; failing the
		// batch for it would hold up the digest.
		var missing *serviceerror.NotFound
		if err := a.answer(ctx, l.WorkflowID, ann); err != nil && !errors.As(err, &missing) {
			return workflows.GatherResult{}, err
		}
	}
	return workflows.GatherResult{Fresh: fresh, Late: len(late), Waiting: waiting}, nil
}

// AnswerDigest tells every entry of a closed window the window's answer: a
// page of entries at a time, several signals at once, heartbeating the
// last entry of each page done, so that a retry goes on from there. The
// answer is kept first, for an entry that comes again later, and answered
// windows older than a week are forgotten last.
func (a *Activities) AnswerDigest(ctx context.Context, in workflows.AnswerDigestInput) (workflows.AnswerDigestResult, error) {
	var res workflows.AnswerDigestResult
	ds, err := a.digestStore()
	if err != nil {
		return res, err
	}
	kept, err := json.Marshal(in.Announcement)
	if err != nil {
		return res, fmt.Errorf("answer digest window %s: %w", in.WindowID, err)
	}
	if err := ds.CloseDigestWindow(ctx, in.DigestID, in.WindowID, kept); err != nil {
		return res, a.recordFailure(ctx, err)
	}
	after := ""
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &after, &res); err != nil {
			return res, fmt.Errorf("answer digest window %s: read progress: %w", in.WindowID, err)
		}
	}
	for {
		page, err := ds.DigestWindowEntries(ctx, in.WindowID, after, answerPage)
		if err != nil {
			return res, a.recordFailure(ctx, err)
		}
		if len(page) == 0 {
			break
		}
		answered, gone, err := a.answerPage(ctx, ds, page, in.Announcement, in.Awaited)
		if err != nil {
			return res, err
		}
		res.Answered += answered
		res.Gone += gone
		after = page[len(page)-1].EventID
		activity.RecordHeartbeat(ctx, after, res)
	}
	if _, err := ds.ForgetDigestWindows(ctx, time.Now().Add(-keepDigestsFor)); err != nil {
		// The answers are out; what is left is housekeeping for next time.
		activity.GetLogger(ctx).Warn("old digest windows not forgotten", "error", err)
	}
	activity.GetLogger(ctx).Info("digest window answered", "window", in.WindowID, "answered", res.Answered, "gone", res.Gone)
	return res, nil
}

// answerPage signals ann to each entry of page, answerers at a time, or,
// for a planned window (awaited), completes each entry's AwaitDigest with
// it. An entry whose workflow has ended (its deadline passed) is gone, not
// a failure: there is nobody left to tell; nor is an AwaitDigest not
// scheduled yet, which finds the answer kept when it runs. A posted
// digest's receipt is kept with each entry's row first (KeepAnnounced),
// and the answer says when it completed the row: the run then has no
// outcome left to record, which spares each gathered completion a
// workflow task's local activity.
func (a *Activities) answerPage(ctx context.Context, ds DigestStore, page []store.DigestEntry, ann workflows.Announcement, awaited bool) (answered, gone int, err error) {
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(answerers)
	receipt := ann.Receipt()
	for _, e := range page {
		g.Go(func() error {
			ann := ann
			ann.EventID = e.EventID
			if ann.Kind == workflows.AnnounceDigest {
				completed, err := ds.KeepAnnounced(ctx, e.EventID, workflows.StepNameSlack, receipt)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return a.recordFailure(ctx, err)
				}
				ann.Completed = completed
			}
			answer := a.answer
			if awaited {
				answer = a.completeAwait
			}
			err := answer(ctx, e.WorkflowID, ann)
			var missing *serviceerror.NotFound
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.As(err, &missing):
				gone++
			case err != nil:
				return err
			default:
				answered++
			}
			return nil
		})
	}
	return answered, gone, g.Wait()
}

// answer signals one entry's workflow its announcement.
func (a *Activities) answer(ctx context.Context, workflowID string, ann workflows.Announcement) error {
	if a.Digests == nil {
		return errors.New("answer digest entries: the worker has no Temporal client for digests")
	}
	if err := a.Digests.SignalWorkflow(ctx, workflowID, "", workflows.AnnouncementSignal, ann); err != nil {
		return fmt.Errorf("answer %s: %w", workflowID, err)
	}
	return nil
}

// completeAwait completes one entry's AwaitDigest with its announcement.
// Completing by id costs no action on Temporal Cloud, where a signal and
// the timer that bounds the wait for it cost two.
func (a *Activities) completeAwait(ctx context.Context, workflowID string, ann workflows.Announcement) error {
	if a.Digests == nil {
		return errors.New("answer digest entries: the worker has no Temporal client for digests")
	}
	ns := activity.GetInfo(ctx).Namespace
	if err := a.Digests.CompleteActivityByID(ctx, ns, workflowID, "", workflows.AwaitDigestActivityID, ann, nil); err != nil {
		return fmt.Errorf("answer %s: %w", workflowID, err)
	}
	return nil
}

// AwaitDigest is a gathered completion's wait for its planned window's
// answer. It returns the answer the window has already (AnswerDigest kept
// it before answering anyone), keeping a posted digest's receipt with the
// row; otherwise it leaves the activity open, for AnswerDigest to complete
// by its id when the window is posted. The activity's timeout bounds the
// wait, so a digest that never answers costs the run no timer.
func (a *Activities) AwaitDigest(ctx context.Context, in workflows.AwaitDigestInput) (workflows.Announcement, error) {
	ds, err := a.digestStore()
	if err != nil {
		return workflows.Announcement{}, err
	}
	_, late, err := ds.FindDigestEntries(ctx, in.DigestID, []string{in.EventID})
	if err != nil {
		return workflows.Announcement{}, fmt.Errorf("await digest window %s: %w", in.WindowID, err)
	}
	if len(late) == 0 {
		return workflows.Announcement{}, activity.ErrResultPending
	}
	var ann workflows.Announcement
	if err := json.Unmarshal(late[0].Announcement, &ann); err != nil {
		return workflows.Announcement{}, fmt.Errorf("await digest window %s: %w", in.WindowID, err)
	}
	ann.EventID = in.EventID
	if ann.Kind == workflows.AnnounceDigest {
		if ann.Completed, err = ds.KeepAnnounced(ctx, in.EventID, workflows.StepNameSlack, ann.Receipt()); err != nil {
			return workflows.Announcement{}, fmt.Errorf("await digest window %s: %w", in.WindowID, err)
		}
	}
	return ann, nil
}

// SealDigestWindow closes a planned window and sums it up for its digest
// message (store.SealNoticeWindow).
func (a *Activities) SealDigestWindow(ctx context.Context, in workflows.SealDigestInput) (workflows.SealDigestResult, error) {
	ds, err := a.digestStore()
	if err != nil {
		return workflows.SealDigestResult{}, err
	}
	sum, err := ds.SealNoticeWindow(ctx, in.DigestID, in.WindowID, workflows.MaxDigestNames)
	if err != nil {
		return workflows.SealDigestResult{}, a.recordFailure(ctx, err)
	}
	return workflows.SealDigestResult{Count: sum.Count, Names: sum.Names, Answered: sum.Answered}, nil
}

func (a *Activities) digestStore() (DigestStore, error) {
	ds, ok := a.Store.(DigestStore)
	if !ok {
		return nil, errors.New("this worker's store does not keep digest entries")
	}
	return ds, nil
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
