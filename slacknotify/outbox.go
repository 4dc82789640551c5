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

// outboxKind is the outbox folder for Slack notices.
const outboxKind = "slack"

// outboxDigestKind is the outbox folder for digests, apart from the notices
// so a window id can never take an event's file name.
const outboxDigestKind = "slack-digest"

// outboxChannel names the channel in receipts when Outbox.Channel is empty.
const outboxChannel = "outbox"

// Outbox writes each notice to Dir/slack/<event id>.json, and each digest to
// Dir/slack-digest/<window id>-<hash>.json, instead of posting it, as the
// body chat.postMessage would have received, so a developer can read it or
// paste its blocks into Block Kit Builder. The file names the channel the
// message was for.
type Outbox struct {
	// Dir is the outbox root shared with the other message kinds.
	Dir string
	// Channel is the channel of a message that names none, recorded in the
	// file and the receipt; "outbox" when empty.
	Channel string
}

// outboxMessage is the chat.postMessage body, blocks marshalled by slack-go's
// own types so the file matches what Client sends.
type outboxMessage struct {
	Channel  string              `json:"channel"`
	Text     string              `json:"text"`
	Blocks   []slack.Block       `json:"blocks"`
	Metadata slack.SlackMetadata `json:"metadata"`
	// ThreadTS is the thread a reply goes in; notices and digests have none.
	ThreadTS string `json:"thread_ts,omitempty"`
}

// Post writes n and returns the file's path as the receipt's TS, and the
// channel it was for, n.Channel or the outbox's own. Posting the same event
// again replaces its file, as a retried activity should.
func (o Outbox) Post(ctx context.Context, n Notice) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("write notice for event %s: %w", n.EventID, err)
	}
	text, blocks, meta := Message(n)
	name := outbox.MessageName(n.EventID, n.ResendID)
	if n.Expiry {
		name = n.EventID + "-expiry"
	}
	r, err := o.write(outboxKind, name, n.Channel, text, blocks, meta)
	if err != nil {
		return Receipt{}, fmt.Errorf("write notice for event %s: %w", n.EventID, err)
	}
	return r, nil
}

// PostDigest writes d as Post writes a notice. Writing the same window again
// replaces its file.
func (o Outbox) PostDigest(ctx context.Context, d Digest) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("write digest for window %s: %w", d.WindowID, err)
	}
	text, blocks, meta := DigestMessage(d)
	r, err := o.write(outboxDigestKind, digestFileName(d.WindowID), d.Channel, text, blocks, meta)
	if err != nil {
		return Receipt{}, fmt.Errorf("write digest for window %s: %w", d.WindowID, err)
	}
	return r, nil
}

// write stores one message as kind/<name>.json.
func (o Outbox) write(kind, name, channel, text string, blocks []slack.Block, meta slack.SlackMetadata) (Receipt, error) {
	return o.writeMessage(kind, name, outboxMessage{Channel: channel, Text: text, Blocks: blocks, Metadata: meta})
}

// writeMessage stores msg as kind/<name>.json, in the outbox's channel when
// msg names none.
func (o Outbox) writeMessage(kind, name string, msg outboxMessage) (Receipt, error) {
	msg.Channel = o.channelOr(msg.Channel)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// The file is for reading: show "&lt;" as Slack receives it, not "\u0026lt;".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return Receipt{}, fmt.Errorf("encode message: %w", err)
	}
	path, err := outbox.Write(o.Dir, kind, name, ".json", buf.Bytes())
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Channel: msg.Channel, TS: path}, nil
}

// channelOr returns channel, or the outbox's own when it is empty.
func (o Outbox) channelOr(channel string) string {
	switch {
	case channel != "":
		return channel
	case o.Channel != "":
		return o.Channel
	}
	return outboxChannel
}

// Find reports whether Post already wrote the notice for eventID to the
// outbox's channel, with the receipt Post returned. since does not apply: a
// file is there or it is not. A file for another event whose id maps to the
// same file name is not a match, nor is the event's notice written for
// another channel, which Slack would not find here either.
func (o Outbox) Find(ctx context.Context, eventID string, since time.Time) (Receipt, bool, error) {
	return o.FindIn(ctx, "", eventID, since)
}

// FindIn is Find in channel; empty means the outbox's own.
func (o Outbox) FindIn(ctx context.Context, channel, eventID string, _ time.Time) (Receipt, bool, error) {
	return o.find(ctx, outboxKind, eventID, o.channelOr(channel), "notice for event "+eventID, func(m slack.SlackMetadata) bool { return isNotice(m, eventID) })
}

// FindDigest reports whether PostDigest already wrote the digest of windowID
// to channel (empty means the outbox's own), with the receipt it returned.
func (o Outbox) FindDigest(ctx context.Context, channel, windowID string, _ time.Time) (Receipt, bool, error) {
	return o.find(ctx, outboxDigestKind, digestFileName(windowID), o.channelOr(channel), "digest for window "+windowID, func(m slack.SlackMetadata) bool { return isDigest(m, windowID) })
}

// find reads kind/<name>.json and reports whether it is a message for
// channel whose metadata matches; a failure says it was looking for what.
func (o Outbox) find(ctx context.Context, kind, name, channel, what string, match func(slack.SlackMetadata) bool) (Receipt, bool, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, false, fmt.Errorf("find %s: %w", what, err)
	}
	path := filepath.Join(o.Dir, kind, outbox.FileName(name, ".json"))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Receipt{}, false, nil
	}
	if err != nil {
		return Receipt{}, false, fmt.Errorf("find %s: %w", what, err)
	}
	// Only what identifies the message: []slack.Block does not decode.
	var msg struct {
		Channel  string              `json:"channel"`
		Metadata slack.SlackMetadata `json:"metadata"`
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return Receipt{}, false, fmt.Errorf("find %s: decode %s: %w", what, path, err)
	}
	if msg.Channel != channel || !match(msg.Metadata) {
		return Receipt{}, false, nil
	}
	return Receipt{Channel: msg.Channel, TS: path}, true, nil
}
