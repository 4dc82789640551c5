package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ExpiryNotice names, in the store's certificate notices, the notice that a
// certificate expired.
const ExpiryNotice = "expiry"

// ReminderNotice names the reminder sent as long before the expiry date as
// the course's remind offset says, written as in COURSES_FILE ("30d"):
// "reminder-30d".
func ReminderNotice(before string) string { return "reminder-" + before }

// ValidityWorkflowType is CertificateValidity's registered name.
const ValidityWorkflowType = "CertificateValidity"

// validityIDPrefix names the per-certificate validity workflows.
const validityIDPrefix = "certificate-validity-"

// ValidityWorkflowID is the id of the CertificateValidity of the
// certificate issued for eventID: "certificate-validity-<event id>".
func ValidityWorkflowID(eventID string) string {
	return validityIDPrefix + headerSafe(eventID)
}

// Signal and query of CertificateValidity.
const (
	// ValidityStopSignal ends the schedule at once; its argument says why.
	// A re-completion sends it to the certificate it renews.
	ValidityStopSignal = "stop"
	// ValidityQuery answers with the ValidityProgress.
	ValidityQuery = "validity"
)

// Activity names of the validity schedule.
const (
	ActivityCertificateNotice = "CertificateNotice"
	ActivityEnqueueExpiry     = "EnqueueExpiry"
)

// validityRunLimit is the longest one run of CertificateValidity sleeps.
// A longer wait continues as new with the same schedule, so no run of the
// workflow is older than this: a change to its commands, behind
// workflow.GetVersion, may drop the old branch once this long has passed
// since every worker runs the new code (docs/development.md).
const validityRunLimit = 30 * 24 * time.Hour

// DueReminder is one reminder of a certificate: Before as written in
// COURSES_FILE ("30d"), due At.
type DueReminder struct {
	Before string    `json:"before"`
	At     time.Time `json:"at"`
}

// CertificateValidityInput is what is due for one certificate: each
// reminder, earliest first, then the expiry notice. The record step decides
// it from the route stored with the event, so editing COURSES_FILE later
// changes nothing for certificates already issued.
type CertificateValidityInput struct {
	EventID   string        `json:"eventId"`
	ExpiresAt time.Time     `json:"expiresAt"`
	Reminders []DueReminder `json:"reminders,omitempty"`
	// Done counts the steps finished by earlier runs (continue-as-new):
	// reminders first, then the expiry.
	Done int `json:"done,omitempty"`
	// Outcomes are the finished steps', by notice name, for the result.
	Outcomes map[string]string `json:"outcomes,omitempty"`
	// NoticeDeadline bounds each notice's retries; zero means the default.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
}

// CertificateValidityResult is how a certificate's schedule ended: Ended is
// "expired" once the expiry notice is done (posted, withheld or failed),
// "superseded" when a re-completion renewed it, "revoked" when the
// certificate was found revoked at a step, "stopped" on a stop signal with
// another reason. Outcomes says what became of each notice.
type CertificateValidityResult struct {
	Ended    string            `json:"ended"`
	Reason   string            `json:"reason,omitempty"`
	Outcomes map[string]string `json:"outcomes,omitempty"`
}

// ValidityProgress is the ValidityQuery's answer: what is done and what is
// next, for the UI and coursehookctl.
type ValidityProgress struct {
	ExpiresAt time.Time         `json:"expiresAt"`
	Next      string            `json:"next,omitempty"`
	NextAt    time.Time         `json:"nextAt,omitzero"`
	Outcomes  map[string]string `json:"outcomes,omitempty"`
}

// CertificateNoticeInput asks for one notice of a certificate: a reminder
// by email, or the expiry notice on Slack. Announced, for an expiry notice
// the course's digest already posted, only keeps its receipt.
type CertificateNoticeInput struct {
	EventID   string    `json:"eventId"`
	Notice    string    `json:"notice"`
	ExpiresAt time.Time `json:"expiresAt"`
	Announced *Receipt  `json:"announced,omitempty"`
}

// CertificateNoticeResult is a notice's outcome. Skipped says why nothing
// was sent (revoked, the channel off for the course); Superseded says the
// certificate was renewed, which ends its schedule.
type CertificateNoticeResult struct {
	Receipt    Receipt `json:"receipt,omitzero"`
	Skipped    string  `json:"skipped,omitempty"`
	Superseded bool    `json:"superseded,omitempty"`
	// Revoked says the certificate was revoked, which ends its schedule:
	// a revoked certificate gets no reminder and no expiry notice.
	Revoked bool `json:"revoked,omitempty"`
	// Again says an earlier attempt, or an earlier run, had sent it.
	Again bool `json:"again,omitempty"`
}

