package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/coursehook/coursehook/internal/devserver"
	"github.com/coursehook/coursehook/workflows"
)

// TestWorkerWaitsForItsNamespace: a worker started before its namespace is
// registered, as on a cluster whose namespace job runs later, waits with a
// line that says so instead of exiting, starts no worker meanwhile, and
// polls once the namespace exists.
func TestWorkerWaitsForItsNamespace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv, err := devserver.Start(ctx, devserver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	temporal := srv.Client()

	ns := "worker-later-" + uuid.NewString()[:8]
	taskQueue := "worker-later"
	logs, done := runWorker(t, srv.FrontendHostPort(), ns, taskQueue)

	waiting := `"level":"WARN","msg":"namespace ` + ns + ` is not registered yet; waiting`
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(logs.String(), waiting) {
		require.True(t, time.Now().Before(deadline), "no line about the namespace within 30 s; logs:\n%s", logs.String())
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run returned while the namespace was missing: %v; logs:\n%s", err, logs.String())
		case <-tick.C:
		}
	}
	require.NotContains(t, logs.String(), "worker starting", "no worker starts before the namespace exists")

	_, err = temporal.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err)

	waitForPollers(t, temporal, ns, done, logs,
		queue{taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW},
		queue{workflows.SlackTaskQueue(taskQueue), enumspb.TASK_QUEUE_TYPE_ACTIVITY},
		queue{workflows.EmailTaskQueue(taskQueue), enumspb.TASK_QUEUE_TYPE_ACTIVITY})
	out := logs.String()
	require.Less(t, strings.Index(out, waiting), strings.Index(out, `"msg":"worker starting"`))
	require.Contains(t, out, `"msg":"registered search attributes","namespace":"`+ns+`"`)
}
