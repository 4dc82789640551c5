package workflows

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
)

func sampleInput(t *testing.T) CourseCompletionInput {
	t.Helper()
	body, err := os.ReadFile("../testdata/course-completion.json")
	require.NoError(t, err)
	ev, err := event.Parse(body)
	require.NoError(t, err)
	return CourseCompletionInput{Event: ev.Brief(), Payload: body, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// defaultTestTaskQueue is the task queue testsuite gives a workflow.
const defaultTestTaskQueue = "default-test-taskqueue"

// refusal is a plain application error of a permanent type, retryable as far
// as the error itself says, as a provider package would return it: only the
// workflow's own NonRetryableErrorTypes can stop its retries.
func refusal(msg, errType string) error {
	return temporal.NewApplicationError(msg, errType)
}

func result(t *testing.T, env *testEnv) CourseCompletionResult {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var r CourseCompletionResult
	require.NoError(t, env.GetWorkflowResult(&r))
	return r
}

func progress(t *testing.T, env *testEnv) Progress {
	t.Helper()
	v, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	return p
}

func TestSuccess(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.MatchedBy(func(r RecordInput) bool {
		return r.Event.ID == in.Event.ID && string(r.Payload) == string(in.Payload) && r.ReceivedAt.Equal(in.ReceivedAt)
	})).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil).Once()
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil).Once()
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1", SHA256: "abc"}}, nil).Once()
	var outcome OutcomeInput
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		outcome = args.Get(1).(OutcomeInput)
	}).Return(nil).Once()

	env.ExecuteWorkflow(CourseCompletion, in)

	require.Equal(t, SlackTaskQueue(defaultTestTaskQueue), env.queue(ActivityDeliver+"/slack"), "Slack runs on its throttled queue")
	require.Equal(t, EmailTaskQueue(defaultTestTaskQueue), env.queue(ActivityDeliver+"/email"), "email runs on its throttled queue")
	r := result(t, env)
	receipts := Receipts{StepNameSlack: {ID: "1.2", Where: "C1", Via: "message"}, StepNameEmail: {ID: "m1", SHA256: "abc"}}
	require.Equal(t, CourseCompletionResult{Status: StatusCompleted, Receipts: receipts}, r)
	require.Equal(t, OutcomeInput{EventID: in.Event.ID, Status: "completed", Receipts: receipts}, outcome)
	p := progress(t, env)
	require.Equal(t, StatusCompleted, p.Status)
	for _, s := range []Step{p.Record, p.Channels[StepNameSlack], p.Channels[StepNameEmail], p.Outcome} {
		require.Equal(t, StepDone, s.State)
	}
	env.AssertExpectations(t)
}

func TestRetryableFailureIsRetried(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil)
	env.onDeliver(StepNameSlack).
		Return(DeliverResult{}, temporal.NewApplicationError("slack: http_503", ErrSlackRetryable)).Twice()
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil).Once()
	env.onDeliver(StepNameEmail).
		Return(DeliverResult{}, errors.New("connection reset")).Once()
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil).Once()
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	require.Equal(t, StatusCompleted, result(t, env).Status)
	env.assertDelivered(t, StepNameSlack, 3)
	env.assertDelivered(t, StepNameEmail, 2)
}

func TestPermanentFailureOfOneNoticeKeepsTheOther(t *testing.T) {
	cases := []struct {
		name       string
		slackErr   error
		emailErr   error
		failedStep string
		errText    string
		slackCalls int
		emailCalls int
	}{
		{
			name:       "slack invalid_auth",
			slackErr:   refusal("slack: invalid_auth", ErrSlackPermanent),
			failedStep: "slack", errText: "slack: invalid_auth", slackCalls: 1, emailCalls: 1,
		},
		{
			name:       "sendgrid 400",
			emailErr:   refusal("sendgrid 400: The to email does not contain a valid address.", ErrEmailPermanent),
			failedStep: "email", errText: "sendgrid 400: The to email does not contain a valid address.", slackCalls: 1, emailCalls: 1,
		},
		{
			name:       "both refuse",
			slackErr:   refusal("slack: channel_not_found", ErrSlackPermanent),
			emailErr:   refusal("sendgrid 401: bad key", ErrEmailPermanent),
			failedStep: "slack,email", errText: "slack: channel_not_found; sendgrid 401: bad key", slackCalls: 1, emailCalls: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t)
			env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil)
			env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, c.slackErr)
			env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, c.emailErr)
			var outcome OutcomeInput
			env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
				outcome = args.Get(1).(OutcomeInput)
			}).Return(nil)

			env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

			r := result(t, env)
			require.Equal(t, StatusPartial, r.Status)
			require.Equal(t, c.failedStep, r.FailedStep)
			require.Equal(t, c.errText, r.Error)
			require.Equal(t, "partial", outcome.Status)
			require.Equal(t, c.failedStep, outcome.FailedStep)
			require.Equal(t, c.errText, outcome.Error)
			env.assertDelivered(t, StepNameSlack, c.slackCalls)
			env.assertDelivered(t, StepNameEmail, c.emailCalls)
			if c.slackErr == nil {
				require.Equal(t, "1.2", r.Receipts[StepNameSlack].ID, "the slack receipt is kept when only the email failed")
			}
			if c.emailErr == nil {
				require.Equal(t, "m1", r.Receipts[StepNameEmail].ID, "the email receipt is kept when only slack failed")
			}
		})
	}
}