// ExpiryPlan is how the expiry notice goes: Gather, after the certificate
// was handed to the course's expiry digest, waits up to Wait for the
// digest's answer; otherwise the notice is posted at once, unless Skipped
// or Superseded say it is not posted at all.
type ExpiryPlan struct {
	Gather     bool          `json:"gather,omitempty"`
	Wait       time.Duration `json:"wait,omitempty"`
	Skipped    string        `json:"skipped,omitempty"`
	Superseded bool          `json:"superseded,omitempty"`
	Revoked    bool          `json:"revoked,omitempty"`
}

// EnqueueExpiryInput hands an expired certificate to its course's expiry
// digest, which answers WorkflowID.
type EnqueueExpiryInput struct {
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
	TaskQueue  string `json:"taskQueue"`
	// NoticeDeadline is the digest's, as the completions' digest has it.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
}

// Outcomes of a certificate's notices, as the result and the query word
// them.
const (
	noticeSent    = "sent"
	noticeDigest  = "in the course's expiry digest"
	noticeMissed  = "not sent: the certificate expired first"
	validityEnded = "expired"
	validitySuper = "superseded"
	validityRevok = "revoked"
	validityStop  = "stopped"
)

// CertificateValidity sleeps until each of a certificate's notices is due
// and sends it: each reminder to the learner by email, then, on the expiry
// date, the business team's Slack notice through the course's expiry
// digest. Every notice goes through an activity that reads the
// certificate's row first, so a revoked or renewed (superseded)
// certificate ends its schedule with nothing more sent; a stop signal
// (a renewal's) ends it at once. It continues as new after each notice, and after validityRunLimit
// of sleep, so each run's history is a few events and no run outlives
// validityRunLimit (see there).
//
// A timer that fires while no worker runs fires when one is back, so a
// reminder missed in an outage is sent late, unless the expiry passed in
// the meantime. A reminder that fails for good is given up, and the
// expiry stays on schedule.
func CertificateValidity(ctx workflow.Context, in CertificateValidityInput) (CertificateValidityResult, error) {
	v := &validity{in: in}
	if v.in.Outcomes == nil {
		v.in.Outcomes = map[string]string{}
	}
	if err := workflow.SetQueryHandler(ctx, ValidityQuery, v.progress); err != nil {
		return CertificateValidityResult{}, err
	}
	stop := workflow.GetSignalChannel(ctx, ValidityStopSignal)
	runStart := workflow.Now(ctx)
	for v.in.Done <= len(v.in.Reminders) {
		name, due := v.next()
		for {
			wait := due.Sub(workflow.Now(ctx))
			if wait <= 0 {
				break
			}
			if elapsed := workflow.Now(ctx).Sub(runStart); elapsed+wait > validityRunLimit {
				if reason, stopped := v.sleep(ctx, stop, validityRunLimit-elapsed); stopped {
					return v.stopped(reason), nil
				}
				return v.continueAsNew(ctx, stop)
			}
			if reason, stopped := v.sleep(ctx, stop, wait); stopped {
				return v.stopped(reason), nil
			}
		}
		outcome, end := v.step(ctx, name)
		if end != "" {
			return v.stopped(end), nil
		}
		v.in.Outcomes[name] = outcome
		v.in.Done++
		if v.in.Done <= len(v.in.Reminders) {
			return v.continueAsNew(ctx, stop)
		}
	}
	return CertificateValidityResult{Ended: validityEnded, Outcomes: v.in.Outcomes}, nil
}

// validity is one CertificateValidity run's state.
type validity struct {
	in CertificateValidityInput
}

// next is the step due now: a reminder, or the expiry once they are done.
func (v *validity) next() (string, time.Time) {
	if v.in.Done < len(v.in.Reminders) {
		r := v.in.Reminders[v.in.Done]
		return ReminderNotice(r.Before), r.At
	}
	return ExpiryNotice, v.in.ExpiresAt
}

func (v *validity) progress() (ValidityProgress, error) {
	p := ValidityProgress{ExpiresAt: v.in.ExpiresAt, Outcomes: v.in.Outcomes}
	if v.in.Done <= len(v.in.Reminders) {
		p.Next, p.NextAt = v.next()
	}
	return p, nil
}

// sleep waits d, or until a stop signal, whose reason it returns.
func (v *validity) sleep(ctx workflow.Context, stop workflow.ReceiveChannel, d time.Duration) (string, bool) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var reason string
	stopped := false
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) {})
	sel.AddReceive(stop, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, &reason)
		stopped = true
	})
	sel.Select(ctx)
	return reason, stopped
}

