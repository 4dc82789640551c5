package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/courses"
)

// testEnv is a workflow test environment in which every activity the
// workflows schedule is registered under its name (ActivityNames) as a stub
// that fails the test: a test sets up, with OnActivity, each activity it
// expects, and any other one the workflow runs is a failure with its name,
// not a nil-pointer panic retried until a timeout.
type testEnv struct {
	*testsuite.TestWorkflowEnvironment

	mu sync.Mutex
	// started counts the activities started, mocked or not, by name;
	// queues is the task queue each last ran on.
	started map[string]int
	queues  map[string]string
	// delivered counts the Deliver attempts by channel.
	delivered map[string]int
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := &testEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment(),
		started: map[string]int{}, queues: map[string]string{}, delivered: map[string]int{}}
	registerUnexpected(t, env.TestWorkflowEnvironment)
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		env.mu.Lock()
		defer env.mu.Unlock()
		name := info.ActivityType.Name
		if name == ActivityDeliver {
			var in DeliverInput
			if err := args.Get(&in); err != nil {
				t.Errorf("decode the Deliver input: %v", err)
			}
			name += "/" + in.Channel
			env.delivered[in.Channel]++
		}
		env.started[info.ActivityType.Name]++
		env.queues[name] = info.TaskQueue
	})
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		env.mu.Lock()
		defer env.mu.Unlock()
		env.started[info.ActivityType.Name]++
	})
	return env
}

// assertNotStarted fails the test when any of the named activities ran.
func (e *testEnv) assertNotStarted(t *testing.T, names ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range names {
		if !slices.Contains(ActivityNames(), n) {
			t.Fatalf("assertNotStarted: %q is no activity of the workflows", n)
		}
		if e.started[n] > 0 {
			t.Errorf("activity %s ran %d times; the test expected none", n, e.started[n])
		}
	}
}

// assertDelivered fails the test unless channel's notice was attempted n
// times.
func (e *testEnv) assertDelivered(t *testing.T, channel string, n int) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.delivered[channel] != n {
		t.Errorf("the %s notice was attempted %d times; the test expected %d", channel, e.delivered[channel], n)
	}
}

// onDeliver sets up the Deliver activity of one channel.
func (e *testEnv) onDeliver(channel string) *testsuite.MockCallWrapper {
	return e.OnActivity(ActivityDeliver, mock.Anything, mock.MatchedBy(func(in DeliverInput) bool { return in.Channel == channel }))
}

// The steps the worker's record step names for Slack and email (see
// activities' channels): tests build their RecordResults with stepsFor.
var (
	slackStep = ChannelStep{Name: StepNameSlack, QueueSuffix: "-slack", StartToClose: 15 * time.Second, Permanent: []string{ErrSlackPermanent}}
	emailStep = ChannelStep{Name: StepNameEmail, QueueSuffix: "-email", StartToClose: 30 * time.Second,
		Permanent: []string{ErrEmailPermanent, ErrCertificate}}
)

// stepsFor are the Slack and email steps of route, as the record step
// decides them: without a route both on and Slack posted at once.
func stepsFor(route *courses.Route) []ChannelStep {
	slack, email := slackStep, emailStep
	if route != nil {
		slack.Off, email.Off = !route.Slack.Enabled, !route.Email.Enabled
		slack.Digest = !route.Digest.Off
	}
	return []ChannelStep{slack, email}
}

func (e *testEnv) queue(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queues[name]
}

// registerUnexpected registers a failing stub under every activity name,
// with the signature the worker's activity has, so that OnActivity can
// replace it by name and a call nobody set up fails the test.
func registerUnexpected(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
	reg := func(name string, fn any) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(ActivityRecordCompletion, unexpected[RecordInput, RecordResult](t, ActivityRecordCompletion))
	reg(ActivityRecordIgnored, unexpected[RecordInput, RecordResult](t, ActivityRecordIgnored))
	reg(ActivityRecordOutcome, unexpectedNoResult[OutcomeInput](t, ActivityRecordOutcome))
	reg(ActivityPostSlackNotice, unexpected[NoticeInput, SlackResult](t, ActivityPostSlackNotice))
	reg(ActivityEmailCertificate, unexpected[NoticeInput, EmailResult](t, ActivityEmailCertificate))
	reg(ActivityEnqueueDigestEntry, unexpectedNoResult[EnqueueInput](t, ActivityEnqueueDigestEntry))
	reg(ActivityPostDigest, unexpected[DigestInput, SlackResult](t, ActivityPostDigest))
	reg(ActivityGatherDigestEntries, unexpected[GatherInput, GatherResult](t, ActivityGatherDigestEntries))
	reg(ActivityAnswerDigest, unexpected[AnswerDigestInput, AnswerDigestResult](t, ActivityAnswerDigest))
	reg(ActivityAwaitDigest, unexpected[AwaitDigestInput, Announcement](t, ActivityAwaitDigest))
	reg(ActivitySealDigestWindow, unexpected[SealDigestInput, SealDigestResult](t, ActivitySealDigestWindow))
	reg(ActivityKeepDeadLetter, unexpected[DeadLetterInput, DeadLetterResult](t, ActivityKeepDeadLetter))
	reg(ActivityLoadEvent, unexpected[LoadInput, LoadedEvent](t, ActivityLoadEvent))
	reg(ActivityRecordResend, unexpectedNoResult[ResendRecord](t, ActivityRecordResend))
	reg(ActivityFinishResend, unexpectedNoResult[ResendOutcome](t, ActivityFinishResend))
	reg(ActivityDeliver, unexpected[DeliverInput, DeliverResult](t, ActivityDeliver))
	reg(ActivityApplyDeliveryEvents, unexpected[ApplyDeliveryInput, ApplyDeliveryResult](t, ActivityApplyDeliveryEvents))
	reg(ActivityPostDeliveryAlert, unexpected[DeliveryAlert, Receipt](t, ActivityPostDeliveryAlert))
	reg(ActivityCertificateNotice, unexpected[CertificateNoticeInput, CertificateNoticeResult](t, ActivityCertificateNotice))
	reg(ActivityEnqueueExpiry, unexpected[EnqueueExpiryInput, ExpiryPlan](t, ActivityEnqueueExpiry))
}

func unexpected[In, Out any](t *testing.T, name string) func(context.Context, In) (Out, error) {
	return func(context.Context, In) (Out, error) {
		var zero Out
		return zero, unexpectedCall(t, name)
	}
}

func unexpectedNoResult[In any](t *testing.T, name string) func(context.Context, In) error {
	return func(context.Context, In) error { return unexpectedCall(t, name) }
}

func unexpectedCall(t *testing.T, name string) error {
	t.Errorf("the workflow ran activity %s, which this test did not set up", name)
	return temporal.NewNonRetryableApplicationError("unexpected activity "+name, "UnexpectedActivity", nil)
}

// asReplayed makes the runs of t take their versions as a replayed run
// does, from GetVersion, so that OnGetVersion can put them on an older
// branch; a run the test environment executes is never replayed.
func asReplayed(t *testing.T) {
	replayed = func(workflow.Context) bool { return true }
	t.Cleanup(func() { replayed = workflow.IsReplaying })
}
