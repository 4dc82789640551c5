package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
)

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
	// changeSlackQueue moved the Slack notice to its own throttled queue;
	// its old branch is retired.
	changeSlackQueue = "slack-task-queue"
	// changeAcceptedCompletes stops the record steps on permanent database
	// failures, and gives the notices the brief event and the time of
	// receipt, which dates a completion that came without a timestamp.
	// Its old branch is retired; its marker, in the first workflow task of
	// every run from before the lean change, tells those runs from the
	// runs without a marker (runVersions).
	changeAcceptedCompletes = "accepted-completes"
	// changeSearchAttributes upserts CompletionStatus and FailedSteps as the
	// workflow goes, so operators can list events by outcome.
	changeSearchAttributes = "search-attributes"
	// changeCohorts follows the route recorded with the event (channel,
	// wording, which notices go), announces through the course's digest,
	// and sends emails on their own throttled queue.
	changeCohorts = "cohorts"
	// changeRevocation gives a resend the certificate's verification code
	// and withholds the email of a revoked certificate.
	changeRevocation = "revocation"
	// changeLocalSteps runs the database steps as local activities, inside
	// the workflow task, and posts a notice at once for a course whose
	// digest is off (SLACK_DIGEST_ENABLED, COURSES_FILE) instead of asking
	// the digest.
	changeLocalSteps = "local-steps"
	// changeChannels sends the notices on the channels the record step
	// names (RecordResult.Channels), each through the Deliver activity on
	// its own queue, and keeps the receipts by channel.
	changeChannels = "channels"
	// changeDeadLetters keeps the body of an event whose workflow fails
	// after acceptance as a dead letter (KeepDeadLetter) before failing,
	// so that it outlives the history and can be replayed.
	changeDeadLetters = "dead-letters"
	// changeValidity starts the certificate's validity schedule
	// (CertificateValidity) for a course whose certificates expire, and
	// stops the schedule of the certificate a re-completion renews.
	changeValidity = "certificate-validity"
	// changeLean stands, in a new run, for every change above: one marker
	// instead of one per change (each marker also rewrites the run's
	// visibility record, through the TemporalChangeVersion upsert the SDK
	// adds), and no "notifying" upsert between "recording" and the
	// outcome, since each upsert is a billable action on Temporal Cloud
	// and a visibility write on any server. A run without the marker asks
	// for each change as before, so every older history replays on its
	// own branch.
	changeLean = "lean"
	// leanPlanned is the lean change's version 2, planned notices: the
	// record step decides whether a digest-on Slack notice posts at once
	// or the digest gathers it (RecordResult.Notice), so a quiet course's
	// notice no longer pays the digest's round trip (an activity, a
	// signal-with-start, the answer's signal and a workflow task). A
	// version of the one marker rather than a change of its own, since
	// every marker costs the run a TemporalChangeVersion upsert.
	leanPlanned = 2
)

// localBudget is how long a database step keeps trying as a local activity
// before it goes on as an ordinary one.
const localBudget = 10 * time.Second

// localRecordOptions: a database step is a few milliseconds of the worker's
// own time, so since local-steps it runs in the workflow task itself
// instead of costing two trips through the server (schedule, then result),
// and the raw body no longer goes into the history a second time as the
// activity's input. A local activity's attempts do not show in the UI, so
// only a short outage is retried here; a longer one goes on as an ordinary
// activity (recordOptions), pending in the UI with its attempt count and
// last error, and retried without end, as before.
func localRecordOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: localBudget,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        500 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        4 * time.Second,
			NonRetryableErrorTypes: []string{ErrRecordPermanent},
		},
	}
}

// noticeOptions: providers get retried with backoff until the deadline; a
// permanent refusal stops at once. The start-to-close timeout also bounds how
// long a crashed worker's attempt goes unnoticed.
func noticeOptions(deadline, startToClose time.Duration, permanent ...string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    startToClose,
		ScheduleToCloseTimeout: noticeDeadline(deadline),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: permanent,
		},
	}
}

// noticeDeadline is a run's NOTICE_DEADLINE, DefaultNoticeDeadline where
// it names none.
func noticeDeadline(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultNoticeDeadline
	}
	return d
}

