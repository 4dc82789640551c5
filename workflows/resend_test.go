package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
)

func TestResendKeepsStepsNotResentFailed(t *testing.T) {
	cases := []struct {
		name, what, failedBefore string
		slackErr                 error
		wantStatus               Status
		wantFailedStep           string
		wantSent                 []string
	}{
		{"slack of two failed", ResendSlack, "slack,email", nil, StatusPartial, "email", []string{"slack"}},
		{"all of two failed", ResendAll, "slack,email", nil, StatusCompleted, "", []string{"slack", "email"}},
		{"email of a completed event", ResendEmail, "", nil, StatusCompleted, "", []string{"email"}},
		{"slack refused again", ResendSlack, "slack", refusal("slack: invalid_auth", ErrSlackPermanent), StatusPartial, "slack", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t)
			env.RegisterWorkflow(Resend)
			ev := sampleInput(t).Event
			env.OnActivity(ActivityLoadEvent, mock.Anything, mock.Anything).Return(LoadedEvent{Event: ev, Status: "partial", FailedStep: c.failedBefore, Channels: stepsFor(nil)}, nil)
			env.OnActivity(ActivityRecordResend, mock.Anything, mock.Anything).Return(nil).Once()
			env.onDeliver(StepNameSlack).Return(DeliverResult{Receipt: Receipt{ID: "9.9", Where: "C1", Via: AnnouncedMessage}}, c.slackErr)
			env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m9"}}, nil)
			var finished ResendOutcome
			env.OnActivity(ActivityFinishResend, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
				finished = args.Get(1).(ResendOutcome)
			}).Return(nil).Once()

			env.ExecuteWorkflow(Resend, ResendInput{ResendRecord: ResendRecord{RequestID: "r1", EventID: ev.ID, What: c.what, RequestedAt: time.Now()}})

			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var res ResendResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, c.wantStatus, res.Status)
			require.Equal(t, c.wantSent, res.Sent)
			require.Equal(t, string(c.wantStatus), finished.Event.Status)
			require.Equal(t, c.wantFailedStep, finished.Event.FailedStep)
			if c.what == ResendEmail {
				env.assertDelivered(t, StepNameSlack, 0)
			}
			if c.slackErr != nil {
				env.assertDelivered(t, StepNameSlack, 1)
			}
		})
	}
}

func TestDefaultResendRequestIDIsOnePerDay(t *testing.T) {
	morning := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	id := DefaultResendRequestID("e1", "email", morning)
	require.Equal(t, id, DefaultResendRequestID("e1", "email", morning.Add(20*time.Hour)))
	require.NotEqual(t, id, DefaultResendRequestID("e1", "email", morning.Add(24*time.Hour)))
	require.NotEqual(t, id, DefaultResendRequestID("e1", "slack", morning))
	require.NotEqual(t, id, DefaultResendRequestID("e2", "email", morning))
	require.Regexp(t, `^20261129-[0-9a-f]{16}$`, id)
}

func TestResendWithholdsARevokedCertificate(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(Resend)
	ev := sampleInput(t).Event
	env.OnActivity(ActivityLoadEvent, mock.Anything, mock.Anything).Return(LoadedEvent{Event: ev, Status: "completed", Revoked: true, Channels: stepsFor(nil), VerificationCode: "7KQ2M-X4D9R-0ZPV3-TNW8H"}, nil)
	env.OnActivity(ActivityRecordResend, mock.Anything, mock.Anything).Return(nil).Once()
	var notice NoticeInput
	env.onDeliver(StepNameSlack).Run(func(args mock.Arguments) {
		notice = args.Get(1).(DeliverInput).Notice
	}).Return(DeliverResult{Receipt: Receipt{ID: "9.9", Where: "C1", Via: AnnouncedMessage}}, nil)
	env.OnActivity(ActivityFinishResend, mock.Anything, mock.Anything).Return(nil).Once()

	env.ExecuteWorkflow(Resend, ResendInput{ResendRecord: ResendRecord{RequestID: "r1", EventID: ev.ID, What: ResendAll, RequestedAt: time.Now()}})

	require.NoError(t, env.GetWorkflowError())
	var res ResendResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"slack"}, res.Sent)
	require.Equal(t, []string{"email"}, res.Withheld)
	require.Equal(t, StatusCompleted, res.Status)
	require.Equal(t, "7KQ2M-X4D9R-0ZPV3-TNW8H", notice.VerificationCode)
	env.assertDelivered(t, StepNameEmail, 0)
}

// TestResendRefusesAChannelTheWorkerDoesNotHave: coursehookctl cannot know
// the worker's channels, so the resend refuses an unknown one before it
// audits or sends anything.
func TestResendRefusesAChannelTheWorkerDoesNotHave(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(Resend)
	ev := sampleInput(t).Event
	env.OnActivity(ActivityLoadEvent, mock.Anything, mock.Anything).Return(LoadedEvent{Event: ev, Status: "completed", Channels: stepsFor(nil)}, nil)

	env.ExecuteWorkflow(Resend, ResendInput{ResendRecord: ResendRecord{RequestID: "r1", EventID: ev.ID, What: "slack,fax", RequestedAt: time.Now()}})

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, ErrResendRefused, appErr.Type())
	require.Contains(t, appErr.Message(), `no channel "fax"`)
	env.assertNotStarted(t, ActivityRecordResend)
	env.assertDelivered(t, StepNameSlack, 0)
}

// TestResendSkipsAChannelTheCourseTurnedOff: "all" sends on the channels
// that are on, and names the others as withheld.
func TestResendSkipsAChannelTheCourseTurnedOff(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(Resend)
	ev := sampleInput(t).Event
	steps := stepsFor(nil)
	steps[0].Off = true
	env.OnActivity(ActivityLoadEvent, mock.Anything, mock.Anything).Return(LoadedEvent{Event: ev, Status: "completed", Channels: steps}, nil)
	env.OnActivity(ActivityRecordResend, mock.Anything, mock.Anything).Return(nil).Once()
	env.onDeliver(StepNameEmail).Return(DeliverResult{Receipt: Receipt{ID: "m9"}}, nil).Once()
	env.OnActivity(ActivityFinishResend, mock.Anything, mock.Anything).Return(nil).Once()

	env.ExecuteWorkflow(Resend, ResendInput{ResendRecord: ResendRecord{RequestID: "r1", EventID: ev.ID, What: ResendAll, RequestedAt: time.Now()}})

	require.NoError(t, env.GetWorkflowError())
	var res ResendResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"email"}, res.Sent)
	require.Equal(t, []string{"slack"}, res.Withheld)
	require.Equal(t, Receipts{StepNameEmail: {ID: "m9"}}, res.Receipts)
	env.assertDelivered(t, StepNameSlack, 0)
}

func TestCheckWhat(t *testing.T) {
	for _, ok := range []string{"all", "slack", "email", "webhook", "slack,webhook"} {
		require.NoError(t, CheckWhat(ok), ok)
	}
	for _, bad := range []string{"", "Slack", "slack,", "slack email", "all,slack", "sl@ck"} {
		require.Error(t, CheckWhat(bad), bad)
	}
}
