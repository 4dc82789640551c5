package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coursehook/coursehook/workflows"
)

// CertificateNotice is a notice about a certificate's validity, once
// delivered: a reminder before its expiry date, or the notice that it
// expired. Notice names which (workflows.ReminderNotice,
// workflows.ExpiryNotice); there is at most one of each per certificate,
// which is how a retry after a crash finds the one already sent.
type CertificateNotice struct {
	EventID string
	Notice  string
	// Channel is the channel that delivered it (email for a reminder,
	// slack for an expiry notice).
	Channel string
	Receipt workflows.Receipt
	SentAt  time.Time
}

// NoticeSent keeps a delivered notice. The first one kept stays: a second
// call for the same event and notice changes nothing, and reports false.
func (s *Store) NoticeSent(ctx context.Context, n CertificateNotice) (bool, error) {
	if n.EventID == "" || n.Notice == "" {
		return false, fmt.Errorf("keep certificate notice: %w: event id and notice are required", ErrInvalid)
	}
	res, err := s.db.ExecContext(ctx, s.dialect.rebind(`INSERT INTO certificate_notices
		(event_id, notice, channel, receipt_id, location, via, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (event_id, notice) DO NOTHING`),
		n.EventID, n.Notice, n.Channel, n.Receipt.ID, n.Receipt.Where, n.Receipt.Via, s.dialect.timeArg(n.SentAt))
	if err != nil {
		return false, fmt.Errorf("keep %s notice of %s: %w", n.Notice, n.EventID, err)
	}
	added, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("keep %s notice of %s: %w", n.Notice, n.EventID, err)
	}
	return added == 1, nil
}

// FindNotice returns the notice of eventID named notice, and whether it was
// delivered.
func (s *Store) FindNotice(ctx context.Context, eventID, notice string) (CertificateNotice, bool, error) {
	n := CertificateNotice{EventID: eventID, Notice: notice}
	err := s.db.QueryRowContext(ctx, s.dialect.rebind(`SELECT channel, receipt_id, location, via, sent_at
		FROM certificate_notices WHERE event_id = ? AND notice = ?`), eventID, notice).
		Scan(&n.Channel, &n.Receipt.ID, &n.Receipt.Where, &n.Receipt.Via, timeScanner{&n.SentAt})
	if errors.Is(err, sql.ErrNoRows) {
		return CertificateNotice{}, false, nil
	}
	if err != nil {
		return CertificateNotice{}, false, fmt.Errorf("find %s notice of %s: %w", notice, eventID, err)
	}
	return n, true, nil
}

// Notices returns the delivered notices of the given events, in the order
// they were sent.
func (s *Store) Notices(ctx context.Context, eventIDs ...string) ([]CertificateNotice, error) {
	var out []CertificateNotice
	err := inChunks(eventIDs, func(chunk []string, args []any) error {
		rows, err := s.db.QueryContext(ctx, s.dialect.rebind(`SELECT event_id, notice, channel, receipt_id, location, via, sent_at
			FROM certificate_notices WHERE event_id IN (`+placeholders(len(chunk))+`) ORDER BY sent_at, event_id, notice`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n CertificateNotice
			if err := rows.Scan(&n.EventID, &n.Notice, &n.Channel, &n.Receipt.ID, &n.Receipt.Where, &n.Receipt.Via, timeScanner{&n.SentAt}); err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read certificate notices: %w", err)
	}
	return out, nil
}
