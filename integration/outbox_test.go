package integration

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/coursehook/coursehook/wire"
	"github.com/coursehook/coursehook/workflows"
)

// TestOutboxModeWritesWhatWouldBeSent follows the quick start: no
// credentials, so the Slack message and the email land as files a user can
// open.
func TestOutboxModeWritesWhatWouldBeSent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := config.Load(func(k string) string { return map[string]string{"OUTBOX_DIR": dir}[k] }, config.Worker)
	require.NoError(t, err)
	poster, sender := wire.Providers(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	s := build(t, poster, sender)

	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)

	var slackMsg struct {
		Text   string            `json:"text"`
		Blocks []json.RawMessage `json:"blocks"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "slack", id+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &slackMsg))
	require.Contains(t, slackMsg.Text, "Bob Johnson")
	require.NotEmpty(t, slackMsg.Blocks)

	var envelope struct {
		Subject          string `json:"subject"`
		Personalizations []struct {
			To []struct{ Email string } `json:"to"`
		} `json:"personalizations"`
	}
	raw, err = os.ReadFile(filepath.Join(dir, "email", id+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &envelope))
	require.Contains(t, envelope.Subject, "New Student Orientation")
	require.Equal(t, "bob.johnson@example.com", envelope.Personalizations[0].To[0].Email)

	pdf, err := os.ReadFile(filepath.Join(dir, "email", id+".pdf"))
	require.NoError(t, err)
	doc, err := pdftext.Read(pdf)
	require.NoError(t, err)
	require.Contains(t, doc.Text(), "Bob Johnson")
	require.Contains(t, doc.Text(), "New Student Orientation")

	// A re-delivery adds no file.
	require.Equal(t, http.StatusOK, s.post(t, body).Status)
	for _, kind := range []string{"slack", "email"} {
		entries, err := os.ReadDir(filepath.Join(dir, kind))
		require.NoError(t, err)
		want := map[string]int{"slack": 1, "email": 2}[kind]
		require.Len(t, entries, want, kind)
	}
}
