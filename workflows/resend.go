package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// What a resend sends: a channel's name (as FailedSteps has it), several
// separated by commas ("slack,webhook"), or every channel of the event.
const (
	ResendSlack = StepNameSlack
	ResendEmail = StepNameEmail
	ResendAll   = "all"
)

// channelName is the shape of a channel's name.
var channelName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// CheckWhat says what is wrong with a resend's what, or nil: "all", or
// channel names separated by commas. Whether the worker has those channels
// is for the resend to find out; coursehookctl does not link them.
func CheckWhat(what string) error {
	if what == ResendAll {
		return nil
	}
	for name := range strings.SplitSeq(what, ",") {
		if !channelName.MatchString(name) || name == ResendAll {
			return fmt.Errorf("%q is not a channel's name (slack, email, webhook…) nor %q", name, ResendAll)
		}
	}
	return nil
}

// asks reports whether a resend of what sends on channel.
func asks(what, channel string) bool {
	return what == ResendAll || slices.Contains(strings.Split(what, ","), channel)
}

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
	Status Status   `json:"status"`
	Sent   []string `json:"sent,omitempty"`
	Failed []string `json:"failed,omitempty"`
	Error  string   `json:"error,omitempty"`
	// Receipts are the deliveries this resend made, by channel.
	Receipts Receipts `json:"receipts,omitempty"`
	// Withheld names what was asked and not sent: the email of a revoked
	// certificate, a channel the course's route turns off.
	Withheld []string `json:"withheld,omitempty"`
}

// Resend sends an event's notices again, from its stored row and raw
// payload, so it works after the original workflow's history is gone. It
// audits the request first, sends what was asked in parallel, then records
// the event's new state: a channel that now delivered is no longer failed,
// and an event with no failed channel left is completed. The resend workflow
// carries the event's search attributes, with CompletionStatus saying how
// the event stands after it.
//
// Since the cohorts change it sends by the event's recorded route (or the
// current one, when asked), posts its own Slack message whatever the
// course's digest is doing, and emails on the throttled email queue. Since
// the channels change it sends on the channels LoadEvent names, and refuses
// a channel the worker does not have.
func Resend(ctx workflow.Context, in ResendInput) (ResendResult, error) {
	cohorts := workflow.GetVersion(ctx, changeCohorts, workflow.DefaultVersion, 1) == 1
	revocable := workflow.GetVersion(ctx, changeRevocation, workflow.DefaultVersion, 1) == 1
	channels := workflow.GetVersion(ctx, changeChannels, workflow.DefaultVersion, 1) == 1
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
	steps := ev.Channels
	if !channels {
		steps = []ChannelStep{{Name: StepNameSlack}, {Name: StepNameEmail}}
	} else if err := knownChannels(in.What, steps); err != nil {
		return ResendResult{}, err
	}
	if err := workflow.ExecuteActivity(recordCtx, ActivityRecordResend, in.ResendRecord).Get(ctx, nil); err != nil {
		return ResendResult{}, err
	}
	if err := upsertStatus(ctx, CompletionNotifying); err != nil {
		return ResendResult{}, err
	}

	noticeIn := NoticeInput{Event: ev.Event, ReceivedAt: ev.ReceivedAt, ResendID: in.RequestID, ExpiresAt: ev.ExpiresAt,
		Renderer: ev.Renderer}
	if cohorts {
		noticeIn.Route = ev.Route
	}
	if revocable {
		noticeIn.VerificationCode = ev.VerificationCode
	}
	// The envelope only: a corrected address, given now or by an earlier
	// resend, gets the same certificate.
	noticeIn.To = ev.To
	if in.To != "" {
		noticeIn.To = in.To
	}
	// A revoked certificate is not sent again, whatever was asked, and a
	// channel the course's route turns off sends nothing.
	var withheld []string
	sends := make([]bool, len(steps))
	for i, s := range steps {
		if !asks(in.What, s.Name) {
			continue
		}
		if s.Off || s.Name == StepNameEmail && revocable && ev.Revoked {
			withheld = append(withheld, s.Name)
			continue
		}
		sends[i] = true
	}
	errs := make([]error, len(steps))
	states := make([]Step, len(steps))
	receipts := make([]Receipt, len(steps))
	wg := workflow.NewWaitGroup(ctx)
	for i, s := range steps {
		if !sends[i] {
			continue
		}
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			switch {
			case channels:
				var r DeliverResult
				r, states[i], errs[i] = deliver(ctx, in.NoticeDeadline, s, noticeIn, nil)
				receipts[i] = r.Receipt
			case s.Name == StepNameSlack:
				var r SlackResult
				r, states[i], errs[i] = postSlack(ctx, in.NoticeDeadline, noticeIn)
				receipts[i] = Receipt{ID: r.TS, Where: r.Channel}
				if cohorts {
					receipts[i].Via = AnnouncedMessage
				}
			default:
				var r EmailResult
				r, states[i], errs[i] = emailCertificate(ctx, in.NoticeDeadline, noticeIn, cohorts)
				receipts[i] = Receipt{ID: r.MessageID, SHA256: r.CertificateSHA256}
			}
		})
	}
	wg.Wait(ctx)

	// A channel resent now counts by how it went now; one not resent keeps
	// its earlier state. The order is the channels', whichever ended first.
	failedBefore := strings.Split(ev.FailedStep, ",")
	outcome := OutcomeInput{EventID: in.EventID}
	var sent, failed, messages, stillFailed []string
	for i, s := range steps {
		switch {
		case !sends[i]:
			if slices.Contains(failedBefore, s.Name) {
				stillFailed = append(stillFailed, s.Name)
			}
		case errs[i] != nil:
			failed, messages = append(failed, s.Name), append(messages, states[i].Error)
			stillFailed = append(stillFailed, s.Name)
		default:
			sent = append(sent, s.Name)
			if outcome.Receipts == nil {
				outcome.Receipts = Receipts{}
			}
			outcome.Receipts[s.Name] = receipts[i]
		}
	}
	// A failed channel the worker no longer has stays failed.
	for _, name := range failedBefore {
		if name != "" && !slices.ContainsFunc(steps, func(s ChannelStep) bool { return s.Name == name }) {
			stillFailed = append(stillFailed, name)
		}
	}
	outcome.Status = string(StatusCompleted)
	if len(stillFailed) > 0 {
		outcome.Status = string(StatusPartial)
		outcome.FailedStep = strings.Join(stillFailed, ",")
		outcome.Error = strings.Join(messages, "; ")
	}
	res := ResendResult{Status: Status(outcome.Status), Sent: sent, Failed: failed, Error: strings.Join(messages, "; "),
		Receipts: outcome.Receipts, Withheld: withheld}
	err := workflow.ExecuteActivity(recordCtx, ActivityFinishResend, ResendOutcome{
		RequestID: in.RequestID, Event: outcome, Sent: sent, Failed: failed, Error: res.Error,
	}).Get(ctx, nil)
	if err != nil {
		return res, err
	}
	return res, upsertStatus(ctx, outcome.Status, stillFailed...)
}

// knownChannels refuses a resend naming a channel the event's worker does
// not have.
func knownChannels(what string, steps []ChannelStep) error {
	if what == ResendAll {
		return nil
	}
	var have []string
	for _, s := range steps {
		have = append(have, s.Name)
	}
	for name := range strings.SplitSeq(what, ",") {
		if !slices.Contains(have, name) {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("no channel %q to resend on: the worker has %s", name, strings.Join(have, ", ")), ErrResendRefused, nil)
		}
	}
	return nil
}