func TestNoticeGivesUpAtTheDeadline(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	in.NoticeDeadline = time.Hour
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil)
	env.onDeliver(StepNameSlack).
		Return(DeliverResult{}, temporal.NewApplicationError("slack: http_500", ErrSlackRetryable))
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, in)

	r := result(t, env)
	require.Equal(t, StatusPartial, r.Status)
	require.Equal(t, "slack", r.FailedStep)
	require.Contains(t, r.Error, "gave up at the deadline")
	require.Contains(t, r.Error, "slack: http_500")
}

func TestIgnoredEventIsRecordedOnly(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	in.Event.Event = "courseStarted"
	env.OnActivity(ActivityRecordIgnored, mock.Anything, mock.MatchedBy(func(r RecordInput) bool {
		return string(r.Payload) == string(in.Payload)
	})).Return(RecordResult{Created: true}, nil).Once()

	env.ExecuteWorkflow(CourseCompletion, in)

	require.Equal(t, CourseCompletionResult{Status: StatusIgnored}, result(t, env))
	env.AssertExpectations(t)
	env.assertDelivered(t, StepNameSlack, 0)
	env.assertDelivered(t, StepNameEmail, 0)
	p := progress(t, env)
	require.Empty(t, p.Channels, "an ignored event has no notices")
	require.Equal(t, StepSkipped, p.Outcome.State)
}

func TestAlreadyCompletedInTheDatabaseIsADuplicate(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
		Return(RecordResult{AlreadyCompleted: true, Channels: stepsFor(nil),
			Receipts: Receipts{StepNameSlack: {ID: "1.2", Where: "C1"}, StepNameEmail: {ID: "m1"}}}, nil)

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	r := result(t, env)
	require.Equal(t, StatusDuplicate, r.Status)
	require.Equal(t, "1.2", r.Receipts[StepNameSlack].ID)
	env.assertDelivered(t, StepNameSlack, 0)
	env.assertDelivered(t, StepNameEmail, 0)
	env.assertNotStarted(t, "RecordOutcome")
}

func TestReceiptFromAnEarlierRunSkipsThatNotice(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
		Return(RecordResult{Channels: stepsFor(nil), Receipts: Receipts{StepNameSlack: {ID: "1.2", Where: "C1"}}}, nil)
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m2"}}, nil).Once()
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	r := result(t, env)
	require.Equal(t, StatusCompleted, r.Status)
	require.Equal(t, "1.2", r.Receipts[StepNameSlack].ID)
	require.Equal(t, "m2", r.Receipts[StepNameEmail].ID)
	env.assertDelivered(t, StepNameSlack, 0)
	require.Equal(t, StepSkipped, progress(t, env).Channels[StepNameSlack].State)
}

func TestPermanentRecordFailureFailsTheWorkflowAtOnce(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
		Return(RecordResult{}, refusal("record event e1: CHECK constraint failed", ErrRecordPermanent))
	in := sampleInput(t)
	// The body is kept first, as a dead letter in the folder, since the
	// database refused it.
	env.OnActivity(ActivityKeepDeadLetter, mock.Anything, mock.MatchedBy(func(dl DeadLetterInput) bool {
		return dl.EventID == in.Event.ID && string(dl.Payload) == string(in.Payload) && dl.ReceivedAt.Equal(in.ReceivedAt) &&
			dl.DatabaseFailed && strings.Contains(dl.Error, "CHECK constraint failed")
	})).Return(DeadLetterResult{Where: ".data/dead-letter/e1.json"}, nil).Once()

	env.ExecuteWorkflow(CourseCompletion, in)

	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, ErrRecordPermanent, appErr.Type())
	env.AssertNumberOfCalls(t, "RecordCompletion", 1)
	env.assertDelivered(t, StepNameSlack, 0)
	env.assertDelivered(t, StepNameEmail, 0)
	require.Equal(t, StepFailed, progress(t, env).Record.State)
}

func TestPermanentOutcomeFailureStopsAtOnce(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil)
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil)
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).
		Return(refusal("record outcome of e1: completion not found", ErrRecordPermanent))
	env.OnActivity(ActivityKeepDeadLetter, mock.Anything, mock.Anything).Return(DeadLetterResult{Where: "database"}, nil).Once()

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	require.Error(t, env.GetWorkflowError())
	env.AssertNumberOfCalls(t, "RecordOutcome", 1)
	env.AssertNumberOfCalls(t, "KeepDeadLetter", 1)
}

// TestAFailureOtherThanTheDatabaseKeepsItsLetterThere: a workflow that
// fails for another reason keeps its letter in the database first; one
// whose letter cannot be kept still fails with its own error.
func TestAFailureOtherThanTheDatabaseKeepsItsLetterThere(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
		Return(RecordResult{}, refusal("record event e1: bad input", "SomethingElse"))
	env.OnActivity(ActivityKeepDeadLetter, mock.Anything, mock.MatchedBy(func(dl DeadLetterInput) bool { return !dl.DatabaseFailed })).
		Return(DeadLetterResult{}, temporal.NewNonRetryableApplicationError("disk and database gone", "x", nil)).Once()

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, "SomethingElse", appErr.Type(), "the workflow's own failure, not the letter's")
	env.AssertNumberOfCalls(t, "KeepDeadLetter", 1)
}

