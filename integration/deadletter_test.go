package integration

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/workflows"
)

// TestDeadLetterIsKeptAndReplayed: Temporal refuses the start for a reason
// the platform's retries cannot fix (here, a namespace without coursehook's
// search attributes: a namespace that does not exist yet is an outage, 503).
// The platform gets a 500, the body is kept on disk byte for byte,
// and once the operator has fixed the configuration, `starter
// replay-dead-letters` starts the workflow, which completes once.
func TestDeadLetterIsKeptAndReplayed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStack(t, stackOptions{SlackPerSecond: 50})

	// A webhook server configured with the wrong namespace.
	bare := newNamespace(t, "bare")
	wrong, err := client.NewClientFromExisting(temporal, client.Options{Namespace: bare})
	require.NoError(t, err)
	t.Cleanup(wrong.Close)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	misconfigured := &stack{Server: httptest.NewServer(webhook.New(wrong, log, webhook.Options{TaskQueue: s.TaskQueue, DeadLetters: deadletter.Dir(dir)}).Router())}
	t.Cleanup(misconfigured.Server.Close)

	id, body := sample(t, "course-completion.json")
	a := misconfigured.post(t, body)
	require.Equal(t, http.StatusInternalServerError, a.Status, "%v", a.Body)
	require.Equal(t, id, a.Body["eventId"])
	require.Contains(t, a.Body["error"], "no mapping defined for search attribute")
	kept, err := os.ReadFile(filepath.Join(dir, id+".json"))
	require.NoError(t, err)
	require.Equal(t, body, kept, "the dead letter is the body byte for byte")

	replay := func() string {
		cmd := exec.Command(starterBinary(t), "replay-dead-letters")
		cmd.Env = append(os.Environ(),
			"TEMPORAL_ADDRESS="+frontend, "TEMPORAL_NAMESPACE=default",
			"TEMPORAL_TASK_QUEUE="+s.TaskQueue, "DEAD_LETTER_DIR="+dir, "DATABASE_URL="+s.DatabaseURL)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	out := replay()
	require.Contains(t, out, "1 dead letters: 1 accepted, 0 ignored, 0 duplicate, 0 failed")
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Len(t, s.Slack.Messages(), 1)
	require.Len(t, s.SendGrid.Messages(), 1)
	letters, err := deadletter.Dir(dir).List()
	require.NoError(t, err)
	require.Empty(t, letters, "a replayed letter is removed")

	require.Contains(t, replay(), "no dead letters")
	// The platform's own retry, once the configuration is fixed, is a duplicate.
	require.Equal(t, http.StatusOK, s.post(t, body).Status)
	require.Len(t, s.Slack.Messages(), 1, "nothing is sent twice")
}
