package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/coursehook/coursehook/internal/devserver"
	"github.com/coursehook/coursehook/internal/syncbuf"
	"github.com/coursehook/coursehook/workflows"
)

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), func(k string) string {
		// NOTICE_DEADLINE is the webhook server's; the worker never reads it.
		return map[string]string{"NOTICE_DEADLINE": "soon", "SLACK_BOT_TOKEN": "xoxb-1"}[k]
	}, &bytes.Buffer{})
	require.ErrorContains(t, err, "SLACK_CHANNEL")
	require.NotContains(t, err.Error(), "NOTICE_DEADLINE")
}

// namespaceGoneWithin is the promise. The SDK alone takes about
// three minutes: a long poll already waiting when the namespace is deleted
// returns empty a minute later, which counts as a good poll, and the SDK
// retries NamespaceNotFound for two minutes after the last good poll. So the
// worker checks its namespace itself, every wire.DefaultNamespaceCheckEvery.
const namespaceGoneWithin = time.Minute

// runWorker runs the worker against the Temporal frontend at address,
// on its own SQLite database and outbox, until the test ends. done receives
// what run returned.
func runWorker(t *testing.T, address, namespace, taskQueue string) (logs *syncbuf.Buffer, done chan error) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"TEMPORAL_ADDRESS":    address,
		"TEMPORAL_NAMESPACE":  namespace,
		"TEMPORAL_TASK_QUEUE": taskQueue,
		"DATABASE_URL":        filepath.Join(dir, "db.sqlite"),
		"OUTBOX_DIR":          filepath.Join(dir, "outbox"),
		"SHUTDOWN_TIMEOUT":    "1s",
		"METRICS_ADDR":        "127.0.0.1:0",
	}
	logs = &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, logs) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return logs, done
}

func TestWorkerExitsWhenItsNamespaceIsDeleted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv, err := devserver.Start(ctx, devserver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	temporal := srv.Client()

	ns := "worker-fatal-" + uuid.NewString()[:8]
	_, err = temporal.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err)

	taskQueue := "worker-fatal"
	logs, done := runWorker(t, srv.FrontendHostPort(), ns, taskQueue)

	waitForPollers(t, temporal, ns, done, logs,
		queue{taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW},
		queue{workflows.SlackTaskQueue(taskQueue), enumspb.TASK_QUEUE_TYPE_ACTIVITY})
	// A notice queue runs activities only: nobody polls it for workflow
	// tasks.
	resp, err := temporal.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     ns,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: workflows.SlackTaskQueue(taskQueue), Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW,
	})
	require.NoError(t, err)
	require.Empty(t, resp.GetPollers(), "workflow-task pollers on the Slack queue")
	checkMetrics(t, logs)

	deleted, err := temporal.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: ns})
	require.NoError(t, err)
	deletedAt := time.Now()
	t.Logf("namespace %s deleted, renamed %s", ns, deleted.GetDeletedNamespace())

	select {
	case err = <-done:
		done <- err // for the cleanup
	case <-time.After(namespaceGoneWithin):
		t.Fatalf("run still running %s after its namespace was deleted; logs:\n%s", namespaceGoneWithin, logs.String())
	}
	t.Logf("run returned %s after the deletion: %v", time.Since(deletedAt).Round(time.Second), err)
	var notFound *serviceerror.NamespaceNotFound
	require.ErrorAs(t, err, &notFound, "logs:\n%s", logs.String())
	assert.ErrorContains(t, err, ns)
	assert.Regexp(t, `^worker on task queue `+taskQueue+`(-slack)? stopped: `, err.Error())
	assert.Contains(t, logs.String(), `"level":"ERROR","msg":"worker failed"`)
}

type queue struct {
	name string
	typ  enumspb.TaskQueueType
}

// waitForPollers returns once every queue has a poller in namespace ns, and
// fails the test if the worker's run returns first.
func waitForPollers(t *testing.T, c client.Client, ns string, done chan error, logs *syncbuf.Buffer, queues ...queue) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, q := range queues {
		for {
			resp, err := c.WorkflowService().DescribeTaskQueue(t.Context(), &workflowservice.DescribeTaskQueueRequest{
				Namespace:     ns,
				TaskQueue:     &taskqueuepb.TaskQueue{Name: q.name, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
				TaskQueueType: q.typ,
			})
			if err == nil && len(resp.GetPollers()) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no poller on %s (%s) in namespace %s: %v; logs:\n%s", q.name, q.typ, ns, err, logs.String())
			}
			select {
			case err := <-done:
				done <- err
				t.Fatalf("run returned before polling: %v; logs:\n%s", err, logs.String())
			case <-tick.C:
			}
		}
	}
}

// checkMetrics scrapes the running worker's /metrics, found through its log
// line: the worker's own metrics and the Temporal SDK's are there, and
// promtool, where installed, accepts the output.
func checkMetrics(t *testing.T, logs *syncbuf.Buffer) {
	t.Helper()
	m := regexp.MustCompile(`"msg":"metrics server listening","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	require.NotNil(t, m, "no metrics address in the log:\n%s", logs.String())
	resp, err := http.Get("http://" + m[1] + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text := string(body)
	require.Contains(t, text, `coursehook_notices_total{channel="slack",outcome="sent"} 0`)
	require.Contains(t, text, "coursehook_partial_events 0")
	require.Regexp(t, `(?m)^temporal_\w+`, text, "the Temporal SDK's metrics")

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed (Debian package prometheus): the output's conventions are unchecked")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
}
