package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// coursehookctl runs the operators' command line against the stack, and
// returns its output and exit code.
func (s *stack) coursehookctl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := buildCtl()
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+frontend, "TEMPORAL_TASK_QUEUE="+s.TaskQueue,
		"DATABASE_URL="+s.DatabaseURL, "LEARNER_HASH_KEY=integration-learner-hash-key")
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &exit, "%s", out)
		code = exit.ExitCode()
	}
	return string(out), code
}

// completed posts the sample through s and waits for its workflow.
func completed(t *testing.T, s *stack, want workflows.Status) string {
	t.Helper()
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, want, s.result(t, id).Status)
	return id
}

func TestResendTheSameRequestTwiceSendsOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	id := completed(t, s, workflows.StatusCompleted)

	out, code := s.coursehookctl(t, "resend", "--event", id, "--what", "email", "--reason", "the learner lost it", "--by", "ops-anna")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "resent email")
	require.Contains(t, out, "event now completed")
	require.Len(t, s.SendGrid.Messages(), 2, "the original and the resend")
	require.Len(t, s.Slack.Messages(), 1, "only the email was asked for")

	out, code = s.coursehookctl(t, "resend", "--event", id, "--what", "email")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "already resent")
	require.Len(t, s.SendGrid.Messages(), 2, "an accidental repeat on the same day sends nothing")

	resends, err := s.Store.Resends(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, resends, 1)
	require.Equal(t, "email", resends[0].What)
	require.Equal(t, "the learner lost it", resends[0].Reason)
	require.Equal(t, "ops-anna", resends[0].RequestedBy)
	require.Equal(t, store.ResendDone, resends[0].Status)
	require.NotEmpty(t, resends[0].Receipts[workflows.StepNameEmail].ID)

	out, code = s.coursehookctl(t, "resend", "--event", id, "--what", "email", "--request-id", "second-try")
	require.Equal(t, 0, code, out)
	require.Len(t, s.SendGrid.Messages(), 3, "a new request id is a deliberate second resend")

	out, code = s.coursehookctl(t, "find", "--json")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"requestId": "second-try"`, "find shows an event's resends")
}

func TestResendCompletesAPartialEvent(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	s.Slack.FailNext(1, slacktest.Failure{Status: http.StatusOK, SlackError: "invalid_auth"})
	id := completed(t, s, workflows.StatusPartial)

	out, code := s.coursehookctl(t, "resend", "--status", "partial", "--since", "1h", "--dry-run")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, id)
	require.Contains(t, out, "would be resent (dry run")
	require.Empty(t, s.Slack.Messages())

	out, code = s.coursehookctl(t, "resend", "--event", id, "--what", "slack")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "event now completed")
	require.Len(t, s.Slack.Messages(), 1)
	require.Len(t, s.SendGrid.Messages(), 1, "the email had gone out already")
	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, rec.Status)
	require.Empty(t, rec.FailedStep)
	require.NotEmpty(t, rec.Receipts[workflows.StepNameSlack].ID)

	requestID := workflows.DefaultResendRequestID(id, "slack", rec.UpdatedAt)
	recordWorkflowHistory(t, workflows.ResendWorkflowID(requestID), "history-resend.json")
	query := fmt.Sprintf(`WorkflowId = %q AND CompletionStatus = "completed" AND CourseId = %q`, workflows.ResendWorkflowID(requestID), rec.CourseID)
	require.Equal(t, []string{workflows.ResendWorkflowID(requestID)}, listWorkflowIDs(t, query, 1))
}

func TestResendWorksAfterTheHistoryIsGone(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	id := completed(t, s, workflows.StatusCompleted)
	_, err := temporal.WorkflowService().DeleteWorkflowExecution(context.Background(), &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: execution(workflows.WorkflowID(id)),
	})
	require.NoError(t, err)

	out, code := s.coursehookctl(t, "resend", "--event", id, "--what", "all")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "resent slack, email")
	require.Len(t, s.SendGrid.Messages(), 2)
	require.Len(t, s.Slack.Messages(), 2)
}

func TestResendRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	id := completed(t, s, workflows.StatusCompleted)
	ignored := "ignored-" + id
	require.Equal(t, http.StatusAccepted, s.post(t, []byte(`{"id":"`+ignored+`","event":"courseStarted"}`)).Status)
	require.Equal(t, workflows.StatusIgnored, s.result(t, ignored).Status)

	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"resend", "--event", "no-such-event", "--what", "email"}, "no event"},
		{[]string{"resend", "--event", id, "--what", "sms!"}, "not a channel's name"},
		{[]string{"resend", "--event", id, "--what", "sms"}, `no channel "sms" to resend on: the worker has slack, email`},
		{[]string{"resend", "--event", ignored, "--what", "email"}, "ignores"},
		{[]string{"resend", "--event", id}, "--what is required"},
	} {
		out, code := s.coursehookctl(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, out)
		require.Contains(t, out, c.mention)
		require.False(t, strings.Contains(out, "panic"))
	}
	require.Len(t, s.SendGrid.Messages(), 1, "nothing was sent")
}

// buildCtl builds coursehookctl once per test run.
var buildCtl = sync.OnceValues(func() (string, error) { return goBuild("ctl") })

func execution(workflowID string) *commonpb.WorkflowExecution {
	return &commonpb.WorkflowExecution{WorkflowId: workflowID}
}