// CourseCompletion records a learner's course completion, then sends its
// notices, in parallel: since the channels change, one on each channel the
// record step names for the event's route (a Slack notice to the business
// team, the learner's PDF certificate by email, a signed webhook to the
// customer's own system); before it, the Slack notice and the email. A
// notice that fails for good does not stop the others; the workflow then
// ends "partial", naming the failed channels. Channels an earlier run
// already delivered (found in the database row) are skipped, so resetting
// the workflow in the UI never sends a notice twice.
//
// Since the cohorts change, the route recorded with the event decides the
// channel, the wording and which notices go at all, and the Slack notice
// goes through the course's digest (CourseDigest): posted at once while
// the course is quiet, gathered into one message when a cohort completes.
func CourseCompletion(ctx workflow.Context, in CourseCompletionInput) (CourseCompletionResult, error) {
	v := runVersions(ctx)
	res, err := courseCompletion(ctx, in, v)
	if err != nil && !temporal.IsCanceledError(err) {
		keepDeadLetter(ctx, in, err, v)
	}
	return res, err
}

// versions answers which side of each change a run is on.
type versions struct {
	// lean is the lean change: a run with its marker is past every change.
	lean bool
	// planned: the lean marker's version 2, planned notices (leanPlanned).
	planned bool
	// windowed: planned windows, which only runs without a marker follow
	// (newest).
	windowed bool
}

// newest are the versions of a run started on this code: every change,
// planned windows among them, and no version marker. A marker costs a run
// more than its event: the Go SDK adds a TemporalChangeVersion upsert to
// each new GetVersion, which the server counts as an action and writes to
// the visibility store, one more than a completion's five.
var newest = versions{lean: true, planned: true, windowed: true}

// replayed reports whether the run's first workflow task is being replayed
// (workflow.IsReplaying, at the start); tests of older branches stand in
// for it to reach them through OnGetVersion.
var replayed = workflow.IsReplaying

// runVersions tells a run started on this code from an older one without
// recording a marker. A first workflow task that is not being replayed is
// a new run's: it takes newest, and records nothing. When that task is
// replayed, GetVersion adds no command either: it reads the markers the
// task recorded. A run with the lean marker follows its version; one
// without it but with accepted-completes' marker, which every run from
// before the lean change recorded in its first task, asks each change as
// before (versions{}); one with neither was started on this code. The runs
// older than accepted-completes, which recorded no marker in their first
// task, are retired (docs/development.md, Workflow versions). Neither call
// issues a command, so both sides of the test replay the same commands.
func runVersions(ctx workflow.Context) versions {
	if !replayed(ctx) {
		return newest
	}
	if lean := workflow.GetVersion(ctx, changeLean, workflow.DefaultVersion, leanPlanned); lean != workflow.DefaultVersion {
		return versions{lean: true, planned: lean >= leanPlanned}
	}
	if workflow.GetVersion(ctx, changeAcceptedCompletes, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return newest
	}
	return versions{}
}

// since reports whether the run follows change: always in a lean run,
// else as its history's marker for change says (none: the old branch).
func (v versions) since(ctx workflow.Context, change string) bool {
	if v.lean {
		return true
	}
	return workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) == 1
}

// keepDeadLetter keeps the body of an accepted event whose workflow fails,
// since the dead-letters change: the platform has its 2xx and will not send
// it again, and a failed workflow's history goes at the namespace's
// retention. The letter goes where the failure was not: to DEAD_LETTER_DIR
// when the database refused the event, to the database otherwise, and to
// the other place when the first cannot take it. `starter
// replay-dead-letters` starts the workflow again from it. The workflow
// fails as before, with its own error, whether or not the letter was kept.
func keepDeadLetter(ctx workflow.Context, in CourseCompletionInput, cause error, v versions) {
	if !v.since(ctx, changeDeadLetters) {
		return
	}
	var appErr *temporal.ApplicationError
	dl := DeadLetterInput{EventID: in.Event.ID, Payload: in.Payload, ReceivedAt: in.ReceivedAt, Error: cause.Error(),
		DatabaseFailed: errors.As(cause, &appErr) && appErr.Type() == ErrRecordPermanent}
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    20,
		},
	}
	var kept DeadLetterResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ActivityKeepDeadLetter, dl).Get(ctx, &kept); err != nil {
		workflow.GetLogger(ctx).Error("the failed event's dead letter could not be kept; its body is in this workflow's input",
			"eventId", in.Event.ID, "error", err)
		return
	}
	workflow.GetLogger(ctx).Error("the event failed for good and is kept as a dead letter for `starter replay-dead-letters`",
		"eventId", in.Event.ID, "deadLetter", kept.Where, "error", cause)
}

