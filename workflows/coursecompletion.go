package workflows

import (
	"errors"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/activities"
)

// a lets the workflow name activity methods without a live value; the worker
// registers the real one.
var a *activities.Activities

// recordOptions: the database step must not give up on an outage, since
// without the row nothing else may happen. An outage shows in the UI as a
// pending activity with its attempt count and last error, and resumes on its
// own. A failure the database will repeat forever (permanent) stops at once.
func recordOptions(permanent ...string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: permanent,
		},
	}
}

// Change ids for workflow.GetVersion. Each names one deliberate change to the
// commands the workflow issues; histories recorded before it replay on the
// old branch (workflow.DefaultVersion).
const (
	// changeSlackQueue moved the Slack notice to its own throttled queue.
	changeSlackQueue = "slack-task-queue"
	// changeAcceptedCompletes stops the record steps on permanent database
	// failures, and gives the notices the brief event and the time of
	// receipt, which dates a completion that came without a timestamp.
	changeAcceptedCompletes = "accepted-completes"
	// changeSearchAttributes upserts CompletionStatus and FailedSteps as the
	// workflow goes, so operators can list events by outcome.
	changeSearchAttributes = "search-attributes"
)

// noticeOptions: providers get retried with backoff until the deadline; a
// permanent refusal stops at once. The start-to-close timeout also bounds how
// long a crashed worker's attempt goes unnoticed.
func noticeOptions(deadline, startToClose time.Duration, permanent ...string) workflow.ActivityOptions {
	if deadline <= 0 {
		deadline = DefaultNoticeDeadline
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout:    startToClose,
		ScheduleToCloseTimeout: deadline,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: permanent,
		},
	}
}

