package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// TestDeliveryEventsPostsEachReplyOnce: the batch is applied once, each
// owed reply is posted on the throttled Slack queue, and a reply Slack
// refuses for good is reported without failing the batch, whose events
// are applied.
func TestDeliveryEventsPostsEachReplyOnce(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityApplyDeliveryEvents, mock.Anything, mock.MatchedBy(func(in ApplyDeliveryInput) bool {
		return in.BatchID == "sendgrid-events-test" && len(in.IDs) == 3
	})).Return(ApplyDeliveryResult{Applied: 3, Unmatched: 1, Slack: &slackStep, Alerts: []DeliveryAlert{
		{EventID: "evt-1", State: "bounced"}, {EventID: "evt-2", ResendID: "req-1", State: "dropped"},
	}}, nil).Once()
	env.OnActivity(ActivityPostDeliveryAlert, mock.Anything, DeliveryAlert{EventID: "evt-1", State: "bounced"}).
		Return(Receipt{ID: "1733475600.000100"}, nil).Once()
	env.OnActivity(ActivityPostDeliveryAlert, mock.Anything, DeliveryAlert{EventID: "evt-2", ResendID: "req-1", State: "dropped"}).
		Return(Receipt{}, temporal.NewApplicationError("slack: channel_not_found", ErrSlackPermanent)).Once()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "sendgrid-events-test"})
	env.ExecuteWorkflow(DeliveryEvents, DeliveryEventsInput{IDs: []string{"a", "b", "c"}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res DeliveryEventsResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, DeliveryEventsResult{Applied: 3, Unmatched: 1, Replied: []string{"evt-1"}, Failed: []string{"evt-2/req-1"}}, res)
	require.Equal(t, "default-test-taskqueue-slack", env.queue(ActivityPostDeliveryAlert))
	env.AssertExpectations(t)
}

// TestDeliveryEventsWithoutSlack: a worker without a Slack channel applies
// the batch and posts nothing.
func TestDeliveryEventsWithoutSlack(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(ActivityApplyDeliveryEvents, mock.Anything, mock.Anything).
		Return(ApplyDeliveryResult{Applied: 1, Alerts: []DeliveryAlert{{EventID: "evt-1", State: "bounced"}}}, nil).Once()
	env.ExecuteWorkflow(DeliveryEvents, DeliveryEventsInput{IDs: []string{"a"}})
	require.NoError(t, env.GetWorkflowError())
	env.assertNotStarted(t, ActivityPostDeliveryAlert)
}

// TestDeliveryEventsIDIsTheSet: the batch's workflow id depends on its
// events, not their order or repeats, so SendGrid's repeated post finds the
// first one's workflow.
func TestDeliveryEventsIDIsTheSet(t *testing.T) {
	a := DeliveryEventsWorkflowID([]string{"x", "y", "z"})
	require.Equal(t, a, DeliveryEventsWorkflowID([]string{"z", "x", "y", "x"}))
	require.NotEqual(t, a, DeliveryEventsWorkflowID([]string{"x", "y"}))
	require.Contains(t, a, "sendgrid-events-")
}