func TestDatabaseOutageIsRetriedUntilItEnds(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
		Return(RecordResult{}, errors.New("record event e1: dial tcp 127.0.0.1:5432: connection refused")).Times(4)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil).Once()
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil)
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).
		Return(temporal.NewApplicationError("database is locked (SQLITE_BUSY)", "")).Twice()
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil).Once()

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	require.Equal(t, StatusCompleted, result(t, env).Status)
	env.AssertNumberOfCalls(t, "RecordCompletion", 5)
	env.AssertNumberOfCalls(t, "RecordOutcome", 3)
}

func TestUnrenderableCertificateIsNotRetried(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil)
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil)
	env.onDeliver(StepNameEmail).
		Return(DeliverResult{}, refusal("render certificate for e1: learner name is empty", ErrCertificate))
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	r := result(t, env)
	require.Equal(t, StatusPartial, r.Status)
	require.Equal(t, "email", r.FailedStep)
	require.Equal(t, "render certificate for e1: learner name is empty", r.Error, "a permanent failure is not reported as a deadline")
	env.assertDelivered(t, StepNameEmail, 1)
}

// TestMissingTimestampIsDatedByReceipt: the notices get the time of receipt
// and the brief event, and the progress says why the date is what it is.
func TestMissingTimestampIsDatedByReceipt(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	in.Event.Timestamp = ""
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.MatchedBy(func(r RecordInput) bool {
		return r.ReceivedAt.Equal(in.ReceivedAt) && r.Event.Timestamp == ""
	})).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil).Once()
	var slackIn, emailIn NoticeInput
	env.onDeliver(StepNameSlack).Run(func(args mock.Arguments) {
		slackIn = args.Get(1).(DeliverInput).Notice
	}).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil)
	env.onDeliver(StepNameEmail).Run(func(args mock.Arguments) {
		emailIn = args.Get(1).(DeliverInput).Notice
	}).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, in)

	require.Equal(t, StatusCompleted, result(t, env).Status)
	for _, n := range []NoticeInput{slackIn, emailIn} {
		require.True(t, n.ReceivedAt.Equal(in.ReceivedAt))
		require.Equal(t, in.ReceivedAt, n.Event.CompletionTime(n.ReceivedAt))
		require.Empty(t, n.Event.UserDetail.Ref1, "notices get the brief event")
	}
	require.Contains(t, progress(t, env).Record.Detail, "dated by its receipt, 2026-01-02T03:04:05Z")
}

// TestOldInputsGetTheBriefEvent: an input written before the webhook sent
// the brief event still gives the activities only the brief one.
func TestOldInputsGetTheBriefEvent(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	full, err := event.Parse(in.Payload)
	require.NoError(t, err)
	full.Source = strings.Repeat("x", 10000)
	in.Event = full
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.MatchedBy(func(r RecordInput) bool {
		return r.Event.Source == "" && string(r.Payload) == string(in.Payload)
	})).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil).Once()
	env.OnActivity(ActivityDeliver, mock.Anything, mock.MatchedBy(func(in DeliverInput) bool {
		return in.Channel == StepNameSlack && in.Notice.Event.Source == ""
	})).
		Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil).Once()
	env.OnActivity(ActivityDeliver, mock.Anything, mock.MatchedBy(func(in DeliverInput) bool {
		return in.Channel == StepNameEmail && in.Notice.Event.Source == ""
	})).
		Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil).Once()
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, in)

	require.Equal(t, StatusCompleted, result(t, env).Status)
	env.AssertExpectations(t)
}

func TestWorkflowID(t *testing.T) {
	require.Equal(t, "course-completion-32ed16df-27cb-5f72-90ff-4eaf39346f86", WorkflowID("32ed16df-27cb-5f72-90ff-4eaf39346f86"))
	require.Equal(t, "course-completion-a b/c?%", WorkflowID("a b/c?%"), "printable ASCII stays as it is")
	id := WorkflowID("évènement")
	require.Regexp(t, `^course-completion-sha256-[0-9a-f]{64}$`, id, "a gRPC header takes printable ASCII only")
	require.Equal(t, id, WorkflowID("évènement"), "stable")
	require.NotEqual(t, id, WorkflowID("evenement"))
	require.NotEqual(t, id, WorkflowID("évènement\u200b"))
}

func TestSummaryCarriesOnlySafeText(t *testing.T) {
	cases := []struct {
		event, course, want string
	}{
		{"courseCompletion", "7670fdbe-15ed-504b-a680-d404fa4b0eb4", "Course completion, course 7670fdbe-15ed-504b-a680-d404fa4b0eb4"},
		{"courseStarted", "c_42", "Ignored event, course c_42"},
		{"courseCompletion", "[click](https://evil)", "Course completion"},
		{"courseCompletion", "", "Course completion"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Summary(event.Event{Event: c.event, NotifiableID: c.course}), c.course)
	}
}

