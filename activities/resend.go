package activities

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// LoadEvent reads a recorded course completion.
func (a *Activities) LoadEvent(ctx context.Context, in workflows.LoadInput) (workflows.LoadedEvent, error) {
	rec, err := a.Store.Get(ctx, in.EventID)
	if err != nil {
		return workflows.LoadedEvent{}, a.recordFailure(ctx, fmt.Errorf("load event %s: %w", in.EventID, err))
	}
	ev, err := rec.Event()
	if err != nil || !ev.IsCourseCompletion() {
		return workflows.LoadedEvent{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("event %s is not a recorded course completion (status %s)", in.EventID, rec.Status),
			workflows.ErrResendRefused, temporal.ApplicationErrorOptions{NonRetryable: true})
	}
	loaded := workflows.LoadedEvent{
		Event: ev.Brief(), ReceivedAt: rec.ReceivedAt, Status: string(rec.Status), FailedStep: rec.FailedStep,
		Receipts: rec.Receipts,
	}
	loaded.Revoked = rec.Revoked()
	loaded.To, loaded.ExpiresAt, loaded.Renderer = rec.CorrectedEmail, rec.ExpiresAt, rec.Renderer
	if loaded.VerificationCode, err = a.verificationCode(ctx, rec); err != nil {
		return workflows.LoadedEvent{}, a.recordFailure(ctx, fmt.Errorf("load event %s: %w", in.EventID, err))
	}
	if a.Routes != nil {
		if in.CurrentRouting {
			r := a.Routes.Route(rec.CourseID)
			loaded.Route = &r
		} else if loaded.Route, err = a.recordedRoute(rec); err != nil {
			return workflows.LoadedEvent{}, a.recordFailure(ctx, fmt.Errorf("load event %s: %w", in.EventID, err))
		}
	}
	loaded.Channels = a.steps(loaded.Route)
	return loaded, nil
}

// RecordResend audits a resend before it sends anything.
func (a *Activities) RecordResend(ctx context.Context, in workflows.ResendRecord) error {
	r := store.Resend{
		RequestID: in.RequestID, EventID: in.EventID, What: in.What, Reason: in.Reason,
		RequestedBy: in.RequestedBy, RequestedAt: in.RequestedAt,
	}
	if in.To != "" {
		rec, err := a.Store.Get(ctx, in.EventID)
		if err != nil {
			return a.recordFailure(ctx, err)
		}
		r.OldAddress, r.NewAddress = rec.EmailAddress(), in.To
	}
	_, _, err := a.Store.InsertResend(ctx, r)
	if err != nil {
		return a.recordFailure(ctx, err)
	}
	return nil
}

// FinishResend stores the event's new state and closes the audit row.
func (a *Activities) FinishResend(ctx context.Context, in workflows.ResendOutcome) error {
	if err := a.RecordOutcome(ctx, in.Event); err != nil {
		return err
	}
	r := store.Resend{RequestID: in.RequestID, Status: store.ResendDone, Receipts: in.Event.Receipts}
	result := []string{}
	if len(in.Sent) > 0 {
		result = append(result, "sent "+strings.Join(in.Sent, ", "))
	}
	if len(in.Failed) > 0 {
		r.Status = store.ResendFailed
		result = append(result, "failed "+strings.Join(in.Failed, ", ")+": "+in.Error)
	}
	r.Result = strings.Join(result, "; ")
	if err := a.Store.FinishResend(ctx, r); err != nil {
		return a.recordFailure(ctx, err)
	}
	activity.GetLogger(ctx).Info("resend finished", "eventId", in.Event.EventID, "requestId", in.RequestID, "result", r.Result)
	return nil
}