func courseCompletion(ctx workflow.Context, in CourseCompletionInput, v versions) (CourseCompletionResult, error) {
	c := &completion{in: in, ev: in.Event, logger: workflow.GetLogger(ctx), lean: v.lean, planned: v.planned, windowed: v.windowed}
	c.p = Progress{Status: StatusRunning, Record: Step{State: StepPending}, Outcome: Step{State: StepPending}}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return c.p, nil }); err != nil {
		return CourseCompletionResult{}, err
	}
	// The webhook server sends the brief event; inputs from before it did
	// carried the whole one, and Brief is the same on both.
	c.ev = c.ev.Brief()
	c.recordCtx = workflow.WithActivityOptions(ctx, recordOptions(ErrRecordPermanent))
	c.noticeIn = NoticeInput{Event: c.ev, ReceivedAt: in.ReceivedAt}
	c.searchable = v.since(ctx, changeSearchAttributes)
	c.cohorts = v.since(ctx, changeCohorts)
	c.local = v.since(ctx, changeLocalSteps)

	if !c.ev.IsCourseCompletion() {
		return c.ignore(ctx)
	}
	c.channels = v.since(ctx, changeChannels)
	rec, err := c.record(ctx)
	if err != nil {
		return c.res, err
	}
	if rec.AlreadyCompleted {
		// The database remembers this event past Temporal's retention, so a
		// delivery that outlived its workflow history still notifies nobody.
		c.p.Record.Detail = "already completed by an earlier run"
		for _, s := range c.steps {
			c.p.Channels[s.Name] = skipped("already delivered")
		}
		c.p.Outcome = skipped("")
		c.p.Status = StatusDuplicate
		c.res.Status = StatusDuplicate
		if err := c.setStatus(ctx, string(StatusDuplicate)); err != nil {
			return c.res, err
		}
		workflow.SetCurrentDetails(ctx, "Duplicate: an earlier run already delivered every notice.")
		c.logger.Info("event already completed", "eventId", in.Event.ID)
		return c.res, nil
	}

	if !c.lean {
		// A lean run stays "recording" until its outcome; its progress
		// query and current details say where it is.
		if err := c.setStatus(ctx, CompletionNotifying); err != nil {
			return c.res, err
		}
	}
	workflow.SetCurrentDetails(ctx, "Recorded; sending the notices.")
	errs := make([]error, len(c.steps))
	wg := workflow.NewWaitGroup(ctx)
	if v.since(ctx, changeValidity) {
		// Beside the notices, in the same workflow task: the schedule of
		// the new certificate, and the end of the one it renews.
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			c.schedule(ctx, rec)
		})
	}
	for i, s := range c.steps {
		switch r, delivered := rec.Receipts[s.Name]; {
		case s.Off:
		case delivered:
			c.p.Channels[s.Name] = skipped("delivered by an earlier run: " + r.String())
		default:
			wg.Add(1)
			workflow.Go(ctx, func(ctx workflow.Context) {
				defer wg.Done()
				errs[i] = c.send(ctx, s)
			})
		}
	}
	wg.Wait(ctx)
	return c.finish(ctx, errs)
}

// schedule starts the certificate's validity schedule, when its course's
// certificates expire, and stops the schedule of the certificate this
// completion renews. The schedule outlives this workflow (ParentClosePolicy
// abandon); a reset run finds it started and leaves it be. Neither can
// fail the completion: a schedule that cannot start is logged, and the
// certificate's row still says when it expires.
func (c *completion) schedule(ctx workflow.Context, rec RecordResult) {
	if p := rec.Previous; p != nil && p.Renewed {
		err := workflow.SignalExternalWorkflow(ctx, ValidityWorkflowID(p.EventID), "", ValidityStopSignal, validitySuper).Get(ctx, nil)
		if err != nil {
			// Its schedule ended already, or never began (a course that
			// gained its validity later); the row says superseded anyway.
			c.logger.Info("the renewed certificate's schedule was not running", "eventId", c.ev.ID, "renewed", p.EventID, "error", err)
		}
	}
	if rec.Validity == nil {
		return
	}
	in := *rec.Validity
	in.NoticeDeadline = c.in.NoticeDeadline
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            ValidityWorkflowID(c.ev.ID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:         "Certificate validity: reminders, then the expiry notice on " + in.ExpiresAt.UTC().Format(time.RFC3339),
	})
	err := workflow.ExecuteChildWorkflow(cctx, ValidityWorkflowType, in).GetChildWorkflowExecution().Get(ctx, nil)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		c.logger.Error("the certificate's validity schedule did not start", "eventId", c.ev.ID, "error", err)
		return
	}
	c.p.Validity = "scheduled: expires " + in.ExpiresAt.UTC().Format(time.RFC3339) + " (workflow " + ValidityWorkflowID(c.ev.ID) + ")"
}