// TestSearchAttributesFollowTheOutcome: CompletionStatus moves from
// "recording", which the start set, to the outcome, with FailedSteps naming
// the failed notice, so `CompletionStatus = "partial"` finds the event. A
// run from before the lean change also passed through "notifying", and
// still does on its branch.
func TestSearchAttributesFollowTheOutcome(t *testing.T) {
	for _, lean := range []bool{true, false} {
		t.Run(fmt.Sprintf("lean=%v", lean), func(t *testing.T) {
			env := newEnv(t)
			if !lean {
				asReplayed(t)
				env.OnGetVersion(changeLean, workflow.DefaultVersion, leanPlanned).Return(workflow.DefaultVersion)
			}
			var upserts []temporal.SearchAttributes
			env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				upserts = append(upserts, args.Get(0).(temporal.SearchAttributes))
			}).Return(nil)
			env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil)
			env.onDeliver(StepNameSlack).Return(DeliverResult{}, refusal("slack: invalid_auth", ErrSlackPermanent))
			env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
			env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

			env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

			require.Equal(t, StatusPartial, result(t, env).Status)
			var statuses []string
			for _, u := range upserts {
				status, ok := u.GetKeyword(CompletionStatusKey)
				require.True(t, ok)
				statuses = append(statuses, status)
			}
			want := []string{string(StatusPartial)}
			if !lean {
				want = []string{CompletionNotifying, string(StatusPartial)}
			}
			require.Equal(t, want, statuses)
			failed, ok := upserts[len(upserts)-1].GetKeywordList(FailedStepsKey)
			require.True(t, ok)
			require.Equal(t, []string{StepNameSlack}, failed)
		})
	}
}

func TestStartSearchAttributesHoldNoLearnerData(t *testing.T) {
	in := sampleInput(t)
	sa := StartSearchAttributes(in.Event, "0123456789abcdef0123456789abcdef")
	course, _ := sa.GetKeyword(CourseIDKey)
	require.Equal(t, in.Event.NotifiableID, course)
	company, _ := sa.GetKeyword(CompanyIDKey)
	require.Equal(t, in.Event.CompanyID, company)
	learner, _ := sa.GetKeyword(LearnerHashKey)
	require.Equal(t, "0123456789abcdef0123456789abcdef", learner)
	status, _ := sa.GetKeyword(CompletionStatusKey)
	require.Equal(t, CompletionRecording, status)
	require.Equal(t, 4, sa.Size())

	ignored := StartSearchAttributes(event.Event{ID: "e", Event: "courseStarted", NotifiableID: "c"}, "h")
	require.Equal(t, 1, ignored.Size(), "an ignored event's unchecked fields stay out")
	require.Len(t, SearchAttributeTypes(), 5)
}

func routed(slack, email bool) *courses.Route {
	return &courses.Route{
		CourseName: "Orientation",
		Slack:      courses.SlackRoute{Channel: "C0456EFGH", Enabled: slack},
		Email:      courses.EmailRoute{Enabled: email},
		Digest:     courses.DigestRoute{Threshold: 5, Window: time.Minute},
	}
}

func TestCourseWithBothNoticesOffIsCompletedQuietly(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Route: routed(false, false), Channels: stepsFor(routed(false, false))}, nil)
	var outcome OutcomeInput
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		outcome = args.Get(1).(OutcomeInput)
	}).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	require.Equal(t, StatusCompleted, result(t, env).Status)
	require.Equal(t, "completed", outcome.Status)
	p := progress(t, env)
	require.Equal(t, StepSkipped, p.Channels[StepNameSlack].State)
	require.Contains(t, p.Channels[StepNameSlack].Detail, "off for this course")
	require.Equal(t, StepSkipped, p.Channels[StepNameEmail].State)
	require.Contains(t, p.Channels[StepNameEmail].Detail, "off for this course")
	require.Equal(t, "C0456EFGH", p.Route.Slack.Channel, "progress shows the recorded route")
	env.assertNotStarted(t, "EnqueueDigestEntry")
	env.assertDelivered(t, StepNameSlack, 0)
	env.assertDelivered(t, StepNameEmail, 0)
}

// answers makes the digest answer the completion with ann, once enqueued.
func answers(env *testEnv, ann Announcement, got *EnqueueInput) {
	env.OnActivity(ActivityEnqueueDigestEntry, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		*got = args.Get(1).(EnqueueInput)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(AnnouncementSignal, ann) }, time.Second)
	}).Return(nil).Once()
}

func TestCompletionAnnouncedInTheDigest(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Route: routed(true, true), Channels: stepsFor(routed(true, true))}, nil)
	var enqueued EnqueueInput
	answers(env, Announcement{EventID: in.Event.ID, Kind: AnnounceDigest, Channel: "C0456EFGH", TS: "1700.1", WindowID: "w1"}, &enqueued)
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	var outcome OutcomeInput
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		outcome = args.Get(1).(OutcomeInput)
	}).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, in)

	r := result(t, env)
	require.Equal(t, StatusCompleted, r.Status)
	require.Equal(t, "digest", r.Receipts[StepNameSlack].Via)
	require.Equal(t, "1700.1", r.Receipts[StepNameSlack].ID)
	require.Equal(t, "digest", outcome.Receipts[StepNameSlack].Via)
	require.Equal(t, "1700.1", outcome.Receipts[StepNameSlack].ID)
	require.Equal(t, DigestWorkflowID(defaultTestTaskQueue, in.Event.NotifiableID, "C0456EFGH"), enqueued.WorkflowID)
	require.Equal(t, DigestWorkflowType, enqueued.WorkflowType)
	require.Equal(t, in.Event.ID, enqueued.Entry.EventID)
	require.Equal(t, 5, enqueued.Entry.Threshold)
	require.Equal(t, "Bob Johnson", enqueued.Entry.LearnerName)
	p := progress(t, env)
	require.Contains(t, p.Channels[StepNameSlack].Detail, "in the cohort digest w1")
	env.assertDelivered(t, StepNameSlack, 0)
}

