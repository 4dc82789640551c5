// Package outbox writes the messages coursehook would have sent to files, so a
// developer without Slack or SendGrid credentials can open and inspect them.
package outbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FileName turns an untrusted event id into a file name that stays inside its
// folder: anything but ASCII letters, digits, '-' and '_' becomes '_', so no
// separator or dot can make it climb out or hide.
func FileName(eventID, ext string) string {
	var b strings.Builder
	for _, r := range eventID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	if b.Len() == 0 {
		b.WriteString("_")
	}
	return b.String() + ext
}

// MessageName is what a message's files are named after: the event id, and
// for a resend, the resend's request id too, so a resend adds files beside
// the first message instead of replacing them.
func MessageName(eventID, resendID string) string {
	if resendID == "" {
		return eventID
	}
	return eventID + "-resend-" + resendID
}

// Write stores data as dir/kind/FileName(eventID, ext). It writes to a
// temporary file, syncs it and renames it, so a reader never sees half a
// message, a retried activity replaces its own file instead of adding a
// second one, and the file survives a power cut once Write returns (the dead
// letters kept with it may be an event's only copy).
func Write(dir, kind, eventID, ext string, data []byte) (string, error) {
	folder := filepath.Join(dir, kind)
	if err := os.MkdirAll(folder, 0o750); err != nil {
		return "", fmt.Errorf("create outbox folder %s: %w", folder, err)
	}
	path := filepath.Join(folder, FileName(eventID, ext))
	tmp, err := os.CreateTemp(folder, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create outbox file in %s: %w", folder, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a no-op once the rename succeeded
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close() // the file is removed; the write's error says what failed
		return "", fmt.Errorf("write outbox file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return "", fmt.Errorf("sync outbox file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("close outbox file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("move outbox file into place %s: %w", path, err)
	}
	// The rename itself is durable only once the folder is synced.
	f, err := os.Open(folder)
	if err != nil {
		return "", fmt.Errorf("sync outbox folder %s: %w", folder, err)
	}
	defer func() { _ = f.Close() }() // opened only to sync
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync outbox folder %s: %w", folder, err)
	}
	return path, nil
}