func (v *validity) stopped(reason string) CertificateValidityResult {
	res := CertificateValidityResult{Ended: validityStop, Reason: reason, Outcomes: v.in.Outcomes}
	if reason == validitySuper || reason == validityRevok {
		res.Ended, res.Reason = reason, ""
	}
	return res
}

// continueAsNew starts the next run with what is left, unless a stop
// signal came in the meantime: it would be lost with this run.
func (v *validity) continueAsNew(ctx workflow.Context, stop workflow.ReceiveChannel) (CertificateValidityResult, error) {
	var reason string
	if stop.ReceiveAsync(&reason) {
		return v.stopped(reason), nil
	}
	return CertificateValidityResult{}, workflow.NewContinueAsNewError(ctx, ValidityWorkflowType, v.in)
}

// step sends one notice and says what became of it, or why the schedule
// ends (superseded, revoked).
func (v *validity) step(ctx workflow.Context, name string) (outcome, end string) {
	if name != ExpiryNotice {
		return v.remind(ctx, name)
	}
	return v.expire(ctx)
}

// remind sends a reminder on the email queue, unless the expiry passed
// while it waited (an outage longer than the gap).
func (v *validity) remind(ctx workflow.Context, name string) (string, string) {
	if !workflow.Now(ctx).Before(v.in.ExpiresAt) {
		return noticeMissed, ""
	}
	return v.notice(ctx, EmailTaskQueue(workflow.GetInfo(ctx).TaskQueueName), 30*time.Second,
		CertificateNoticeInput{EventID: v.in.EventID, Notice: name, ExpiresAt: v.in.ExpiresAt}, ErrEmailPermanent)
}

// expire posts the expiry notice through the course's expiry digest: at
// once while few expire, gathered into one message when a cohort does.
func (v *validity) expire(ctx workflow.Context) (string, string) {
	info := workflow.GetInfo(ctx)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	var plan ExpiryPlan
	err := workflow.ExecuteActivity(actx, ActivityEnqueueExpiry, EnqueueExpiryInput{
		EventID: v.in.EventID, WorkflowID: info.WorkflowExecution.ID, TaskQueue: info.TaskQueueName,
		NoticeDeadline: v.in.NoticeDeadline,
	}).Get(ctx, &plan)
	switch {
	case err != nil:
		return "failed: " + failureText(err), ""
	case plan.Superseded:
		return "", validitySuper
	case plan.Revoked:
		return "", validityRevok
	case plan.Skipped != "":
		return "not sent: " + plan.Skipped, ""
	}
	in := CertificateNoticeInput{EventID: v.in.EventID, Notice: ExpiryNotice, ExpiresAt: v.in.ExpiresAt}
	slackQueue := SlackTaskQueue(info.TaskQueueName)
	if !plan.Gather {
		return v.notice(ctx, slackQueue, 15*time.Second, in, ErrSlackPermanent)
	}
	ann, ok := awaitAnnouncement(ctx, v.in.EventID, plan.Wait)
	switch {
	case !ok:
		return "failed: gave up at the deadline: the course's expiry digest did not answer", ""
	case ann.Kind == AnnouncePost:
		return v.notice(ctx, slackQueue, 15*time.Second, in, ErrSlackPermanent)
	case ann.Kind == AnnounceDigest:
		r := ann.Receipt()
		in.Announced = &r
		if outcome, end := v.notice(ctx, info.TaskQueueName, 10*time.Second, in); outcome != noticeSent || end != "" {
			return outcome, end
		}
		return noticeDigest + " " + ann.WindowID, ""
	}
	return "failed: the course's expiry digest " + ann.WindowID + " was not posted: " + ann.Error, ""
}

// notice runs CertificateNotice on queue, retried until the notice
// deadline, and words its outcome.
func (v *validity) notice(ctx workflow.Context, queue string, startToClose time.Duration, in CertificateNoticeInput, permanent ...string) (string, string) {
	opts := noticeOptions(v.in.NoticeDeadline, startToClose, permanent...)
	opts.TaskQueue = queue
	opts.Summary = in.Notice
	var res CertificateNoticeResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ActivityCertificateNotice, in).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Error("certificate notice failed for good", "eventId", v.in.EventID, "notice", in.Notice, "error", err)
		return "failed: " + failureText(err, permanent...), ""
	}
	switch {
	case res.Superseded:
		return "", validitySuper
	case res.Revoked:
		return "", validityRevok
	case res.Skipped != "":
		return "not sent: " + res.Skipped, ""
	}
	return noticeSent, ""
}