func TestCompletionToldToPostItsOwn(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	earlier := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{
		Created: true, Route: routed(true, true), Channels: stepsFor(routed(true, true)),
		Previous: &Previous{EventID: "earlier-1", CompletedAt: earlier},
	}, nil)
	var enqueued EnqueueInput
	answers(env, Announcement{EventID: in.Event.ID, Kind: AnnouncePost}, &enqueued)
	var notice, email NoticeInput
	env.onDeliver(StepNameSlack).Run(func(args mock.Arguments) {
		notice = args.Get(1).(DeliverInput).Notice
	}).Return(DeliverResult{Receipt: Receipt{ID: "1.5", Where: "C0456EFGH", Via: AnnouncedMessage}}, nil)
	env.onDeliver(StepNameEmail).Run(func(args mock.Arguments) {
		email = args.Get(1).(DeliverInput).Notice
	}).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, in)

	r := result(t, env)
	require.Equal(t, "message", r.Receipts[StepNameSlack].Via)
	require.Equal(t, "1.5", r.Receipts[StepNameSlack].ID)
	require.Equal(t, "earlier-1", r.PreviousEventID)
	require.Equal(t, "C0456EFGH", notice.Route.Slack.Channel, "the notice goes to the recorded channel")
	require.Equal(t, "earlier-1", notice.Previous.EventID, "the notice says it is a re-completion")
	require.Equal(t, "Orientation", email.Route.CourseName)
	p := progress(t, env)
	require.Contains(t, p.Record.Detail, "a re-completion")
	require.Contains(t, p.Channels[StepNameSlack].Detail, "its own message")
}

func TestDigestFailureMakesTheCompletionPartial(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Route: routed(true, false), Channels: stepsFor(routed(true, false))}, nil)
	var enqueued EnqueueInput
	answers(env, Announcement{EventID: in.Event.ID, Kind: AnnounceFailed, WindowID: "w1", Error: "slack: channel_not_found"}, &enqueued)
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, in)

	r := result(t, env)
	require.Equal(t, StatusPartial, r.Status)
	require.Equal(t, "slack", r.FailedStep)
	require.Contains(t, r.Error, "channel_not_found")
}

func TestCourseWithDigestOffPostsAtOnce(t *testing.T) {
	env := newEnv(t)
	route := routed(true, true)
	route.Digest.Off = true
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Route: route, Channels: stepsFor(route)}, nil)
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.5", Where: "C0456EFGH", Via: AnnouncedMessage}}, nil)
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	r := result(t, env)
	require.Equal(t, StatusCompleted, r.Status)
	require.Equal(t, "message", r.Receipts[StepNameSlack].Via)
	require.Equal(t, "1.5", r.Receipts[StepNameSlack].ID)
	env.assertNotStarted(t, "EnqueueDigestEntry")
	env.assertDelivered(t, StepNameSlack, 1)
}

// TestDatabaseStepsRunLocallyThenAsOrdinaryActivities checks where the
// database steps run: in the workflow task while the database answers, and
// as an ordinary activity (pending in the UI, retried without end) once a
// failure outlasts the local budget.
func TestDatabaseStepsRunLocallyThenAsOrdinaryActivities(t *testing.T) {
	env := newEnv(t)
	var local, ordinary int
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in RecordInput) (RecordResult, error) {
			if activity.GetInfo(ctx).IsLocalActivity {
				local++
				return RecordResult{}, errors.New("record event e1: dial tcp 127.0.0.1:5432: connection refused")
			}
			ordinary++
			return RecordResult{Created: true, Channels: stepsFor(nil)}, nil
		})
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil)
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	var outcomeLocal bool
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(func(ctx context.Context, in OutcomeInput) error {
		outcomeLocal = activity.GetInfo(ctx).IsLocalActivity
		return nil
	})

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	require.Equal(t, StatusCompleted, result(t, env).Status)
	require.GreaterOrEqual(t, local, 3, "a short outage is retried locally")
	require.Equal(t, 1, ordinary, "then the step goes on as an ordinary activity")
	require.True(t, outcomeLocal, "the outcome is recorded locally while the database answers")
}

// TestEveryChannelTheRecordStepNamesIsSent: a third channel needs nothing
// of the workflow: it fans out over the steps, keeps each receipt, and
// names failures in the steps' order.
func TestEveryChannelTheRecordStepNamesIsSent(t *testing.T) {
	hook := ChannelStep{Name: "webhook", QueueSuffix: "-webhook", StartToClose: 30 * time.Second, Permanent: []string{"WebhookPermanent"}}
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
		Return(RecordResult{Created: true, Channels: append(stepsFor(nil), hook)}, nil)
	env.onDeliver(StepNameSlack).Return(DeliverResult{}, refusal("slack: invalid_auth", ErrSlackPermanent)).Once()
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil).Once()
	env.onDeliver("webhook").Return(DeliverResult{}, refusal("webhook: 410 Gone", "WebhookPermanent")).Once()
	var outcome OutcomeInput
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		outcome = args.Get(1).(OutcomeInput)
	}).Return(nil).Once()

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	r := result(t, env)
	require.Equal(t, StatusPartial, r.Status)
	require.Equal(t, "slack,webhook", r.FailedStep, "in the steps' order")
	require.Equal(t, "slack: invalid_auth; webhook: 410 Gone", r.Error)
	require.Equal(t, Receipts{StepNameEmail: {ID: "m1"}}, outcome.Receipts)
	require.Equal(t, "default-test-taskqueue-webhook", env.queue(ActivityDeliver+"/webhook"))
	p := progress(t, env)
	require.Equal(t, StepFailed, p.Channels["webhook"].State)
	require.Equal(t, StepDone, p.Channels[StepNameEmail].State)
	env.AssertExpectations(t)
}