// CourseCompletion records a learner's course completion, then tells the
// business team on Slack and emails the learner a PDF certificate, in
// parallel. A notice that fails for good does not stop the other; the
// workflow then ends "partial", naming the failed step. Steps an earlier run
// already delivered (found in the database row) are skipped, so resetting the
// workflow in the UI never sends a notice twice.
func CourseCompletion(ctx workflow.Context, in CourseCompletionInput) (CourseCompletionResult, error) {
	logger := workflow.GetLogger(ctx)
	p := Progress{Status: StatusRunning, Record: Step{State: StepPending}, Slack: Step{State: StepPending},
		Email: Step{State: StepPending}, Outcome: Step{State: StepPending}}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return p, nil }); err != nil {
		return CourseCompletionResult{}, err
	}
	ev := in.Event
	recordCtx := workflow.WithActivityOptions(ctx, recordOptions())
	noticeIn := activities.NoticeInput{Event: ev}
	if workflow.GetVersion(ctx, changeAcceptedCompletes, workflow.DefaultVersion, 1) == 1 {
		// The webhook server already sends the brief event; inputs from
		// before it did carried the whole one, and Brief is the same on both.
		ev = ev.Brief()
		recordCtx = workflow.WithActivityOptions(ctx, recordOptions(activities.ErrRecordPermanent))
		noticeIn = activities.NoticeInput{Event: ev, ReceivedAt: in.ReceivedAt}
	}
	recordIn := activities.RecordInput{Event: ev, Payload: in.Payload, ReceivedAt: in.ReceivedAt}
	searchable := workflow.GetVersion(ctx, changeSearchAttributes, workflow.DefaultVersion, 1) == 1
	// setStatus tells the visibility store where the event stands. The
	// start set "recording" and the ids; histories from before the change
	// upsert nothing.
	setStatus := func(status string, failed ...string) error {
		if !searchable {
			return nil
		}
		return upsertStatus(ctx, status, failed...)
	}

	if !ev.IsCourseCompletion() {
		p.Record.State = StepRunning
		if err := workflow.ExecuteActivity(recordCtx, a.RecordIgnored, recordIn).Get(ctx, nil); err != nil {
			p.Record = Step{State: StepFailed, Error: failureText(err)}
			return CourseCompletionResult{}, err
		}
		p.Record = Step{State: StepDone, Detail: "recorded event type " + ev.Event}
		p.Slack, p.Email, p.Outcome = skipped("not a course completion"), skipped("not a course completion"), skipped("")
		p.Status = StatusIgnored
		if err := setStatus(string(StatusIgnored)); err != nil {
			return CourseCompletionResult{}, err
		}
		workflow.SetCurrentDetails(ctx, "Ignored: recorded, nobody notified.")
		logger.Info("event ignored", "eventId", in.Event.ID)
		return CourseCompletionResult{Status: StatusIgnored}, nil
	}

	p.Record.State = StepRunning
	var rec activities.RecordResult
	if err := workflow.ExecuteActivity(recordCtx, a.RecordCompletion, recordIn).Get(ctx, &rec); err != nil {
		p.Record = Step{State: StepFailed, Error: failureText(err)}
		return CourseCompletionResult{}, err
	}
	p.Record = Step{State: StepDone}
	if ev.Timestamp == "" {
		p.Record.Detail = "the event has no timestamp: dated by its receipt, " + in.ReceivedAt.UTC().Format(time.RFC3339)
	}
	res := CourseCompletionResult{
		SlackChannel:      rec.SlackChannel,
		SlackTS:           rec.SlackTS,
		EmailMessageID:    rec.EmailMessageID,
		CertificateSHA256: rec.CertificateSHA256,
	}
	if rec.AlreadyCompleted {
		// The database remembers this event past Temporal's retention, so a
		// delivery that outlived its workflow history still notifies nobody.
		p.Record.Detail = "already completed by an earlier run"
		p.Slack, p.Email, p.Outcome = skipped("already delivered"), skipped("already delivered"), skipped("")
		p.Status = StatusDuplicate
		res.Status = StatusDuplicate
		if err := setStatus(string(StatusDuplicate)); err != nil {
			return res, err
		}
		workflow.SetCurrentDetails(ctx, "Duplicate: an earlier run already delivered both notices.")
		logger.Info("event already completed", "eventId", in.Event.ID)
		return res, nil
	}

	if err := setStatus(CompletionNotifying); err != nil {
		return res, err
	}
	workflow.SetCurrentDetails(ctx, "Recorded; sending the Slack notice and the certificate email.")
	var slackErr, emailErr error
	wg := workflow.NewWaitGroup(ctx)
	if rec.SlackTS == "" {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			p.Slack.State = StepRunning
			var r activities.SlackResult
			if r, p.Slack, slackErr = postSlack(ctx, in.NoticeDeadline, noticeIn); slackErr == nil {
				res.SlackChannel, res.SlackTS = r.Channel, r.TS
			}
		})
	} else {
		p.Slack = skipped("posted by an earlier run: " + rec.SlackTS)
	}
	if rec.EmailMessageID == "" {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			p.Email.State = StepRunning
			var r activities.EmailResult
			if r, p.Email, emailErr = emailCertificate(ctx, in.NoticeDeadline, noticeIn); emailErr == nil {
				res.EmailMessageID, res.CertificateSHA256 = r.MessageID, r.CertificateSHA256
			}
		})
	} else {
		p.Email = skipped("sent by an earlier run: " + rec.EmailMessageID)
	}
	wg.Wait(ctx)

	// Failures are listed in a fixed order, whichever finished first, so the
	// result does not depend on timing.
	var failed, messages []string
	if slackErr != nil {
		failed, messages = append(failed, StepNameSlack), append(messages, p.Slack.Error)
	}
	if emailErr != nil {
		failed, messages = append(failed, StepNameEmail), append(messages, p.Email.Error)
	}
	res.Status = StatusCompleted
	if len(failed) > 0 {
		res.Status = StatusPartial
		res.FailedStep = strings.Join(failed, ",")
		res.Error = strings.Join(messages, "; ")
	}

	p.Outcome.State = StepRunning
	err := workflow.ExecuteActivity(recordCtx, a.RecordOutcome, activities.OutcomeInput{
		EventID:           in.Event.ID,
		Status:            string(res.Status),
		SlackChannel:      res.SlackChannel,
		SlackTS:           res.SlackTS,
		EmailMessageID:    res.EmailMessageID,
		CertificateSHA256: res.CertificateSHA256,
		FailedStep:        res.FailedStep,
		Error:             res.Error,
	}).Get(ctx, nil)
	if err != nil {
		p.Outcome = Step{State: StepFailed, Error: failureText(err)}
		return res, err
	}
	p.Outcome = Step{State: StepDone, Detail: string(res.Status)}
	p.Status = res.Status
	if err := setStatus(string(res.Status), failed...); err != nil {
		return res, err
	}
	workflow.SetCurrentDetails(ctx, outcomeDetails(res))
	logger.Info("course completion finished", "eventId", in.Event.ID, "status", string(res.Status), "failedStep", res.FailedStep)
	return res, nil
}