// completion is one CourseCompletion's state, with one method per step.
type completion struct {
	in     CourseCompletionInput
	ev     event.Event
	logger log.Logger
	p      Progress
	res    CourseCompletionResult
	// recordCtx carries the database steps' options.
	recordCtx workflow.Context
	noticeIn  NoticeInput
	// steps are the event's channels, in the order FailedStep names them.
	steps []ChannelStep
	// searchable, cohorts, local, channels, lean, planned and windowed
	// are the versions this run follows.
	searchable, cohorts, local, channels, lean, planned, windowed bool
	// notice is the record step's plan for a digest-on Slack notice
	// (RecordResult.Notice), in a planned run, and enqueued says the
	// record step handed a gathered one to the digest already.
	notice   string
	enqueued bool
	// window is the planned window the record step kept a gathered
	// notice's entry in (RecordResult.Window), in a windowed run.
	window *PlannedWindow
	// rowCompleted: a notice's receipt completed the row (lean runs).
	rowCompleted bool
}

// dbStep runs a database activity: since local-steps as a local activity
// first, then, if the database is still failing after localBudget, as an
// ordinary activity. A permanent failure stops at once either way.
func (c *completion) dbStep(ctx workflow.Context, activity string, in, out any) error {
	if c.local {
		lctx := workflow.WithLocalActivityOptions(ctx, localRecordOptions())
		err := workflow.ExecuteLocalActivity(lctx, activity, in).Get(ctx, out)
		var appErr *temporal.ApplicationError
		if err == nil || errors.As(err, &appErr) && appErr.Type() == ErrRecordPermanent {
			return err
		}
		c.logger.Warn("database step still failing in the worker; retrying it as an ordinary activity",
			"eventId", c.in.Event.ID, "error", err)
	}
	return workflow.ExecuteActivity(c.recordCtx, activity, in).Get(ctx, out)
}

// setStatus tells the visibility store where the event stands. The start
// set "recording" and the ids; histories from before the change upsert
// nothing.
func (c *completion) setStatus(ctx workflow.Context, status string, failed ...string) error {
	if !c.searchable {
		return nil
	}
	return upsertStatus(ctx, status, failed...)
}

func (c *completion) recordInput() RecordInput {
	in := RecordInput{Event: c.ev, Payload: c.in.Payload, ReceivedAt: c.in.ReceivedAt, RecordOnly: c.in.RecordOnly}
	if c.planned {
		in.PlanNotice, in.NoticeDeadline = true, c.in.NoticeDeadline
	}
	in.KeepEntry = c.windowed
	return in
}

// ignore keeps an event coursehook does not act on, and tells nobody.
func (c *completion) ignore(ctx workflow.Context) (CourseCompletionResult, error) {
	c.p.Record.State = StepRunning
	if err := c.dbStep(ctx, ActivityRecordIgnored, c.recordInput(), nil); err != nil {
		c.p.Record = Step{State: StepFailed, Error: failureText(err)}
		return CourseCompletionResult{}, err
	}
	c.p.Record = Step{State: StepDone, Detail: "recorded event type " + c.ev.Event}
	c.p.Outcome = skipped("not a course completion: nobody is told")
	c.p.Status = StatusIgnored
	if err := c.setStatus(ctx, string(StatusIgnored)); err != nil {
		return CourseCompletionResult{}, err
	}
	workflow.SetCurrentDetails(ctx, "Ignored: recorded, nobody notified.")
	c.logger.Info("event ignored", "eventId", c.in.Event.ID)
	return CourseCompletionResult{Status: StatusIgnored}, nil
}

