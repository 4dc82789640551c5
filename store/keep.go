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

// forUpdate makes a SELECT of one row take it for the rest of the
// transaction on PostgreSQL. SQLite has no FOR UPDATE, and needs none: its
// transactions begin immediate (the DSN's _txlock), holding the database's
// write lock, which serialises them already.
func (d dialect) forUpdate(q string) string {
	if d == postgres {
		q += " FOR UPDATE"
	}
	return d.rebind(q)
}

// lockRowQuery takes the completion's row, so two channels keeping their
// receipts at once take turns and the second counts the first's.
const lockRowQuery = "SELECT status, expect FROM completions WHERE event_id = ?"

// KeepReceipt stores one channel's receipt of an event's notice as it is
// delivered and, when every channel in expect then holds a receipt in the
// receipts table, marks the row completed and clears an earlier failure, all
// in one transaction. completed says it did: the workflow then has nothing
// left to record, which spares it the outcome step (a billable action on
// Temporal Cloud and a trip through the server). The row also keeps expect,
// for a receipt kept without it (KeepAnnounced). A channel whose receipt is
// only in the legacy columns does not count, so such a row is completed by
// the outcome step as before. An ignored event is never completed. It
// returns a wrapped ErrNotFound when no row has eventID and a wrapped
// ErrInvalid for a receipt without an id or a channel that is not among
// expect.
func (s *Store) KeepReceipt(ctx context.Context, eventID, channel string, r workflows.Receipt, expect []string) (completed bool, err error) {
	if !slices.Contains(expect, channel) {
		return false, fmt.Errorf("keep receipt of %s: %w: channel %q is not among %s", eventID, ErrInvalid, channel, strings.Join(expect, ","))
	}
	return s.keep(ctx, eventID, channel, r, expect)
}

// KeepAnnounced is KeepReceipt for a receipt that comes from elsewhere than
// the notice's own delivery: a cohort digest's, which AnswerDigest keeps
// for each completion it gathered, with the channels the row waits for as
// its run's first receipt kept them. A row that holds none (no receipt yet,
// or a run from before expect) keeps the receipt and is not completed: the
// run's next receipt, or its outcome step, completes it.
func (s *Store) KeepAnnounced(ctx context.Context, eventID, channel string, r workflows.Receipt) (completed bool, err error) {
	return s.keep(ctx, eventID, channel, r, nil)
}

// keep is KeepReceipt, with the row's own expect where expect is nil.
func (s *Store) keep(ctx context.Context, eventID, channel string, r workflows.Receipt, expect []string) (completed bool, err error) {
	if channel == "" || r.ID == "" {
		return false, fmt.Errorf("keep receipt of %s: %w: receipt of channel %q has no id", eventID, ErrInvalid, channel)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
	}
	defer func() { _ = tx.Rollback() }()
	var status Status
	var kept string
	if err := tx.QueryRowContext(ctx, s.dialect.forUpdate(lockRowQuery), eventID).Scan(&status, &kept); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("keep receipt of %s: %w", eventID, ErrNotFound)
		}
		return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
	}
	now := s.dialect.timeArg(s.now())
	if expect == nil {
		if kept != "" {
			expect = strings.Split(kept, ",")
		}
	} else if joined := strings.Join(expect, ","); joined != kept {
		if _, err := tx.ExecContext(ctx, s.dialect.rebind("UPDATE completions SET expect = ? WHERE event_id = ?"), joined, eventID); err != nil {
			return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(receiptQuery), eventID, channel, r.ID, r.Where, r.Via, r.SHA256, now); err != nil {
		return false, fmt.Errorf("keep receipt of %s: %w", eventID, err)
	}
	if len(expect) > 0 && status != StatusIgnored {
		args := []any{eventID}
		for _, name := range expect {
			args = append(args, name)
		}
		var held int
		q := "SELECT COUNT(*) FROM receipts WHERE event_id = ? AND receipt_id <> '' AND channel IN (" + placeholders(len(expect)) + ")"
		if err := tx.QueryRowContext(ctx, s.dialect.rebind(q), args...).Scan(&held); err != nil {
			return false, fmt.Errorf("keep receipt of %s: count receipts: %w", eventID, err)
		}
		completed = held == len(expect)
	}
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
