package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DigestEntry is one completion a course's digest gathered into a window:
// the event, and the workflow waiting for the window's answer. LearnerName
// is kept only for an entry planned into its window (PlanNotice), whose
// digest names its learners from here (SealNoticeWindow).
type DigestEntry struct {
	EventID, WorkflowID string
	LearnerName         string
}

// LateEntry is an entry that came again after its window was answered,
// with that answer (the window's announcement, as CloseDigestWindow kept
// it), to be given again.
type LateEntry struct {
	DigestEntry
	Announcement []byte
}

// GatherDigestEntries keeps the entries that digest digestID gathered into
// window windowID, once per event: a digest carries only a window's count
// and first names across continue-as-new, and its entries wait here for
// the answer. It returns the event ids stored now, in the order given, and
// the entries already answered by an earlier window (a signal that came
// again). An entry already waiting in an open window is in neither.
func (s *Store) GatherDigestEntries(ctx context.Context, digestID, windowID string, entries []DigestEntry) (fresh []string, late []LateEntry, err error) {
	if digestID == "" || windowID == "" {
		return nil, nil, fmt.Errorf("gather digest entries: %w: no digest or window id", ErrInvalid)
	}
	if len(entries) == 0 {
		return nil, nil, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("gather digest entries: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := s.dialect.timeArg(s.now())
	stored := map[string]bool{}
	for chunk := range slices.Chunk(entries, insertChunk) {
		args := make([]any, 0, len(chunk)*5)
		for _, e := range chunk {
			if e.EventID == "" || e.WorkflowID == "" {
				return nil, nil, fmt.Errorf("gather digest entries: %w: an entry has no event or workflow id", ErrInvalid)
			}
			args = append(args, digestID, e.EventID, e.WorkflowID, windowID, now)
		}
		q := `INSERT INTO digest_entries (digest_id, event_id, workflow_id, window_id, gathered_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(chunk)), ", ") +
			` ON CONFLICT (digest_id, event_id) DO NOTHING RETURNING event_id`
		rows, err := tx.QueryContext(ctx, s.dialect.rebind(q), args...)
		if err != nil {
			return nil, nil, fmt.Errorf("gather digest entries: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("gather digest entries: %w", err)
			}
			stored[id] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, nil, fmt.Errorf("gather digest entries: %w", err)
		}
	}
	var again []string
	for _, e := range entries {
		switch isNew, seen := stored[e.EventID]; {
		case isNew:
			fresh = append(fresh, e.EventID)
			// Given twice in one call, it is fresh once.
			stored[e.EventID] = false
		case !seen:
			again = append(again, e.EventID)
		}
	}
	if _, late, err = s.lookupDigestEntries(ctx, tx, digestID, again); err != nil {
		return nil, nil, fmt.Errorf("gather digest entries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("gather digest entries: %w", err)
	}
	return fresh, late, nil
}

// FindDigestEntries looks the event ids up among digest digestID's
// entries: those still waiting for their window's answer, and those
// answered, with the answer. An id in neither was never gathered, or its
// window is forgotten.
func (s *Store) FindDigestEntries(ctx context.Context, digestID string, eventIDs []string) (waiting []string, late []LateEntry, err error) {
	waiting, late, err = s.lookupDigestEntries(ctx, s.db, digestID, eventIDs)
	if err != nil {
		return nil, nil, fmt.Errorf("find digest entries: %w", err)
	}
	return waiting, late, nil
}

func (s *Store) lookupDigestEntries(ctx context.Context, q querier, digestID string, eventIDs []string) (waiting []string, late []LateEntry, err error) {
	err = inChunks(eventIDs, func(chunk []string, args []any) error {
		rows, err := q.QueryContext(ctx, s.dialect.rebind(`SELECT e.event_id, e.workflow_id, COALESCE(w.announcement, '')
			FROM digest_entries e LEFT JOIN digest_windows w ON w.window_id = e.window_id
			WHERE e.digest_id = ? AND e.event_id IN (`+placeholders(len(chunk))+`)`), append([]any{digestID}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l LateEntry
			var ann string
			if err := rows.Scan(&l.EventID, &l.WorkflowID, &ann); err != nil {
				return err
			}
			if ann == "" {
				waiting = append(waiting, l.EventID)
				continue
			}
			l.Announcement = []byte(ann)
			late = append(late, l)
		}
		return rows.Err()
	})
	return waiting, late, err
}

// CloseDigestWindow keeps the answer of window windowID (its announcement,
// as the caller encodes it), for entries that come again later. A second
// close of the same window, by a retried answer, keeps the first.
func (s *Store) CloseDigestWindow(ctx context.Context, digestID, windowID string, announcement []byte) error {
	_, err := s.db.ExecContext(ctx, s.dialect.rebind(`INSERT INTO digest_windows (window_id, digest_id, announcement, closed_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (window_id) DO NOTHING`), windowID, digestID, string(announcement), s.dialect.timeArg(s.now()))
	if err != nil {
		return fmt.Errorf("close digest window %s: %w", windowID, err)
	}
	return nil
}

// DigestWindowEntries returns up to limit entries of window windowID after
// event id after, in event id order: a page of those to answer.
func (s *Store) DigestWindowEntries(ctx context.Context, windowID, after string, limit int) ([]DigestEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(`SELECT event_id, workflow_id FROM digest_entries
		WHERE window_id = ? AND event_id > ? ORDER BY event_id LIMIT ?`), windowID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list entries of digest window %s: %w", windowID, err)
	}
	defer rows.Close()
	var out []DigestEntry
	for rows.Next() {
		var e DigestEntry
		if err := rows.Scan(&e.EventID, &e.WorkflowID); err != nil {
			return nil, fmt.Errorf("list entries of digest window %s: %w", windowID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list entries of digest window %s: %w", windowID, err)
	}
	return out, nil
}

// ForgetDigestWindows deletes the windows answered before before, and
// their entries: past it, an entry that comes again is gathered anew. It
// returns how many windows went.
func (s *Store) ForgetDigestWindows(ctx context.Context, before time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("forget digest windows: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	at := s.dialect.timeArg(before)
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(`DELETE FROM digest_entries
		WHERE window_id IN (SELECT window_id FROM digest_windows WHERE closed_at < ?)`), at); err != nil {
		return 0, fmt.Errorf("forget digest windows: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.dialect.rebind(`DELETE FROM digest_windows WHERE closed_at < ?`), at)
	if err != nil {
		return 0, fmt.Errorf("forget digest windows: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("forget digest windows: %w", err)
	}
	return int(n), tx.Commit()
}
