package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coursehook/coursehook/workflows"
)

// Resend statuses.
const (
	ResendRunning = "running"
	ResendDone    = "done"
	ResendFailed  = "failed"
)

// Resend is one audited request to send an event's notices again.
type Resend struct {
	RequestID, EventID string
	// What is a channel's name, several separated by commas, or "all".
	What        string
	Reason      string
	RequestedBy string
	RequestedAt time.Time
	// Status is ResendRunning until the resend ends, then ResendDone or
	// ResendFailed; Result says what happened, in words.
	Status, Result string
	// Receipts are what the resend delivered, by channel.
	Receipts   workflows.Receipts
	FinishedAt time.Time
	// OldAddress and NewAddress: a resend of the email to a corrected
	// address keeps both, and the completion remembers the new one.
	OldAddress, NewAddress string
}

// InsertResend records r as running unless its request id is known, and
// returns the stored row: the earlier one when it existed, so a request
// repeated (by an operator or a retried activity) is recorded once.
func (s *Store) InsertResend(ctx context.Context, r Resend) (Resend, bool, error) {
	if r.RequestID == "" || r.EventID == "" {
		return Resend{}, false, fmt.Errorf("record resend: %w: request id and event id are required", ErrInvalid)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Resend{}, false, fmt.Errorf("record resend %s: %w", r.RequestID, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, s.dialect.rebind(`INSERT INTO resends
		(request_id, event_id, what, reason, requested_by, requested_at, status, old_address, new_address)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`),
		r.RequestID, r.EventID, r.What, r.Reason, r.RequestedBy, s.dialect.timeArg(r.RequestedAt), ResendRunning,
		r.OldAddress, r.NewAddress)
	if err != nil {
		return Resend{}, false, fmt.Errorf("record resend %s: %w", r.RequestID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Resend{}, false, fmt.Errorf("record resend %s: %w", r.RequestID, err)
	}
	if n == 1 && r.NewAddress != "" {
		// Later resends, and find, go by the corrected address.
		if _, err := tx.ExecContext(ctx, s.dialect.rebind("UPDATE completions SET corrected_email = ? WHERE event_id = ?"),
			r.NewAddress, r.EventID); err != nil {
			return Resend{}, false, fmt.Errorf("record resend %s: %w", r.RequestID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Resend{}, false, fmt.Errorf("record resend %s: %w", r.RequestID, err)
	}
	got, err := s.GetResend(ctx, r.RequestID)
	return got, n == 1, err
}

// FinishResend stores how the resend ended.
func (s *Store) FinishResend(ctx context.Context, r Resend) error {
	receipts := ""
	if len(r.Receipts) > 0 {
		b, err := json.Marshal(r.Receipts)
		if err != nil {
			return fmt.Errorf("finish resend %s: %w", r.RequestID, err)
		}
		receipts = string(b)
	}
	res, err := s.db.ExecContext(ctx, s.dialect.rebind(`UPDATE resends SET
		status = ?, result = ?, receipts = ?, finished_at = ?
		WHERE request_id = ?`),
		r.Status, r.Result, receipts, s.dialect.timeArg(s.now()), r.RequestID)
	if err != nil {
		return fmt.Errorf("finish resend %s: %w", r.RequestID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish resend %s: %w", r.RequestID, err)
	} else if n == 0 {
		return fmt.Errorf("finish resend %s: %w", r.RequestID, ErrNotFound)
	}
	return nil
}

const resendColumns = `request_id, event_id, what, reason, requested_by, requested_at,
	status, result, slack_ts, email_message_id, receipts, finished_at, old_address, new_address`

// scanResend reads one row of resendColumns. A resend finished before the
// receipts column has its receipts in slack_ts and email_message_id.
func scanResend(row interface{ Scan(...any) error }) (Resend, error) {
	var r Resend
	var old legacyColumns
	var receipts string
	err := row.Scan(&r.RequestID, &r.EventID, &r.What, &r.Reason, &r.RequestedBy, timeScanner{&r.RequestedAt},
		&r.Status, &r.Result, &old.slackTS, &old.emailMessageID, &receipts, timeScanner{&r.FinishedAt},
		&r.OldAddress, &r.NewAddress)
	if err != nil {
		return r, err
	}
	r.Receipts = old.receipts()
	if receipts != "" {
		if err := json.Unmarshal([]byte(receipts), &r.Receipts); err != nil {
			return r, fmt.Errorf("%w: resend %s: stored receipts do not decode: %v", ErrInvalid, r.RequestID, err)
		}
	}
	return r, nil
}

// GetResend returns the resend with requestID, or a wrapped ErrNotFound.
func (s *Store) GetResend(ctx context.Context, requestID string) (Resend, error) {
	r, err := scanResend(s.db.QueryRowContext(ctx, s.dialect.rebind("SELECT "+resendColumns+" FROM resends WHERE request_id = ?"), requestID))
	if errors.Is(err, sql.ErrNoRows) {
		return Resend{}, fmt.Errorf("get resend %s: %w", requestID, ErrNotFound)
	}
	if err != nil {
		return Resend{}, fmt.Errorf("get resend %s: %w", requestID, err)
	}
	return r, nil
}

// Resends returns the resends of the events, each event's oldest first:
// a page of find reads them all with one query per idChunk events.
func (s *Store) Resends(ctx context.Context, eventIDs ...string) ([]Resend, error) {
	var out []Resend
	err := inChunks(eventIDs, func(chunk []string, args []any) error {
		rows, err := s.db.QueryContext(ctx, s.dialect.rebind("SELECT "+resendColumns+" FROM resends WHERE event_id IN ("+
			placeholders(len(chunk))+") ORDER BY requested_at, request_id"), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanResend(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list resends of %d events: %w", len(eventIDs), err)
	}
	return out, nil
}