// record stores the completion, or finds the row an earlier run stored with
// its receipts and its route: every later run does what the first decided.
func (c *completion) record(ctx workflow.Context) (RecordResult, error) {
	c.p.Record.State = StepRunning
	var rec RecordResult
	if err := c.dbStep(ctx, ActivityRecordCompletion, c.recordInput(), &rec); err != nil {
		c.p.Record = Step{State: StepFailed, Error: failureText(err)}
		return rec, err
	}
	c.p.Record = Step{State: StepDone}
	var details []string
	if c.ev.Timestamp == "" {
		details = append(details, "the event has no timestamp: dated by its receipt, "+c.in.ReceivedAt.UTC().Format(time.RFC3339))
	}
	c.res = CourseCompletionResult{Receipts: maps.Clone(rec.Receipts)}
	if c.cohorts {
		c.noticeIn.Route, c.noticeIn.Previous, c.noticeIn.VerificationCode = rec.Route, rec.Previous, rec.VerificationCode
		c.noticeIn.ExpiresAt = rec.ExpiresAt
		c.p.Route = rec.Route
		if p := rec.Previous; p != nil {
			c.res.PreviousEventID = p.EventID
			details = append(details, "a re-completion: the learner completed this course before, on "+
				p.CompletedAt.UTC().Format(time.RFC3339)+" (event "+p.EventID+")")
		}
	}
	// Outside every version gate: it changes only the notices' inputs,
	// and a run on an old branch may record with this build, whose row
	// then names the renderer its email must use.
	c.noticeIn.Renderer = rec.Renderer
	c.notice, c.enqueued, c.window = rec.Notice, rec.Enqueued, rec.Window
	c.steps = rec.Channels
	if !c.channels {
		c.steps = c.legacySteps(rec.Route)
	}
	c.p.Channels = make(map[string]Step, len(c.steps))
	for _, s := range c.steps {
		c.p.Channels[s.Name] = Step{State: StepPending}
		if s.Off {
			c.p.Channels[s.Name] = c.offStep()
		}
	}
	c.p.Record.Detail = strings.Join(details, "; ")
	return rec, nil
}

// offStep is the step of a channel that is off: for every channel of an
// import with --record-only, or by the course's route.
func (c *completion) offStep() Step {
	return skipped(offReason(c.in.RecordOnly))
}

// offReason says why a channel is off.
func offReason(recordOnly bool) string {
	if recordOnly {
		return "not sent: imported with --record-only"
	}
	return "off for this course (COURSES_FILE)"
}

// legacySteps are the two notices of the runs from before the channels
// change: Slack, then email, each sent by its own activity.
func (c *completion) legacySteps(route *courses.Route) []ChannelStep {
	slack, email := ChannelStep{Name: StepNameSlack}, ChannelStep{Name: StepNameEmail}
	if c.cohorts && route != nil {
		slack.Off, email.Off = !route.Slack.Enabled, !route.Email.Enabled
	}
	return []ChannelStep{slack, email}
}

// send delivers the notice of one channel and keeps its receipt.
func (c *completion) send(ctx workflow.Context, s ChannelStep) error {
	c.p.Channels[s.Name] = Step{State: StepRunning}
	var r Receipt
	var step Step
	var err error
	switch {
	case !c.channels && s.Name == StepNameSlack:
		r, step, err = c.announce(ctx)
	case !c.channels:
		var er EmailResult
		er, step, err = emailCertificate(ctx, c.in.NoticeDeadline, c.noticeIn, c.cohorts)
		r = Receipt{ID: er.MessageID, SHA256: er.CertificateSHA256}
	case s.Digest && c.notice == NoticePost:
		r, step, err = c.deliver(ctx, s)
		if err == nil {
			step.Detail = fmt.Sprintf("its own message, the course being under its digest threshold (%d a window): %s",
				c.noticeIn.Route.Digest.Threshold, r.String())
		}
	case s.Digest && c.window != nil:
		r, step, err = c.awaitWindow(ctx, s.Permanent[0])
	case s.Digest:
		r, step, err = c.gather(ctx, s.Permanent[0], func(ctx workflow.Context) (Receipt, Step, error) {
			return c.deliver(ctx, s)
		})
	default:
		r, step, err = c.deliver(ctx, s)
	}
	c.p.Channels[s.Name] = step
	if err == nil {
		if c.res.Receipts == nil {
			c.res.Receipts = Receipts{}
		}
		c.res.Receipts[s.Name] = r
	}
	return err
}

