package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/store"
)

// ErrResendRefused: the event cannot be resent (unknown, or not a course
// completion). coursehookctl checks first, so this guards the workflow.
const ErrResendRefused = "ResendRefused"

// LoadInput names a recorded event.
type LoadInput struct {
	EventID string `json:"eventId"`
	// CurrentRouting asks for the worker's routing now rather than the
	// route recorded with the event.
	CurrentRouting bool `json:"currentRouting,omitempty"`
}

// LoadedEvent is a recorded event as a resend needs it: rebuilt from the
// stored row and raw payload, so a resend works after Temporal's retention
// removed the original workflow.
type LoadedEvent struct {
	Event          event.Event `json:"event"`
	ReceivedAt     time.Time   `json:"receivedAt"`
	Status         string      `json:"status"`
	FailedStep     string      `json:"failedStep,omitempty"`
	SlackChannel   string      `json:"slackChannel,omitempty"`
	SlackTS        string      `json:"slackTs,omitempty"`
	EmailMessageID string      `json:"emailMessageId,omitempty"`
	// Route is the event's recorded route, or the current one when asked;
	// nil without routing.
	Route *courses.Route `json:"route,omitempty"`
	// VerificationCode is the certificate's code, given one now if the
	// row predates codes and the worker verifies.
	VerificationCode string `json:"verificationCode,omitempty"`
	// Revoked says an operator revoked the certificate: a resend does not
	// email it again.
	Revoked bool `json:"revoked,omitempty"`
}

// LoadEvent reads a recorded course completion.
func (a *Activities) LoadEvent(ctx context.Context, in LoadInput) (LoadedEvent, error) {
	rec, err := a.Store.Get(ctx, in.EventID)
	if err != nil {
		return LoadedEvent{}, recordFailure(fmt.Errorf("load event %s: %w", in.EventID, err))
	}
	var ev event.Event
	// The payload passed validation when it came; decoding it again without
	// validation keeps a later, stricter rule from locking it out.
	if err := json.Unmarshal(rec.Payload, &ev); err != nil || !ev.IsCourseCompletion() {
		return LoadedEvent{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("event %s is not a recorded course completion (status %s)", in.EventID, rec.Status),
			ErrResendRefused, temporal.ApplicationErrorOptions{NonRetryable: true})
	}
	loaded := LoadedEvent{
		Event: ev.Brief(), ReceivedAt: rec.ReceivedAt, Status: string(rec.Status), FailedStep: rec.FailedStep,
		SlackChannel: rec.SlackChannel, SlackTS: rec.SlackTS, EmailMessageID: rec.EmailMessageID,
	}
	loaded.Revoked = rec.Revoked()
	if loaded.VerificationCode, err = a.verificationCode(ctx, rec); err != nil {
		return LoadedEvent{}, recordFailure(fmt.Errorf("load event %s: %w", in.EventID, err))
	}
	if a.Routes != nil {
		if in.CurrentRouting {
			r := a.Routes.Route(rec.CourseID)
			loaded.Route = &r
		} else if loaded.Route, err = a.recordedRoute(rec); err != nil {
			return LoadedEvent{}, recordFailure(fmt.Errorf("load event %s: %w", in.EventID, err))
		}
	}
	return loaded, nil
}

// ResendRecord is the audit row of one resend.
type ResendRecord struct {
	RequestID   string    `json:"requestId"`
	EventID     string    `json:"eventId"`
	What        string    `json:"what"`
	Reason      string    `json:"reason,omitempty"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
}

// RecordResend audits a resend before it sends anything.
func (a *Activities) RecordResend(ctx context.Context, in ResendRecord) error {
	_, _, err := a.Store.InsertResend(ctx, store.Resend{
		RequestID: in.RequestID, EventID: in.EventID, What: in.What, Reason: in.Reason,
		RequestedBy: in.RequestedBy, RequestedAt: in.RequestedAt,
	})
	if err != nil {
		return recordFailure(err)
	}
	return nil
}

// ResendOutcome is how a resend ended, and the event's state after it.
type ResendOutcome struct {
	RequestID string `json:"requestId"`
	// Event is the completion's new state: status, receipts and the steps
	// still failed.
	Event OutcomeInput `json:"event"`
	// Sent names the notices this resend delivered; Failed the ones it could
	// not, with Error saying why.
	Sent   []string `json:"sent,omitempty"`
	Failed []string `json:"failed,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// FinishResend stores the event's new state and closes the audit row.
func (a *Activities) FinishResend(ctx context.Context, in ResendOutcome) error {
	if err := a.RecordOutcome(ctx, in.Event); err != nil {
		return err
	}
	r := store.Resend{RequestID: in.RequestID, Status: store.ResendDone, SlackTS: in.Event.SlackTS, EmailMessageID: in.Event.EmailMessageID}
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
		return recordFailure(err)
	}
	activity.GetLogger(ctx).Info("resend finished", "eventId", in.Event.EventID, "requestId", in.RequestID, "result", r.Result)
	return nil
}
