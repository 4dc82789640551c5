package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/coursehook/coursehook/workflows"
)

// lockRowQuery takes the completion's row for the rest of the transaction
// on PostgreSQL, so two channels keeping their receipts at once take turns
// and the second counts the first's. SQLite has one connection, which
// serialises the transactions already, and no FOR UPDATE.
func (d dialect) lockRowQuery() string {
	q := "SELECT status FROM completions WHERE event_id = ?"
	if d == postgres {
		q += " FOR UPDATE"
	}
	return d.rebind(q)
}

// KeepReceipt stores one channel's receipt of an event's notice as it is
// delivered and, when every channel in expect then holds a receipt in the
// receipts table, marks the row completed and clears an earlier failure, all
// in one transaction. completed says it did: the workflow then has nothing
// left to record, which spares it the outcome step (a billable action on
// Temporal Cloud and a trip through the server). A channel whose receipt is
// only in the legacy columns does not count, so such a row is completed by
// the outcome step as before. An ignored event is never completed. It
// returns a wrapped ErrNotFound when no row has eventID and a wrapped
// ErrInvalid for a receipt without an id or a channel that is not among
// expect.
func (s *Store) KeepReceipt(ctx context.Context, eventID, channel string, r workflows.Receipt, expect []string) (completed bool, err error) {
	if channel == "" || r.ID == "" {
		return false, fmt.Errorf("keep receipt of %s: %w: receipt of channel %q has no id", eventID, ErrInvalid, channel)
	}
	if !slices.Contains(expect, channel) {
		return false, fmt.Errorf("keep receipt of %s: %w: channel %q is not among %s", eventID, ErrInvalid, channel, strings.Join(expect, ","))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
	}
	defer func() { _ = tx.Rollback() }()
	var status Status
	if err := tx.QueryRowContext(ctx, s.dialect.lockRowQuery(), eventID).Scan(&status); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("keep receipt of %s: %w", eventID, ErrNotFound)
		}
		return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
	}
	now := s.dialect.timeArg(s.now())
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(receiptQuery), eventID, channel, r.ID, r.Where, r.Via, r.SHA256, now); err != nil {
		return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
	}
	args := []any{eventID}
	for _, name := range expect {
		args = append(args, name)
	}
	var held int
	q := "SELECT COUNT(*) FROM receipts WHERE event_id = ? AND receipt_id <> '' AND channel IN (" + placeholders(len(expect)) + ")"
	if err := tx.QueryRowContext(ctx, s.dialect.rebind(q), args...).Scan(&held); err != nil {
		return false, fmt.Errorf("keep receipt of %s: count receipts: %w", eventID, err)
	}
	completed = held == len(expect) && status != StatusIgnored
	if completed {
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(outcomeQuery), string(StatusCompleted), "", "", now, eventID); err != nil {
			return false, fmt.Errorf("keep receipt of %s: complete: %w", eventID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
	}
	return completed, nil
}