// deliver sends the notice of one channel; in a lean run the Deliver
// activity also keeps its receipt in the row, and the last one completes
// the row.
func (c *completion) deliver(ctx workflow.Context, s ChannelStep) (Receipt, Step, error) {
	var expect []string
	if c.lean {
		for _, st := range c.steps {
			if !st.Off {
				expect = append(expect, st.Name)
			}
		}
	}
	r, step, err := deliver(ctx, c.in.NoticeDeadline, s, c.noticeIn, expect)
	c.rowCompleted = c.rowCompleted || r.Completed
	return r.Receipt, step, err
}

// announce is the Slack notice of the runs from before the channels change.
// Before the cohorts change the notice was posted directly; since, the
// course's digest decides whether it is posted at once or gathered into the
// window's digest.
func (c *completion) announce(ctx workflow.Context) (Receipt, Step, error) {
	if !c.cohorts || c.noticeIn.Route == nil || c.local && c.noticeIn.Route.Digest.Off {
		r, step, err := postSlack(ctx, c.in.NoticeDeadline, c.noticeIn)
		rc := Receipt{ID: r.TS, Where: r.Channel}
		if c.cohorts {
			rc.Via = AnnouncedMessage
		}
		return rc, step, err
	}
	return c.gather(ctx, ErrSlackPermanent, func(ctx workflow.Context) (Receipt, Step, error) {
		r, step, err := postSlack(ctx, c.in.NoticeDeadline, c.noticeIn)
		return Receipt{ID: r.TS, Where: r.Channel, Via: AnnouncedMessage}, step, err
	})
}

// gather sends a notice through the course's cohort digest: the digest
// tells it to send its own (with send) while the course is quiet, and
// announces it itself while a cohort completes. A digest that could not be
// posted fails the step with the type permanent.
func (c *completion) gather(ctx workflow.Context, permanent string, send func(workflow.Context) (Receipt, Step, error)) (Receipt, Step, error) {
	ann, err := c.askDigest(ctx)
	if err != nil {
		return Receipt{}, Step{State: StepFailed, Error: failureText(err)}, err
	}
	if ann.Kind != AnnouncePost {
		// Only a planned run's receipts are all kept with the row; an
		// older run records its outcome as before.
		c.rowCompleted = c.rowCompleted || c.planned && ann.Completed
		return digestAnswer(ann, permanent)
	}
	r, step, err := send(ctx)
	if err != nil {
		return Receipt{}, step, err
	}
	step.Detail = "its own message: " + r.String()
	return r, step, nil
}

// digestAnswer is the receipt of a notice the digest announced, or the
// failure, of type permanent, of a digest that could not be posted.
func digestAnswer(ann Announcement, permanent string) (Receipt, Step, error) {
	if ann.Kind == AnnounceDigest {
		return ann.Receipt(),
			Step{State: StepDone, Detail: "in the cohort digest " + ann.WindowID + ": " + ann.Channel + " " + ann.TS}, nil
	}
	err := temporal.NewApplicationError("the cohort digest "+ann.WindowID+" was not posted: "+ann.Error, permanent)
	return Receipt{}, Step{State: StepFailed, Error: failureText(err, permanent)}, err
}

// askDigest hands the completion to its course's digest and waits for the
// answer: at once while the course is quiet, when its window closes during
// a cohort. The wait is bounded by the window and the notice deadline.
func (c *completion) askDigest(ctx workflow.Context) (Announcement, error) {
	route := c.noticeIn.Route
	info := workflow.GetInfo(ctx)
	c.p.Channels[StepNameSlack] = Step{State: StepRunning, Detail: "waiting for the course's digest to answer"}
	if !c.enqueued {
		// The record step planned it gathered (store.PlanNotice), which
		// the digest's own count, blind to the notices posted without it,
		// cannot know.
		enqueue := DigestEnqueue(info.TaskQueueName, info.WorkflowExecution.ID, c.ev, route, c.in.NoticeDeadline, c.notice == NoticeGather)
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		})
		if err := workflow.ExecuteActivity(actx, ActivityEnqueueDigestEntry, enqueue).Get(ctx, nil); err != nil {
			return Announcement{}, err
		}
	}
	ann, ok := awaitAnnouncement(ctx, c.ev.ID, route.Digest.Window+noticeDeadline(c.in.NoticeDeadline))
	if !ok {
		return Announcement{}, temporal.NewApplicationError("gave up at the deadline: the course's digest did not answer", ErrSlackRetryable)
	}
	return ann, nil
}

