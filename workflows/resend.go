package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// What a resend sends: the step names of FailedSteps, or both.
const (
	ResendSlack = StepNameSlack
	ResendEmail = StepNameEmail
	ResendAll   = "all"
)

// ResendWhats are the values ResendInput.What takes.
func ResendWhats() []string { return []string{ResendEmail, ResendSlack, ResendAll} }

// resendIDPrefix keeps resends apart from course completions in the UI.
const resendIDPrefix = "resend-"

// ResendWorkflowID is the id of the resend with requestID: the same request
// maps to the same workflow, so Temporal refuses to run it twice.
func ResendWorkflowID(requestID string) string {
	return resendIDPrefix + requestID
}

// DefaultResendRequestID is the request id of a resend nobody named: derived
// from the event, what is sent and the UTC day, so an accidental repeat on
// the same day is the same request and does nothing.
func DefaultResendRequestID(eventID, what string, now time.Time) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + what + "\x00" + now.UTC().Format(time.DateOnly)))
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(sum[:8])
}

// ResendInput asks for an event's notices again: the request, as its audit
// row records it, and what the workflow needs beside it.
type ResendInput struct {
	ResendRecord
	// LearnerHash is set as a search attribute, like the completion's.
	LearnerHash string `json:"learnerHash,omitempty"`
	// NoticeDeadline bounds the retries, as for a completion.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
	// CurrentRouting sends by the worker's routing now instead of the route
	// recorded with the event (after COURSES_FILE moved a course, say).
	CurrentRouting bool `json:"currentRouting,omitempty"`
}

// ResendResult is what the resend did, and the event's status after it.
type ResendResult struct {
	Status         Status   `json:"status"`
	Sent           []string `json:"sent,omitempty"`
	Failed         []string `json:"failed,omitempty"`
	Error          string   `json:"error,omitempty"`
	SlackTS        string   `json:"slackTs,omitempty"`
	EmailMessageID string   `json:"emailMessageId,omitempty"`
	// Withheld names what was asked and not sent: the email of a revoked
	// certificate.
	Withheld []string `json:"withheld,omitempty"`
}

// Resend sends an event's notices again, from its stored row and raw
// payload, so it works after the original workflow's history is gone. It
// audits the request first, sends what was asked in parallel, then records
// the event's new state: a step that now went out is no longer failed, and
// an event with no failed step left is completed. The resend workflow
// carries the event's search attributes, with CompletionStatus saying how
// the event stands after it.
//
// Since the cohorts change it sends by the event's recorded route (or the
// current one, when asked), posts its own Slack message whatever the
// course's digest is doing, and emails on the throttled email queue.
func Resend(ctx workflow.Context, in ResendInput) (ResendResult, error) {
	cohorts := workflow.GetVersion(ctx, changeCohorts, workflow.DefaultVersion, 1) == 1
	revocable := workflow.GetVersion(ctx, changeRevocation, workflow.DefaultVersion, 1) == 1
	recordCtx := workflow.WithActivityOptions(ctx, recordOptions(ErrRecordPermanent, ErrResendRefused))
	var ev LoadedEvent
	load := LoadInput{EventID: in.EventID}
	if cohorts {
		load.CurrentRouting = in.CurrentRouting
	}
	if err := workflow.ExecuteActivity(recordCtx, ActivityLoadEvent, load).Get(ctx, &ev); err != nil {
		return ResendResult{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, startUpdates(ev.Event, in.LearnerHash)...); err != nil {
		return ResendResult{}, err
	}
	if err := workflow.ExecuteActivity(recordCtx, ActivityRecordResend, in.ResendRecord).Get(ctx, nil); err != nil {
		return ResendResult{}, err
	}
	if err := upsertStatus(ctx, CompletionNotifying); err != nil {
		return ResendResult{}, err
	}

	noticeIn := NoticeInput{Event: ev.Event, ReceivedAt: ev.ReceivedAt, ResendID: in.RequestID}
	if cohorts {
		noticeIn.Route = ev.Route
	}
	if revocable {
		noticeIn.VerificationCode = ev.VerificationCode
	}
	// A revoked certificate is not sent again, whatever was asked.
	withheld := revocable && ev.Revoked && in.What != ResendSlack
	outcome := OutcomeInput{EventID: in.EventID, SlackChannel: ev.SlackChannel, SlackTS: ev.SlackTS, EmailMessageID: ev.EmailMessageID}
	var sent, failed, messages []string
	var slackErr, emailErr error
	var slackStep, emailStep Step
	wg := workflow.NewWaitGroup(ctx)
	if in.What == ResendSlack || in.What == ResendAll {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			var r SlackResult
			if r, slackStep, slackErr = postSlack(ctx, in.NoticeDeadline, noticeIn); slackErr == nil {
				outcome.SlackChannel, outcome.SlackTS = r.Channel, r.TS
				if cohorts {
					outcome.Announcement = AnnouncedMessage
				}
			}
		})
	}
	if (in.What == ResendEmail || in.What == ResendAll) && !withheld {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			var r EmailResult
			if r, emailStep, emailErr = emailCertificate(ctx, in.NoticeDeadline, noticeIn, cohorts); emailErr == nil {
				outcome.EmailMessageID, outcome.CertificateSHA256 = r.MessageID, r.CertificateSHA256
			}
		})
	}
	wg.Wait(ctx)

	// A step resent now counts by how it went now; one not resent keeps
	// its earlier state. The order is fixed, whichever ended first.
	failedBefore := strings.Split(ev.FailedStep, ",")
	var stillFailed []string
	for _, step := range []struct {
		name  string
		asked bool
		err   error
		state Step
	}{
		{StepNameSlack, in.What != ResendEmail, slackErr, slackStep},
		{StepNameEmail, in.What != ResendSlack && !withheld, emailErr, emailStep},
	} {
		switch {
		case !step.asked:
			if slices.Contains(failedBefore, step.name) {
				stillFailed = append(stillFailed, step.name)
			}
		case step.err != nil:
			failed, messages = append(failed, step.name), append(messages, step.state.Error)
			stillFailed = append(stillFailed, step.name)
		default:
			sent = append(sent, step.name)
		}
	}
	outcome.Status = string(StatusCompleted)
	if len(stillFailed) > 0 {
		outcome.Status = string(StatusPartial)
		outcome.FailedStep = strings.Join(stillFailed, ",")
		outcome.Error = strings.Join(messages, "; ")
	}
	res := ResendResult{Status: Status(outcome.Status), Sent: sent, Failed: failed, Error: strings.Join(messages, "; "),
		SlackTS: outcome.SlackTS, EmailMessageID: outcome.EmailMessageID}
	if withheld {
		res.Withheld = []string{StepNameEmail}
	}
	err := workflow.ExecuteActivity(recordCtx, ActivityFinishResend, ResendOutcome{
		RequestID: in.RequestID, Event: outcome, Sent: sent, Failed: failed, Error: res.Error,
	}).Get(ctx, nil)
	if err != nil {
		return res, err
	}
	return res, upsertStatus(ctx, outcome.Status, stillFailed...)
}
