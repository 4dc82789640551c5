package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/workflows"
)

// TestOperatorResetRetriesOnlyTheFailedNotice follows the recovery in docs/operating.md
// steps: Slack stays down past the notice deadline, the workflow ends
// partial, Slack comes back, an operator resets the workflow to its first
// workflow task, and the new run posts the Slack notice without emailing the
// learner a second time.
func TestOperatorResetRetriesOnlyTheFailedNotice(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{Webhook: webhook.Options{NoticeDeadline: 5 * time.Second}})
	s.Slack.FailAlways(slacktest.Failure{Status: http.StatusServiceUnavailable})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	first := s.result(t, id)
	require.Equal(t, workflows.StatusPartial, first.Status)
	require.Equal(t, "slack", first.FailedStep)
	require.Contains(t, first.Error, "gave up at the deadline")
	require.Greater(t, s.Slack.Attempts(), 1, "retried until the deadline")
	require.Len(t, s.SendGrid.Messages(), 1)
	rec := row(t, s, id)
	require.Equal(t, store.StatusPartial, rec.Status)
	require.Equal(t, "slack", rec.FailedStep)

	s.Slack.FailAlways(slacktest.Failure{})
	ctx := context.Background()
	_, err := s.Temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 "default",
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: workflows.WorkflowID(id)},
		Reason:                    "slack is back",
		WorkflowTaskFinishEventId: firstWorkflowTaskCompleted(t, s, id),
		RequestId:                 uuid.NewString(),
	})
	require.NoError(t, err)

	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Len(t, s.Slack.Messages(), 1)
	require.Len(t, s.SendGrid.Messages(), 1, "the learner is not emailed twice")
	rec = row(t, s, id)
	require.Equal(t, store.StatusCompleted, rec.Status)
	require.Empty(t, rec.FailedStep, "a later success clears the failure")
	require.NotEmpty(t, rec.Receipts[workflows.StepNameSlack].ID)
}

func firstWorkflowTaskCompleted(t *testing.T, s *stack, eventID string) int64 {
	t.Helper()
	iter := s.Temporal.GetWorkflowHistory(context.Background(), workflows.WorkflowID(eventID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		if e.EventType == enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			return e.EventId
		}
	}
	t.Fatal("no completed workflow task in the history")
	return 0
}