// postSlack is the Slack notice step, shared by CourseCompletion and
// Resend: on the throttled Slack queue, retried until the deadline, stopped
// at once by a permanent refusal. It returns the step's state for progress.
func postSlack(ctx workflow.Context, deadline time.Duration, in activities.NoticeInput) (activities.SlackResult, Step, error) {
	permanent := []string{activities.ErrSlackPermanent}
	opts := noticeOptions(deadline, 30*time.Second, permanent...)
	// Histories recorded before the throttled Slack queue existed replay
	// with Slack on the main queue.
	if workflow.GetVersion(ctx, changeSlackQueue, workflow.DefaultVersion, 1) == 1 {
		opts.TaskQueue = SlackTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
		opts.StartToCloseTimeout = 15 * time.Second
	}
	var r activities.SlackResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.PostSlackNotice, in).Get(ctx, &r); err != nil {
		return r, Step{State: StepFailed, Error: failureText(err, permanent...)}, err
	}
	return r, Step{State: StepDone, Detail: r.Channel + " " + r.TS}, nil
}

// emailCertificate is the certificate email step, shared likewise.
func emailCertificate(ctx workflow.Context, deadline time.Duration, in activities.NoticeInput) (activities.EmailResult, Step, error) {
	permanent := []string{activities.ErrEmailPermanent, activities.ErrCertificate}
	actx := workflow.WithActivityOptions(ctx, noticeOptions(deadline, 30*time.Second, permanent...))
	var r activities.EmailResult
	if err := workflow.ExecuteActivity(actx, a.EmailCertificate, in).Get(ctx, &r); err != nil {
		return r, Step{State: StepFailed, Error: failureText(err, permanent...)}, err
	}
	return r, Step{State: StepDone, Detail: r.MessageID}, nil
}

// outcomeDetails is what the UI shows an operator once the workflow is done.
// Provider messages stay in the result; this line only says what to do.
func outcomeDetails(res CourseCompletionResult) string {
	if res.Status == StatusPartial {
		return "Partial: " + res.FailedStep + " failed for good (see the result's error). " +
			"Fix the cause, then reset this workflow to its first workflow task: delivered notices are not sent again."
	}
	return "Completed: Slack notice posted and certificate emailed."
}

func skipped(why string) Step {
	return Step{State: StepSkipped, Detail: why}
}

// failureText is the most useful line of an activity failure: the
// provider's own message, not the wrapping around it. A failure that was
// still retryable means the retries ran into the deadline, and says so.
func failureText(err error, permanent ...string) string {
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		if cause := errors.Unwrap(timeoutErr); cause != nil {
			return "gave up at the deadline: " + failureText(cause, permanent...)
		}
		return "gave up at the deadline: " + timeoutErr.TimeoutType().String()
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		if appErr.NonRetryable() || slices.Contains(permanent, appErr.Type()) {
			return appErr.Message()
		}
		return "gave up at the deadline: " + appErr.Message()
	}
	return err.Error()
}
