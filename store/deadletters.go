package store

import (
	"context"
	"fmt"
	"time"
)

// DeadLetter is an accepted event whose workflow failed for good: its body
// exactly as received, when, and why.
type DeadLetter struct {
	EventID    string
	ReceivedAt time.Time
	Error      string
	Payload    []byte
	KeptAt     time.Time
}

// PutDeadLetter keeps l, replacing an earlier letter of the same event.
func (s *Store) PutDeadLetter(ctx context.Context, l DeadLetter) error {
	if l.EventID == "" {
		return fmt.Errorf("keep dead letter: %w: event id is empty", ErrInvalid)
	}
	_, err := s.db.ExecContext(ctx, s.dialect.rebind(`INSERT INTO dead_letters (event_id, received_at, error, payload, kept_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (event_id) DO UPDATE SET received_at = excluded.received_at, error = excluded.error,
			payload = excluded.payload, kept_at = excluded.kept_at`),
		l.EventID, s.dialect.timeArg(l.ReceivedAt), l.Error, s.dialect.payloadArg(l.Payload), s.dialect.timeArg(s.now()))
	if err != nil {
		return fmt.Errorf("keep dead letter %s: %w", l.EventID, err)
	}
	return nil
}

// DeadLetters returns every kept letter, the earliest received first.
func (s *Store) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT event_id, received_at, error, payload, kept_at FROM dead_letters ORDER BY received_at, event_id`)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var l DeadLetter
		if err := rows.Scan(&l.EventID, timeScanner{&l.ReceivedAt}, &l.Error, &l.Payload, timeScanner{&l.KeptAt}); err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// RemoveDeadLetter deletes the letter of eventID, once replayed.
func (s *Store) RemoveDeadLetter(ctx context.Context, eventID string) error {
	if _, err := s.db.ExecContext(ctx, s.dialect.rebind(`DELETE FROM dead_letters WHERE event_id = ?`), eventID); err != nil {
		return fmt.Errorf("remove dead letter %s: %w", eventID, err)
	}
	return nil
}
