package slacknotify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/slack-go/slack"

	"github.com/coursehook/coursehook/outbox"
)

// outboxKind is the outbox folder for Slack messages.
const outboxKind = "slack"

// outboxChannel names the channel in receipts when Outbox.Channel is empty.
const outboxChannel = "outbox"

// Outbox writes each notice to Dir/slack/<event id>.json instead of posting
// it, as the body chat.postMessage would have received, so a developer can
// read it or paste its blocks into Block Kit Builder.
type Outbox struct {
	// Dir is the outbox root shared with the other message kinds.
	Dir string
	// Channel is recorded in the file and the receipt; "outbox" when empty.
	Channel string
}

// outboxMessage is the chat.postMessage body, blocks marshalled by slack-go's
// own types so the file matches what Client sends.
type outboxMessage struct {
	Channel  string              `json:"channel"`
	Text     string              `json:"text"`
	Blocks   []slack.Block       `json:"blocks"`
	Metadata slack.SlackMetadata `json:"metadata"`
}

// Post writes n and returns the file's path as the receipt's TS. Posting the
// same event again replaces its file, as a retried activity should.
func (o Outbox) Post(ctx context.Context, n Notice) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("write notice for event %s: %w", n.EventID, err)
	}
	channel := o.Channel
	if channel == "" {
		channel = outboxChannel
	}
	text, blocks, meta := Message(n)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// The file is for reading: show "&lt;" as Slack receives it, not "\u0026lt;".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(outboxMessage{Channel: channel, Text: text, Blocks: blocks, Metadata: meta}); err != nil {
		return Receipt{}, fmt.Errorf("encode notice for event %s: %w", n.EventID, err)
	}
	path, err := outbox.Write(o.Dir, outboxKind, outbox.MessageName(n.EventID, n.ResendID), ".json", buf.Bytes())
	if err != nil {
		return Receipt{}, fmt.Errorf("write notice for event %s: %w", n.EventID, err)
	}
	return Receipt{Channel: channel, TS: path}, nil
}

// Find reports whether Post already wrote the notice for eventID, with the
// receipt Post returned. since does not apply: a file is there or it is not.
// A file for another event whose id maps to the same file name is not a
// match.
func (o Outbox) Find(ctx context.Context, eventID string, since time.Time) (Receipt, bool, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, false, fmt.Errorf("find notice for event %s: %w", eventID, err)
	}
	path := filepath.Join(o.Dir, outboxKind, outbox.FileName(eventID, ".json"))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Receipt{}, false, nil
	}
	if err != nil {
		return Receipt{}, false, fmt.Errorf("find notice for event %s: %w", eventID, err)
	}
	// Only what identifies the notice: []slack.Block does not decode.
	var msg struct {
		Channel  string              `json:"channel"`
		Metadata slack.SlackMetadata `json:"metadata"`
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return Receipt{}, false, fmt.Errorf("find notice for event %s: decode %s: %w", eventID, path, err)
	}
	if !isNotice(msg.Metadata, eventID) {
		return Receipt{}, false, nil
	}
	return Receipt{Channel: msg.Channel, TS: path}, true, nil
}