// TestRecordOnlyImportIsRecordedQuietly: an import with --record-only asks
// the record step to turn every channel off, and the workflow says why in
// its progress, not "off for this course".
func TestRecordOnlyImportIsRecordedQuietly(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	in.RecordOnly = true
	off := stepsFor(routed(true, true))
	for i := range off {
		off[i].Off = true
	}
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.MatchedBy(func(r RecordInput) bool { return r.RecordOnly })).
		Return(RecordResult{Created: true, Route: routed(true, true), Channels: off, VerificationCode: "ABCD-EFGH"}, nil).Once()
	var outcome OutcomeInput
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		outcome = args.Get(1).(OutcomeInput)
	}).Return(nil).Once()

	env.ExecuteWorkflow(CourseCompletion, in)

	require.Equal(t, CourseCompletionResult{Status: StatusCompleted}, result(t, env))
	require.Equal(t, OutcomeInput{EventID: in.Event.ID, Status: "completed"}, outcome)
	p := progress(t, env)
	for _, name := range []string{StepNameSlack, StepNameEmail} {
		require.Equal(t, Step{State: StepSkipped, Detail: "not sent: imported with --record-only"}, p.Channels[name], name)
	}
	env.assertNotStarted(t, ActivityEnqueueDigestEntry)
	env.assertDelivered(t, StepNameSlack, 0)
	env.assertDelivered(t, StepNameEmail, 0)
	env.AssertExpectations(t)
}

// TestAnExpiringCertificateGetsItsSchedule: for a course whose
// certificates expire, the completion starts the certificate's validity
// schedule as a child that outlives it, stops the schedule of the
// certificate it renews, and prints the expiry date on the certificate.
func TestAnExpiringCertificateGetsItsSchedule(t *testing.T) {
	env := newEnv(t)
	in := sampleInput(t)
	expires := in.ReceivedAt.AddDate(1, 0, 0)
	validity := &CertificateValidityInput{EventID: in.Event.ID, ExpiresAt: expires,
		Reminders: []DueReminder{{Before: "30d", At: expires.AddDate(0, 0, -30)}}}
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{
		Created: true, Route: routed(true, true), Channels: stepsFor(nil), ExpiresAt: expires, Validity: validity,
		Previous: &Previous{EventID: "earlier", CompletedAt: in.ReceivedAt.AddDate(0, -11, 0), Renewed: true},
	}, nil).Once()
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}}, nil).Once()
	env.onDeliver(StepNameEmail).Run(func(args mock.Arguments) {
		require.Equal(t, expires, args.Get(1).(DeliverInput).Notice.ExpiresAt, "the certificate says until when")
	}).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil).Once()
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil).Once()
	env.RegisterWorkflowWithOptions(CertificateValidity, workflow.RegisterOptions{Name: ValidityWorkflowType})
	var child CertificateValidityInput
	env.OnWorkflow(ValidityWorkflowType, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		child = args.Get(1).(CertificateValidityInput)
	}).Return(CertificateValidityResult{}, nil).Once()
	env.OnSignalExternalWorkflow(mock.Anything, ValidityWorkflowID("earlier"), "", ValidityStopSignal, "superseded").Return(nil).Once()

	env.ExecuteWorkflow(CourseCompletion, in)

	require.Equal(t, StatusCompleted, result(t, env).Status)
	require.Equal(t, *validity, child)
	require.Contains(t, progress(t, env).Validity, "scheduled: expires "+expires.Format(time.RFC3339))
	env.AssertExpectations(t)
}

// TestACertificateThatNeverExpiresHasNoSchedule: no validity, no child, no
// signal.
func TestACertificateThatNeverExpiresHasNoSchedule(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
		Return(RecordResult{Created: true, Channels: stepsFor(nil), Previous: &Previous{EventID: "earlier"}}, nil).Once()
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2"}}, nil).Once()
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil).Once()
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Return(nil).Once()
	env.RegisterWorkflowWithOptions(CertificateValidity, workflow.RegisterOptions{Name: ValidityWorkflowType})
	started := false
	env.OnWorkflow(ValidityWorkflowType, mock.Anything, mock.Anything).Run(func(mock.Arguments) { started = true }).
		Return(CertificateValidityResult{}, nil).Maybe()

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	require.Equal(t, StatusCompleted, result(t, env).Status)
	require.False(t, started)
	require.Empty(t, progress(t, env).Validity)
}