// awaitWindow waits for the answer of the planned window the record step
// kept the completion's entry in: in AwaitDigest, which returns at once if
// the window was answered already and is otherwise completed by the
// digest's AnswerDigest. The activity's timeouts bound the wait, by the
// window and the notice deadline, as a timer did for a signalled answer.
func (c *completion) awaitWindow(ctx workflow.Context, permanent string) (Receipt, Step, error) {
	w := c.window
	c.p.Channels[StepNameSlack] = Step{State: StepRunning, Detail: "gathered into the cohort digest " + w.ID + "; waiting for it to be posted"}
	wait := DigestWindowLength(c.noticeIn.Route.Digest.Window) + noticeDeadline(c.in.NoticeDeadline)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:             AwaitDigestActivityID,
		ScheduleToCloseTimeout: wait,
		StartToCloseTimeout:    wait,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		Summary:                "waiting for the cohort digest",
	})
	var ann Announcement
	err := workflow.ExecuteActivity(actx, ActivityAwaitDigest, AwaitDigestInput{DigestID: w.Digest, WindowID: w.ID, EventID: c.ev.ID}).Get(ctx, &ann)
	if err != nil {
		if temporal.IsTimeoutError(err) {
			err = temporal.NewApplicationError("gave up at the deadline: the course's digest did not answer", ErrSlackRetryable)
		}
		return Receipt{}, Step{State: StepFailed, Error: failureText(err)}, err
	}
	c.rowCompleted = c.rowCompleted || ann.Completed
	return digestAnswer(ann, permanent)
}

// awaitAnnouncement waits up to wait for a digest's answer about eventID;
// ok is false when the wait ran out. An answer meant for an earlier run of
// the same workflow id (a reset) names another event only if ids were
// reused; it is skipped.
func awaitAnnouncement(ctx workflow.Context, eventID string, wait time.Duration) (Announcement, bool) {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(timerCtx, wait)
	answers := workflow.GetSignalChannel(ctx, AnnouncementSignal)
	for {
		var ann Announcement
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(answers, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(ctx, &ann) })
		sel.AddFuture(timer, func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		if timedOut {
			return Announcement{}, false
		}
		if ann.EventID == eventID {
			return ann, true
		}
	}
}

// finish decides the outcome and records it.
func (c *completion) finish(ctx workflow.Context, errs []error) (CourseCompletionResult, error) {
	// Failures are listed in the channels' order, whichever finished
	// first, so the result does not depend on timing.
	var failed, messages []string
	for i, s := range c.steps {
		if errs[i] != nil {
			failed, messages = append(failed, s.Name), append(messages, c.p.Channels[s.Name].Error)
		}
	}
	res := &c.res
	res.Status = StatusCompleted
	if len(failed) > 0 {
		res.Status = StatusPartial
		res.FailedStep = strings.Join(failed, ",")
		res.Error = strings.Join(messages, "; ")
	}

	if c.rowCompleted && len(failed) == 0 {
		// A lean run whose notices all went: the last one's receipt
		// completed the row, so there is nothing left to record.
		c.p.Outcome = Step{State: StepDone, Detail: string(res.Status) + ", with the last notice's receipt"}
	} else {
		c.p.Outcome.State = StepRunning
		err := c.dbStep(ctx, ActivityRecordOutcome, OutcomeInput{
			EventID:    c.in.Event.ID,
			Status:     string(res.Status),
			Receipts:   res.Receipts,
			FailedStep: res.FailedStep,
			Error:      res.Error,
		}, nil)
		if err != nil {
			c.p.Outcome = Step{State: StepFailed, Error: failureText(err)}
			return *res, err
		}
		c.p.Outcome = Step{State: StepDone, Detail: string(res.Status)}
	}
	c.p.Status = res.Status
	if err := c.setStatus(ctx, string(res.Status), failed...); err != nil {
		return *res, err
	}
	workflow.SetCurrentDetails(ctx, outcomeDetails(c.steps, *res, c.in.RecordOnly))
	c.logger.Info("course completion finished", "eventId", c.in.Event.ID, "status", string(res.Status), "failedStep", res.FailedStep)
	return *res, nil
}

