package slacknotify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

func TestOutboxPost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir}
	n := sampleNotice()

	got, err := o.Post(t.Context(), n)
	require.NoError(t, err)
	want := filepath.Join(dir, "slack", "evt-0001.json")
	require.Equal(t, Receipt{Channel: "outbox", TS: want}, got)

	// A retried activity posts the same event again, here with a new name.
	n.LearnerName = "Robert <Bob> Johnson"
	_, err = o.Post(t.Context(), n)
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Join(dir, "slack"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the second post must replace the first file")

	data, err := os.ReadFile(want)
	require.NoError(t, err)
	var msg struct {
		Channel  string              `json:"channel"`
		Text     string              `json:"text"`
		Blocks   slack.Blocks        `json:"blocks"`
		Metadata slack.SlackMetadata `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(data, &msg))
	require.Equal(t, "outbox", msg.Channel)
	require.Equal(t, "Robert &lt;Bob&gt; Johnson completed New Student Orientation (2019-10-17 20:50 UTC)", msg.Text)
	require.Len(t, msg.Blocks.BlockSet, 3)
	require.Equal(t, slack.MBTHeader, msg.Blocks.BlockSet[0].BlockType())
	require.Equal(t, slack.MBTSection, msg.Blocks.BlockSet[1].BlockType())
	require.Equal(t, slack.MBTContext, msg.Blocks.BlockSet[2].BlockType())
	require.Equal(t, "course_completion", msg.Metadata.EventType)
	require.Equal(t, "evt-0001", msg.Metadata.EventPayload["event_id"])
	require.Contains(t, string(data), "\n  \"channel\"", "the file is indented for reading")
	require.Contains(t, string(data), "Robert &lt;Bob&gt; Johnson", "entities are not hidden behind \\u0026")
}

func TestOutboxPostChannelAndErrors(t *testing.T) {
	t.Parallel()
	t.Run("channel", func(t *testing.T) {
		t.Parallel()
		got, err := Outbox{Dir: t.TempDir(), Channel: "C0456"}.Post(t.Context(), sampleNotice())
		require.NoError(t, err)
		require.Equal(t, "C0456", got.Channel)
	})
	t.Run("unsafe event id stays inside the folder", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		n := sampleNotice()
		n.EventID = "../../etc/passwd"
		got, err := Outbox{Dir: dir}.Post(t.Context(), n)
		require.NoError(t, err)
		require.Equal(t, filepath.Join(dir, "slack"), filepath.Dir(got.TS))
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := Outbox{Dir: t.TempDir()}.Post(ctx, sampleNotice())
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("unwritable dir", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, err := Outbox{Dir: file}.Post(t.Context(), sampleNotice())
		require.ErrorContains(t, err, "write notice for event evt-0001")
	})
}