// TestTheLastReceiptCompletesTheRow: a lean run asks each Deliver to keep
// its receipt in the row, naming every channel that is on; when the last
// one completed the row, the run records no outcome of its own, and still
// reports every receipt and sets the outcome in the UI. A run from before
// the lean change asks for nothing and records the outcome itself.
func TestTheLastReceiptCompletesTheRow(t *testing.T) {
	for _, lean := range []bool{true, false} {
		t.Run(fmt.Sprintf("lean=%v", lean), func(t *testing.T) {
			env := newEnv(t)
			if !lean {
				asReplayed(t)
				env.OnGetVersion(changeLean, workflow.DefaultVersion, leanPlanned).Return(workflow.DefaultVersion)
			}
			webhook := ChannelStep{Name: "webhook", QueueSuffix: "-webhook", StartToClose: 10 * time.Second, Off: true}
			env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).
				Return(RecordResult{Created: true, Channels: append(stepsFor(nil), webhook)}, nil)
			var mu sync.Mutex
			var expects [][]string
			keep := func(r Receipt, completes bool) func(context.Context, DeliverInput) (DeliverResult, error) {
				return func(_ context.Context, in DeliverInput) (DeliverResult, error) {
					mu.Lock()
					defer mu.Unlock()
					expects = append(expects, in.Expect)
					return DeliverResult{Receipt: r, Completed: completes && len(in.Expect) > 0}, nil
				}
			}
			env.onDeliver(StepNameSlack).Return(keep(Receipt{ID: "1.2", Where: "C1", Via: AnnouncedMessage}, false))
			env.onDeliver(StepNameEmail).Return(keep(Receipt{ID: "m1", SHA256: "ab"}, true))
			outcomes := 0
			env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(mock.Arguments) { outcomes++ }).Return(nil)
			var statuses []string
			env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				status, _ := args.Get(0).(temporal.SearchAttributes).GetKeyword(CompletionStatusKey)
				statuses = append(statuses, status)
			}).Return(nil)

			env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

			res := result(t, env)
			require.Equal(t, StatusCompleted, res.Status)
			require.Equal(t, Receipts{StepNameSlack: {ID: "1.2", Where: "C1", Via: AnnouncedMessage}, StepNameEmail: {ID: "m1", SHA256: "ab"}}, res.Receipts)
			require.Equal(t, string(StatusCompleted), statuses[len(statuses)-1], "the outcome in the UI")
			require.Len(t, expects, 2)
			if lean {
				for _, e := range expects {
					require.Equal(t, []string{StepNameSlack, StepNameEmail}, e, "the channels that are on")
				}
				require.Zero(t, outcomes, "the last receipt completed the row")
			} else {
				require.Equal(t, [][]string{nil, nil}, expects)
				require.Equal(t, 1, outcomes)
			}
		})
	}
}

// TestAReceiptThatCompletesNothingLeavesTheOutcomeStep: when no Deliver
// completed the row (its database failed after the send, or a receipt
// lives only in a legacy column) or a notice failed, the run records the
// outcome itself, as before.
func TestAReceiptThatCompletesNothingLeavesTheOutcomeStep(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(RecordResult{Created: true, Channels: stepsFor(nil)}, nil)
	env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.2", Where: "C1"}}, nil)
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
	var got OutcomeInput
	env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		got = args.Get(1).(OutcomeInput)
	}).Return(nil)

	env.ExecuteWorkflow(CourseCompletion, sampleInput(t))

	require.Equal(t, StatusCompleted, result(t, env).Status)
	require.Equal(t, string(StatusCompleted), got.Status)
	require.Equal(t, Receipts{StepNameSlack: {ID: "1.2", Where: "C1"}, StepNameEmail: {ID: "m1"}}, got.Receipts)
}

