package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// This file is the contract and the workflow of SendGrid's delivery
// events. The webhook server stores each signed batch in the database
// before it answers, then starts one DeliveryEvents workflow for the events
// of the batch not applied yet. The workflow applies them in one activity
// (the emails' states move forward, a failed email is claimed for one
// Slack reply by the first batch to see it) and posts the replies on the
// throttled Slack queue. A crash anywhere replays from the history: the
// events are applied once (they are marked in the same transaction), and a
// reply is claimed by one batch and looked for before it is posted again.

// Activities of the delivery events.
const (
	// ActivityApplyDeliveryEvents applies stored events
	// (ApplyDeliveryInput, ApplyDeliveryResult back).
	ActivityApplyDeliveryEvents = "ApplyDeliveryEvents"
	// ActivityPostDeliveryAlert posts the Slack reply of one failed email
	// (DeliveryAlert, a Receipt back).
	ActivityPostDeliveryAlert = "PostDeliveryAlert"
)

// deliveryIDPrefix names the batches' workflows in the UI.
const deliveryIDPrefix = "sendgrid-events-"

// DeliveryEventsWorkflowID is the id of the workflow applying the events
// ids: derived from the set, so SendGrid's repeated post of a batch maps to
// the workflow its first post started.
func DeliveryEventsWorkflowID(ids []string) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sum := sha256.Sum256([]byte(strings.Join(slices.Compact(sorted), "\n")))
	return deliveryIDPrefix + hex.EncodeToString(sum[:12])
}

// DeliveryEventsInput names the stored events of one batch (their
// sg_event_ids), not their contents: those stay in the database, and the
// history stays small for a batch of thousands.
type DeliveryEventsInput struct {
	IDs []string `json:"ids"`
	// NoticeDeadline bounds the retries of a Slack reply, as a notice's.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
}

// ApplyDeliveryInput is the batch to apply; BatchID claims its failed
// emails' replies.
type ApplyDeliveryInput struct {
	BatchID string   `json:"batchId"`
	IDs     []string `json:"ids"`
}

// DeliveryAlert is one failed email whose Slack reply is to be posted.
type DeliveryAlert struct {
	EventID  string `json:"eventId"`
	ResendID string `json:"resendId,omitempty"`
	State    string `json:"state"`
}

// ApplyDeliveryResult is what a batch did, and the replies it owes.
type ApplyDeliveryResult struct {
	Applied   int             `json:"applied"`
	Unmatched int             `json:"unmatched,omitempty"`
	Alerts    []DeliveryAlert `json:"alerts,omitempty"`
	// Slack is the slack channel's step (its queue and timeout), empty
	// when the worker has no Slack channel: the replies are not posted.
	Slack *ChannelStep `json:"slack,omitempty"`
}

// DeliveryEventsResult is the batch's outcome, as the UI shows it.
type DeliveryEventsResult struct {
	Applied   int `json:"applied"`
	Unmatched int `json:"unmatched,omitempty"`
	// Replied and Failed name the emails (event id, and "/resend id" for a
	// resend's) whose Slack reply was posted, or could not be.
	Replied []string `json:"replied,omitempty"`
	Failed  []string `json:"failed,omitempty"`
}

// DeliveryEvents applies a stored batch of SendGrid's delivery events and
// posts one Slack reply per failed email, in the thread of its event's
// notice.
func DeliveryEvents(ctx workflow.Context, in DeliveryEventsInput) (DeliveryEventsResult, error) {
	var applied ApplyDeliveryResult
	// A batch of thousands is applied in one transaction: seconds, not
	// the record steps' 15 s bound.
	apply := recordOptions(ErrRecordPermanent)
	apply.StartToCloseTimeout = time.Minute
	actx := workflow.WithActivityOptions(ctx, apply)
	err := workflow.ExecuteActivity(actx, ActivityApplyDeliveryEvents, ApplyDeliveryInput{
		BatchID: workflow.GetInfo(ctx).WorkflowExecution.ID, IDs: in.IDs,
	}).Get(ctx, &applied)
	res := DeliveryEventsResult{Applied: applied.Applied, Unmatched: applied.Unmatched}
	if err != nil || len(applied.Alerts) == 0 || applied.Slack == nil {
		return res, err
	}
	s := *applied.Slack
	opts := noticeOptions(in.NoticeDeadline, s.StartToClose, s.Permanent...)
	opts.TaskQueue = workflow.GetInfo(ctx).TaskQueueName + s.QueueSuffix
	errs := make([]error, len(applied.Alerts))
	wg := workflow.NewWaitGroup(ctx)
	for i, a := range applied.Alerts {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			o := opts
			o.Summary = a.State + " " + a.key()
			errs[i] = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), ActivityPostDeliveryAlert, a).Get(ctx, nil)
		})
	}
	wg.Wait(ctx)
	for i, a := range applied.Alerts {
		if errs[i] != nil {
			res.Failed = append(res.Failed, a.key())
			workflow.GetLogger(ctx).Warn("delivery reply not posted", "eventId", a.EventID, "resendId", a.ResendID, "error", errs[i])
			continue
		}
		res.Replied = append(res.Replied, a.key())
	}
	return res, nil
}

func (a DeliveryAlert) key() string {
	if a.ResendID == "" {
		return a.EventID
	}
	return a.EventID + "/" + a.ResendID
}
