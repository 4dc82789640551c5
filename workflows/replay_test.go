package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplay replays histories recorded from real runs (see
// integration/history_test.go) against today's workflow code. A change that
// would break a workflow already running in production fails here.
func TestReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "history-*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories: run `RECORD_HISTORY=1 make test`")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(CourseCompletion)
			r.RegisterWorkflow(Resend)
			r.RegisterWorkflow(DeliveryEvents)
			r.RegisterWorkflowWithOptions(CourseDigest, workflow.RegisterOptions{Name: DigestWorkflowType})
			r.RegisterWorkflowWithOptions(CertificateValidity, workflow.RegisterOptions{Name: ValidityWorkflowType})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