// TestTheRecordStepsPlanDecidesPostOrGather: a planned run posts a notice
// the record step planned "post" without asking the digest, and waits for
// the digest's answer to one planned "gather", which the record step
// handed to the digest (or, where it could not, the run with Gather set);
// with no plan (a route whose
// digest is off, or a lean run from before plans) the digest decides, as
// before. Only a planned run asks the record step for a plan.
func TestTheRecordStepsPlanDecidesPostOrGather(t *testing.T) {
	cases := []struct {
		name     string
		plan     string
		enqueued bool // by the record step
		lean     workflow.Version
		ask      bool // the run enqueues the entry itself
		gather   bool
		planned  bool // the record step was asked for a plan
	}{
		{"planned post", NoticePost, false, leanPlanned, false, false, true},
		{"planned gather, enqueued by the record step", NoticeGather, true, leanPlanned, false, true, true},
		{"planned gather, the digest's receipt completed the row", NoticeGather, true, leanPlanned, false, true, true},
		{"planned gather, no client for digests", NoticeGather, false, leanPlanned, true, true, true},
		{"no plan", "", false, leanPlanned, true, false, true},
		{"a lean run from before plans", "", false, 1, true, false, false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			asReplayed(t)
			env.OnGetVersion(changeLean, workflow.DefaultVersion, leanPlanned).Return(tt.lean)
			in := sampleInput(t)
			var recorded RecordInput
			env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in RecordInput) (RecordResult, error) {
					recorded = in
					return RecordResult{Created: true, Route: routed(true, true), Channels: stepsFor(routed(true, true)),
						Notice: tt.plan, Enqueued: tt.enqueued}, nil
				})
			var enqueued EnqueueInput
			kind := AnnouncePost
			if tt.gather {
				kind = AnnounceDigest
			}
			completedByDigest := strings.Contains(tt.name, "completed the row")
			ann := Announcement{EventID: in.Event.ID, Kind: kind, TS: "1.9", Channel: "C0456EFGH", WindowID: "w1", Completed: completedByDigest}
			if tt.ask {
				answers(env, ann, &enqueued)
			}
			if tt.enqueued {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(AnnouncementSignal, ann) }, time.Second)
			}
			env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "1.5", Where: "C0456EFGH", Via: AnnouncedMessage}}, nil)
			env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
			outcomes := 0
			env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(mock.Arguments) { outcomes++ }).Return(nil)

			env.ExecuteWorkflow(CourseCompletion, in)

			r := result(t, env)
			require.Equal(t, StatusCompleted, r.Status)
			require.Equal(t, tt.planned, recorded.PlanNotice)
			if completedByDigest {
				require.Zero(t, outcomes, "the digest's receipt completed the row: no outcome step")
				require.Contains(t, progress(t, env).Outcome.Detail, "with the last notice's receipt")
			} else {
				require.Equal(t, 1, outcomes, "the email's receipt completed nothing by itself here")
			}
			if !tt.ask {
				env.assertNotStarted(t, ActivityEnqueueDigestEntry)
			}
			if tt.enqueued {
				env.assertDelivered(t, StepNameSlack, 0)
				require.Equal(t, Receipt{ID: "1.9", Where: "C0456EFGH", Via: AnnouncedDigest}, r.Receipts[StepNameSlack])
				return
			}
			if !tt.ask {
				env.assertDelivered(t, StepNameSlack, 1)
				require.Equal(t, "1.5", r.Receipts[StepNameSlack].ID)
				require.Contains(t, progress(t, env).Channels[StepNameSlack].Detail, "its own message, the course being under its digest threshold")
				return
			}
			require.Equal(t, in.Event.ID, enqueued.Entry.EventID)
			require.Equal(t, tt.gather, enqueued.Entry.Gather)
			if tt.gather {
				env.assertDelivered(t, StepNameSlack, 0)
				require.Equal(t, Receipt{ID: "1.9", Where: "C0456EFGH", Via: AnnouncedDigest}, r.Receipts[StepNameSlack])
			} else {
				env.assertDelivered(t, StepNameSlack, 1)
			}
		})
	}
}

// TestAWindowedRunAwaitsItsWindow: a run since planned windows asks the
// record step to keep a gathered entry (KeepEntry), and waits for the
// window's answer in one AwaitDigest activity, under its fixed id: no
// enqueue, no signal, no timer. The digest's receipt may complete the row;
// a wait that runs out fails the Slack step, naming the digest, while the
// email still goes.
func TestAWindowedRunAwaitsItsWindow(t *testing.T) {
	for _, tt := range []struct {
		name      string
		completed bool
		timeout   bool
	}{
		{"answered", false, false},
		{"answered, the digest's receipt completed the row", true, false},
		{"the wait ran out", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			in := sampleInput(t)
			window := &PlannedWindow{ID: "digest-x@1", End: time.Now().Add(time.Minute), Digest: "digest-x"}
			var recorded RecordInput
			env.OnActivity(ActivityRecordCompletion, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in RecordInput) (RecordResult, error) {
					recorded = in
					return RecordResult{Created: true, Route: routed(true, true), Channels: stepsFor(routed(true, true)),
						Notice: NoticeGather, Enqueued: true, Window: window}, nil
				})
			var awaited AwaitDigestInput
			env.OnActivity(ActivityAwaitDigest, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, a AwaitDigestInput) (Announcement, error) {
					awaited = a
					require.Equal(t, AwaitDigestActivityID, activity.GetInfo(ctx).ActivityID, "AnswerDigest completes it by this id")
					if tt.timeout {
						return Announcement{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, nil)
					}
					return Announcement{EventID: a.EventID, Kind: AnnounceDigest, TS: "1.9", Channel: "C0456EFGH", WindowID: a.WindowID,
						Completed: tt.completed}, nil
				})
			env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m1"}}, nil)
			outcomes := 0
			env.OnActivity(ActivityRecordOutcome, mock.Anything, mock.Anything).Run(func(mock.Arguments) { outcomes++ }).Return(nil)

			env.ExecuteWorkflow(CourseCompletion, in)

			r := result(t, env)
			require.True(t, recorded.KeepEntry && recorded.PlanNotice, "a windowed run asks for a plan and a kept entry")
			require.Equal(t, AwaitDigestInput{DigestID: "digest-x", WindowID: "digest-x@1", EventID: in.Event.ID}, awaited)
			env.assertNotStarted(t, ActivityEnqueueDigestEntry)
			env.assertDelivered(t, StepNameSlack, 0)
			if tt.timeout {
				require.Equal(t, StatusPartial, r.Status)
				require.Equal(t, StepNameSlack, r.FailedStep)
				require.Contains(t, r.Error, "the course's digest did not answer")
				require.Equal(t, "m1", r.Receipts[StepNameEmail].ID, "the email went")
				require.Equal(t, 1, outcomes)
				return
			}
			require.Equal(t, StatusCompleted, r.Status)
			require.Equal(t, Receipt{ID: "1.9", Where: "C0456EFGH", Via: AnnouncedDigest}, r.Receipts[StepNameSlack])
			require.Contains(t, progress(t, env).Channels[StepNameSlack].Detail, "in the cohort digest digest-x@1")
			if tt.completed {
				require.Zero(t, outcomes, "the digest's receipt completed the row: no outcome step")
			} else {
				require.Equal(t, 1, outcomes)
			}
		})
	}
}