// deliver is a channel's notice step since the channels change, shared by
// CourseCompletion and Resend: on the channel's throttled queue, retried
// until the deadline, stopped at once by a permanent refusal. It returns
// the step's state for progress.
func deliver(ctx workflow.Context, deadline time.Duration, s ChannelStep, in NoticeInput, expect []string) (DeliverResult, Step, error) {
	opts := noticeOptions(deadline, s.StartToClose, s.Permanent...)
	opts.TaskQueue = workflow.GetInfo(ctx).TaskQueueName + s.QueueSuffix
	opts.Summary = s.Name
	var r DeliverResult
	actx := workflow.WithActivityOptions(ctx, opts)
	if err := workflow.ExecuteActivity(actx, ActivityDeliver, DeliverInput{Channel: s.Name, Notice: in, Expect: expect}).Get(ctx, &r); err != nil {
		return r, Step{State: StepFailed, Error: failureText(err, s.Permanent...)}, err
	}
	return r, Step{State: StepDone, Detail: r.String()}, nil
}

// postSlack is the Slack notice step of the runs from before the channels
// change, shared by CourseCompletion and Resend: on the throttled Slack
// queue, retried until the deadline, stopped at once by a permanent
// refusal. It returns the step's state for progress.
func postSlack(ctx workflow.Context, deadline time.Duration, in NoticeInput) (SlackResult, Step, error) {
	permanent := []string{ErrSlackPermanent}
	// The runs from before the throttled Slack queue are retired
	// (docs/development.md, "Workflow versions"): the call stays, with
	// version 1 the oldest supported, so such a history fails its replay
	// by name instead of posting from the main queue.
	workflow.GetVersion(ctx, changeSlackQueue, 1, 1)
	opts := noticeOptions(deadline, 15*time.Second, permanent...)
	opts.TaskQueue = SlackTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	var r SlackResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ActivityPostSlackNotice, in).Get(ctx, &r); err != nil {
		return r, Step{State: StepFailed, Error: failureText(err, permanent...)}, err
	}
	return r, Step{State: StepDone, Detail: r.Channel + " " + r.TS}, nil
}

// emailCertificate is the certificate email step of the runs from before
// the channels change, shared likewise. The throttled email queue came with
// the cohorts change; throttled says whether this run follows it.
func emailCertificate(ctx workflow.Context, deadline time.Duration, in NoticeInput, throttled bool) (EmailResult, Step, error) {
	permanent := []string{ErrEmailPermanent, ErrCertificate}
	opts := noticeOptions(deadline, 30*time.Second, permanent...)
	if throttled {
		opts.TaskQueue = EmailTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	}
	actx := workflow.WithActivityOptions(ctx, opts)
	var r EmailResult
	if err := workflow.ExecuteActivity(actx, ActivityEmailCertificate, in).Get(ctx, &r); err != nil {
		return r, Step{State: StepFailed, Error: failureText(err, permanent...)}, err
	}
	return r, Step{State: StepDone, Detail: r.MessageID}, nil
}

// outcomeDetails is what the UI shows an operator once the workflow is done.
// Provider messages stay in the result; this line only says what to do.
func outcomeDetails(steps []ChannelStep, res CourseCompletionResult, recordOnly bool) string {
	if res.Status == StatusPartial {
		return "Partial: " + res.FailedStep + " failed for good (see the result's error). " +
			"Fix the cause, then reset this workflow to its first workflow task: delivered notices are not sent again."
	}
	var sent, off []string
	for _, s := range steps {
		if s.Off {
			off = append(off, s.Name)
			continue
		}
		what := s.Name
		if res.Receipts[s.Name].Via == AnnouncedDigest {
			what += " (in the course's cohort digest)"
		}
		sent = append(sent, what)
	}
	line := "Completed: recorded"
	if len(sent) > 0 {
		line += "; delivered: " + strings.Join(sent, ", ")
	}
	if len(off) > 0 {
		line += "; " + offReason(recordOnly) + ": " + strings.Join(off, ", ")
	}
	return line + "."
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
