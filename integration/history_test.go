package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/coursehook/coursehook/workflows"
)

// recordHistory saves the workflow's history for the replay test in
// workflows/, when RECORD_HISTORY=1. Before re-recording after a deliberate,
// versioned change to the workflow, rename the current files to
// history-v<N>-*.json and keep them: they stand for the workflows still
// running in production on the old code.
func recordHistory(t *testing.T, eventID, name string) {
	t.Helper()
	recordWorkflowHistory(t, workflows.WorkflowID(eventID), name)
}

// recordWorkflowHistory does the same for any workflow, by its id.
func recordWorkflowHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	if os.Getenv("RECORD_HISTORY") != "1" {
		return
	}
	ctx := context.Background()
	iter := temporal.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("..", "workflows", "testdata", name), b, 0o644))
}
