package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/internal/syncbuf"
	"github.com/coursehook/coursehook/workflows"
)

// listWorkflowIDs polls the visibility store, which lags the workflow by a
// moment, until query matches want ids or the deadline passes.
func listWorkflowIDs(t *testing.T, query string, want int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		require.NoError(t, err, query)
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if len(ids) >= want || time.Now().After(deadline) {
			return ids
		}
		time.Sleep(200 * time.Millisecond) // polling the visibility store, not synchronising
	}
}

// TestFindACompletedEventByCourse: the filter docs/operating.md gives finds a completed
// event by its course, and the learner by the keyed hash of their email.
func TestFindACompletedEventByCourse(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	id, body := sample(t, "course-completion.json")
	course := "course-" + uuid.NewString()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["notifiableId"] = course
	body, err := json.Marshal(m)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)

	ids := listWorkflowIDs(t, fmt.Sprintf(`CourseId = %q AND CompletionStatus = "completed"`, course), 1)
	require.Equal(t, []string{workflows.WorkflowID(id)}, ids)

	hash := event.LearnerHash([]byte(config.DevelopmentLearnerHashKey), "Bob.Johnson@example.com")
	ids = listWorkflowIDs(t, fmt.Sprintf(`LearnerHash = %q AND CourseId = %q`, hash, course), 1)
	require.Equal(t, []string{workflows.WorkflowID(id)}, ids)
	require.Contains(t, s.Logs.String(), `"learner":"`+hash+`"`, "the log line and the UI share the learner's id")

	desc, err := temporal.DescribeWorkflow(context.Background(), workflows.WorkflowID(id), "")
	require.NoError(t, err)
	require.NotNil(t, desc.RawResponse)
	for name, p := range desc.RawResponse.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		require.NotContains(t, string(p.GetData()), "bob", "%s carries no learner data", name)
		require.NotContains(t, string(p.GetData()), "Orientation", "%s carries no title", name)
	}
}

// TestPartialEventIsFoundByItsStatus: a permanent Slack failure leaves the
// workflow Completed in Temporal's eyes, and CompletionStatus = "partial"
// with FailedSteps = "slack" is how an operator finds it.
func TestPartialEventIsFoundByItsStatus(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	s.Slack.FailAlways(slacktest.Failure{Status: http.StatusOK, SlackError: "channel_not_found"})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusPartial, s.result(t, id).Status)

	query := fmt.Sprintf(`WorkflowId = %q AND CompletionStatus = "partial" AND FailedSteps = "slack"`, workflows.WorkflowID(id))
	require.Equal(t, []string{workflows.WorkflowID(id)}, listWorkflowIDs(t, query, 1))
	query = fmt.Sprintf(`WorkflowId = %q AND FailedSteps = "email"`, workflows.WorkflowID(id))
	require.Empty(t, listWorkflowIDs(t, query, 0))
}

// newNamespace registers a namespace of its own on the shared dev server,
// without coursehook's search attributes.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := prefix + "-" + uuid.NewString()[:8]
	_, err := temporal.WorkflowService().RegisterNamespace(context.Background(), &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err)
	return ns
}

// TestBinariesRefuseANamespaceWithoutTheAttributes: both binaries check the
// attributes at start; told not to register them, they exit non-zero with
// the names and the command to run.
func TestBinariesRefuseANamespaceWithoutTheAttributes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "bare")
	ctx := context.Background()

	dir := t.TempDir()
	for _, bin := range []string{workerBinary(t), starterBinary(t)} {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Env = append(os.Environ(),
				"TEMPORAL_ADDRESS="+frontend, "TEMPORAL_NAMESPACE="+ns, "TEMPORAL_REGISTER_SEARCH_ATTRIBUTES=false",
				"DATABASE_URL="+filepath.Join(dir, "db.sqlite"), "OUTBOX_DIR="+filepath.Join(dir, "outbox"),
				"HTTP_ADDR=127.0.0.1:0", "CODEC_ADDR=127.0.0.1:0", "ADMIN_ADDR=127.0.0.1:0", "METRICS_ADDR=127.0.0.1:0", "DEAD_LETTER_DIR="+filepath.Join(dir, "dead"))
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "%s", out)
			require.NotNil(t, cmd.ProcessState, "%s", out)
			require.Equal(t, 1, cmd.ProcessState.ExitCode(), "%s", out)
			for _, name := range []string{"CompanyId", "CompletionStatus", "CourseId", "FailedSteps", "LearnerHash"} {
				require.Contains(t, string(out), name)
			}
			require.Contains(t, string(out), "temporal operator search-attribute create --namespace "+ns+" --name CompanyId --name CompletionStatus --name CourseId --name LearnerHash --type Keyword")
			require.Contains(t, string(out), "--name FailedSteps --type KeywordList")
		})
	}
}

// TestBinariesRegisterMissingAttributesWhenAllowed: by default the worker
// registers what the namespace lacks, and then runs.
func TestBinariesRegisterMissingAttributesWhenAllowed(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "fresh")
	ctx := context.Background()
	dir := t.TempDir()
	cmd := exec.Command(workerBinary(t))
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+frontend, "TEMPORAL_NAMESPACE="+ns, "METRICS_ADDR=127.0.0.1:0",
		"DATABASE_URL="+filepath.Join(dir, "db.sqlite"), "OUTBOX_DIR="+filepath.Join(dir, "outbox"))
	logs := &syncbuf.Buffer{}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool {
		l := logs.String()
		return strings.Contains(l, "registered search attributes") && strings.Contains(l, `"msg":"Started Worker"`)
	}, 45*time.Second, 100*time.Millisecond, "the worker did not register and start")
	resp, err := temporal.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	for name, typ := range workflows.SearchAttributeTypes() {
		require.Equal(t, typ, resp.GetCustomAttributes()[name], name)
	}
}
