// Package deadletter keeps the events coursehook answered but could not hand
// to Temporal for a reason a retry would not fix (a refused start, such as an
// invalid argument or a permission error). The platform would retry such an
// event ten times and then drop it; a dead letter keeps it on disk, byte for
// byte, until an operator replays it with `starter replay-dead-letters`.
package deadletter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/coursehook/coursehook/outbox"
)

// Folder layout: for each event, <name>.json holds the body exactly as
// received, so it can be inspected or posted again as it is, and
// <name>.meta.json says when it came and why it is here.
const (
	bodyExt = ".json"
	metaExt = ".meta.json"
)

// Letter is one dead-lettered event.
type Letter struct {
	EventID    string    `json:"eventId"`
	ReceivedAt time.Time `json:"receivedAt"`
	// Error is Temporal's answer to the start.
	Error string `json:"error"`
	// Body is the request body exactly as received; it is not part of the
	// metadata file.
	Body []byte `json:"-"`
	// Path is the body's file.
	Path string `json:"-"`
}

// Dir is a dead-letter folder.
type Dir string

// Put stores l, replacing an earlier letter for the same event id (the
// platform's re-delivery of an event that fails again). Both files are
// written by outbox.Write, which syncs and renames, so a crash leaves either
// the old letter or the new one; the body goes last, since List only sees
// letters whose body exists. File names are the event id made safe.
func (d Dir) Put(l Letter) (string, error) {
	meta, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return "", fmt.Errorf("dead letter %s: %w", l.EventID, err)
	}
	name := fileStem(l.EventID)
	if _, err := outbox.Write(string(d), "", name, metaExt, meta); err != nil {
		return "", fmt.Errorf("dead letter %s: %w", l.EventID, err)
	}
	path, err := outbox.Write(string(d), "", name, bodyExt, l.Body)
	if err != nil {
		return "", fmt.Errorf("dead letter %s: %w", l.EventID, err)
	}
	return path, nil
}

// List returns every letter, oldest first. A body without its metadata
// file (written by hand, say) still counts, with only its event id unknown
// until it is parsed.
func (d Dir) List() ([]Letter, error) {
	entries, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list dead letters in %s: %w", d, err)
	}
	var out []Letter
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, bodyExt) || strings.HasSuffix(name, metaExt) || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(string(d), name)
		body, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read dead letter %s: %w", path, err)
		}
		l := Letter{Body: body, Path: path}
		if meta, err := os.ReadFile(metaPath(path)); err == nil {
			if err := json.Unmarshal(meta, &l); err != nil {
				return nil, fmt.Errorf("read dead letter %s: %w", metaPath(path), err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read dead letter %s: %w", metaPath(path), err)
		}
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ReceivedAt.Before(out[j].ReceivedAt) })
	return out, nil
}

// Remove deletes a replayed letter.
func (d Dir) Remove(l Letter) error {
	if err := os.Remove(l.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove dead letter %s: %w", l.Path, err)
	}
	if err := os.Remove(metaPath(l.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove dead letter %s: %w", metaPath(l.Path), err)
	}
	return nil
}

// fileStem is the event id when it is already a safe file name, as the
// platform's UUIDs are. Otherwise the safe form gets a hash of the real id,
// since outbox.FileName maps "a.b" and "a_b" to the same name and one event's
// letter must never replace another's.
func fileStem(eventID string) string {
	safe := outbox.FileName(eventID, "")
	if safe == eventID {
		return safe
	}
	sum := sha256.Sum256([]byte(eventID))
	return safe + "-" + hex.EncodeToString(sum[:8])
}

func metaPath(bodyPath string) string {
	return strings.TrimSuffix(bodyPath, bodyExt) + metaExt
}
