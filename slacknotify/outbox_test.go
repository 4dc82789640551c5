package slacknotify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

func TestOutboxPost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir}
	n := sampleNotice()

	// A retried activity posts the same event again, here with a new name.
	_, data := requireRewritten(t, filepath.Join(dir, "slack", "evt-0001.json"), "outbox",
		func() (Receipt, error) { return o.Post(t.Context(), n) },
		func() { n.LearnerName = "Robert <Bob> Johnson" })
	var msg outboxFile
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

// requireRewritten writes with write, calls change, and writes again, as a
// retried activity does. The first receipt must name the file path in
// channel, and the second write must replace that file, the only one in its
// folder. It returns the receipt and the file as the second write left it.
func requireRewritten(t *testing.T, path, channel string, write func() (Receipt, error), change func()) (Receipt, []byte) {
	t.Helper()
	got, err := write()
	require.NoError(t, err)
	require.Equal(t, Receipt{Channel: channel, TS: path}, got)
	change()
	_, err = write()
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the second write must replace the first file")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return got, data
}

// outboxFile is the part of an outbox file the tests read.
type outboxFile struct {
	Channel  string              `json:"channel"`
	Text     string              `json:"text"`
	Blocks   slack.Blocks        `json:"blocks"`
	Metadata slack.SlackMetadata `json:"metadata"`
}

func readOutboxFile(t *testing.T, path string) outboxFile {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f outboxFile
	require.NoError(t, json.Unmarshal(data, &f))
	return f
}

func TestOutboxCourseChannel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir, Channel: "C0123"}
	n := sampleNotice()
	n.Channel = "C0COURSE"

	got, err := o.Post(t.Context(), n)
	require.NoError(t, err)
	require.Equal(t, Receipt{Channel: "C0COURSE", TS: filepath.Join(dir, "slack", "evt-0001.json")}, got)
	require.Equal(t, "C0COURSE", readOutboxFile(t, got.TS).Channel, "the file names the channel used")

	found, ok, err := o.FindIn(t.Context(), "C0COURSE", "evt-0001", time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, got, found)
	_, ok, err = o.Find(t.Context(), "evt-0001", time.Time{})
	require.NoError(t, err)
	require.False(t, ok, "Slack would not find it in the configured channel either")
	_, ok, err = o.FindIn(t.Context(), "C0OTHER", "evt-0001", time.Time{})
	require.NoError(t, err)
	require.False(t, ok)

	// Without a channel of its own, a notice goes to the outbox's.
	got, err = o.Post(t.Context(), noticeFor("evt-0002"))
	require.NoError(t, err)
	require.Equal(t, "C0123", got.Channel)
	found, ok, err = o.FindIn(t.Context(), "", "evt-0002", time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, got, found)
}

func TestOutboxDigest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir}
	d := sampleDigest()

	got, err := o.PostDigest(t.Context(), d)
	require.NoError(t, err)
	require.Equal(t, "outbox", got.Channel)
	require.Equal(t, filepath.Join(dir, "slack-digest"), filepath.Dir(got.TS))
	require.True(t, strings.HasPrefix(filepath.Base(got.TS), "course-42_1767348000-"), "file %s", got.TS)

	f := readOutboxFile(t, got.TS)
	text, blocks, meta := DigestMessage(d)
	require.Equal(t, "outbox", f.Channel)
	require.Equal(t, text, f.Text)
	require.Len(t, f.Blocks.BlockSet, len(blocks))
	require.Equal(t, meta.EventType, f.Metadata.EventType)
	require.Equal(t, d.WindowID, f.Metadata.EventPayload["window_id"])

	found, ok, err := o.FindDigest(t.Context(), "", d.WindowID, time.Now())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, got, found)

	// A retry replaces the file.
	again, err := o.PostDigest(t.Context(), d)
	require.NoError(t, err)
	require.Equal(t, got, again)
	entries, err := os.ReadDir(filepath.Join(dir, "slack-digest"))
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// Ids that fold to the same characters keep files of their own.
	twin := d
	twin.WindowID = "course-42_1767348000"
	_, ok, err = o.FindDigest(t.Context(), "", twin.WindowID, time.Time{})
	require.NoError(t, err)
	require.False(t, ok)
	_, err = o.PostDigest(t.Context(), twin)
	require.NoError(t, err)
	found, ok, err = o.FindDigest(t.Context(), "", d.WindowID, time.Time{})
	require.NoError(t, err)
	require.True(t, ok, "the twin did not replace the first window's file")
	require.Equal(t, got, found)

	// A notice and a digest never share a folder, so never a file.
	_, ok, err = o.Find(t.Context(), d.WindowID, time.Time{})
	require.NoError(t, err)
	require.False(t, ok)

	// A course channel is recorded and searched like a notice's.
	d.Channel, d.WindowID = "C0COURSE", "course-42/1767348900"
	got, err = o.PostDigest(t.Context(), d)
	require.NoError(t, err)
	require.Equal(t, "C0COURSE", got.Channel)
	require.Equal(t, "C0COURSE", readOutboxFile(t, got.TS).Channel)
	_, ok, err = o.FindDigest(t.Context(), "", d.WindowID, time.Time{})
	require.NoError(t, err)
	require.False(t, ok)
	found, ok, err = o.FindDigest(t.Context(), "C0COURSE", d.WindowID, time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, got, found)
}

// requireOutboxErrors checks how one kind of outbox message fails: write
// and find with a cancelled context, write into a Dir that is a file, its
// error containing writeErr, and find over a broken file, named broken in
// the folder kind, its error containing findErr. find looks for the
// message broken would hold.
func requireOutboxErrors(t *testing.T, kind, broken string, write, find func(context.Context, Outbox) error, writeErr, findErr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, write(ctx, Outbox{Dir: t.TempDir()}), context.Canceled)
	require.ErrorIs(t, find(ctx, Outbox{Dir: t.TempDir()}), context.Canceled)

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	require.ErrorContains(t, write(t.Context(), Outbox{Dir: file}), writeErr)

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, kind), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(dir, kind, broken), []byte("{"), 0o600))
	require.ErrorContains(t, find(t.Context(), Outbox{Dir: dir}), findErr)
}

func TestOutboxDigestErrors(t *testing.T) {
	t.Parallel()
	requireOutboxErrors(t, "slack-digest", digestFileName("w")+".json",
		func(ctx context.Context, o Outbox) error { _, err := o.PostDigest(ctx, sampleDigest()); return err },
		func(ctx context.Context, o Outbox) error {
			_, _, err := o.FindDigest(ctx, "", "w", time.Time{})
			return err
		},
		"write digest for window course-42/1767348000", "find digest for window w")

	_, found, err := Outbox{Dir: t.TempDir()}.FindDigest(t.Context(), "", "w", time.Time{})
	require.NoError(t, err)
	require.False(t, found, "no outbox folder yet")
}
