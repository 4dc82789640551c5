package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
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
			env.OnActivity(ActivityLoadEvent, mock.Anything, mock.Anything).Return(LoadedEvent{Event: ev, Status: "partial", FailedStep: c.failedBefore}, nil)
			env.OnActivity(ActivityRecordResend, mock.Anything, mock.Anything).Return(nil).Once()
			env.OnActivity(ActivityPostSlackNotice, mock.Anything, mock.Anything).Return(SlackResult{Channel: "C1", TS: "9.9"}, c.slackErr)
			env.OnActivity(ActivityEmailCertificate, mock.Anything, mock.Anything).Return(EmailResult{MessageID: "m9"}, nil)
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
				env.assertNotStarted(t, "PostSlackNotice")
			}
			if c.slackErr != nil {
				env.AssertNumberOfCalls(t, "PostSlackNotice", 1)
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
	env.OnActivity(ActivityLoadEvent, mock.Anything, mock.Anything).Return(LoadedEvent{Event: ev, Status: "completed", Revoked: true, VerificationCode: "7KQ2M-X4D9R-0ZPV3-TNW8H"}, nil)
	env.OnActivity(ActivityRecordResend, mock.Anything, mock.Anything).Return(nil).Once()
	var notice NoticeInput
	env.OnActivity(ActivityPostSlackNotice, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		notice = args.Get(1).(NoticeInput)
	}).Return(SlackResult{Channel: "C1", TS: "9.9"}, nil)
	env.OnActivity(ActivityFinishResend, mock.Anything, mock.Anything).Return(nil).Once()

	env.ExecuteWorkflow(Resend, ResendInput{ResendRecord: ResendRecord{RequestID: "r1", EventID: ev.ID, What: ResendAll, RequestedAt: time.Now()}})

	require.NoError(t, env.GetWorkflowError())
	var res ResendResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"slack"}, res.Sent)
	require.Equal(t, []string{"email"}, res.Withheld)
	require.Equal(t, StatusCompleted, res.Status)
	require.Equal(t, "7KQ2M-X4D9R-0ZPV3-TNW8H", notice.VerificationCode)
	env.assertNotStarted(t, "EmailCertificate")
}
