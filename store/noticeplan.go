package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coursehook/coursehook/workflows"
)

// NoticeRule is one digest's rule: at most Threshold own messages within
// any Window; past that, a digest window of Window gathers the rest.
type NoticeRule struct {
	// DigestID names the digest (workflows.DigestWorkflowID), whose state
	// the plans share.
	DigestID  string
	Threshold int
	Window    time.Duration
}

// lockPlanQuery reads the event's plan and holds its row: a retry of the
// same event waits for the first attempt's transaction and then finds its
// plan.
const lockPlanQuery = "SELECT notice_plan FROM completions WHERE event_id = ?"

// lockWindowQuery reads the digest's state and holds its row, so the
// digest's decisions are made one at a time.
const lockWindowQuery = "SELECT recent, gather_until FROM notice_windows WHERE digest_id = ?"

const ensureWindowQuery = `INSERT INTO notice_windows (digest_id, recent, updated_at) VALUES (?, '[]', ?)
ON CONFLICT (digest_id) DO NOTHING`

const saveWindowQuery = `UPDATE notice_windows SET recent = ?, gather_until = ?, updated_at = ? WHERE digest_id = ?`

// PlanNotice decides, once per event, whether the event's Slack notice is
// posted at once (workflows.NoticePost) or gathered by its digest
// (workflows.NoticeGather), by the digest's own rule
// (workflows.CourseDigest): posted while fewer than the threshold of the
// digest's completions arrived within the last window and no digest window
// is open; gathered otherwise, the first gathered one opening a window.
//
// It replaces asking the digest, a round trip through two workflows, for
// the common case of a quiet course. Counting rows instead cannot tell the
// first threshold exactly: completions that commit together all count past
// it. So each decision takes the digest's state row under a lock, and the
// decisions are made one at a time, in the order their transactions get
// the lock, like the digest's signals. The plan is stored with the event in
// the same transaction; a retry, or a second run of the event, gets the
// same plan and counts nothing again. It returns a wrapped ErrNotFound
// when no row has eventID.
func (s *Store) PlanNotice(ctx context.Context, eventID string, rule NoticeRule) (string, error) {
	if rule.DigestID == "" {
		return "", fmt.Errorf("plan notice of %s: %w: no digest", eventID, ErrInvalid)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	defer func() { _ = tx.Rollback() }()
	var stored string
	if err := tx.QueryRowContext(ctx, s.dialect.forUpdate(lockPlanQuery), eventID).Scan(&stored); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("plan notice of %s: %w", eventID, ErrNotFound)
		}
		return "", fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	if stored != "" {
		return stored, nil
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(ensureWindowQuery), rule.DigestID, s.dialect.timeArg(s.now())); err != nil {
		return "", fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	var recentJSON string
	var untilTime time.Time
	err = tx.QueryRowContext(ctx, s.dialect.forUpdate(lockWindowQuery), rule.DigestID).Scan(&recentJSON, timeScanner{&untilTime})
	if err != nil {
		return "", fmt.Errorf("plan notice of %s: read digest %s: %w", eventID, rule.DigestID, err)
	}
	var recent []time.Time
	if err := json.Unmarshal([]byte(recentJSON), &recent); err != nil {
		return "", fmt.Errorf("plan notice of %s: digest %s: %w", eventID, rule.DigestID, err)
	}
	// The clock is read under the lock, so the decisions' times follow
	// their order.
	now := s.now()
	plan, recent, untilTime := decideNotice(now, recent, untilTime, rule)
	b, err := json.Marshal(recent)
	if err != nil {
		return "", fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(saveWindowQuery), string(b), s.nullTime(untilTime),
		s.dialect.timeArg(now), rule.DigestID); err != nil {
		return "", fmt.Errorf("plan notice of %s: save digest %s: %w", eventID, rule.DigestID, err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind("UPDATE completions SET notice_plan = ? WHERE event_id = ?"), plan, eventID); err != nil {
		return "", fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	return plan, nil
}

// decideNotice is the digest's rule on its state: the arrival times of the
// latest completions (at most a threshold's worth) and when the open
// window closes (zero or past: none open). It returns the plan and the
// state after this arrival.
func decideNotice(now time.Time, recent []time.Time, until time.Time, rule NoticeRule) (string, []time.Time, time.Time) {
	recent = slices.DeleteFunc(recent, func(t time.Time) bool { return !t.After(now.Add(-rule.Window)) })
	open := now.Before(until)
	plan := workflows.NoticePost
	if len(recent) >= rule.Threshold || open {
		plan = workflows.NoticeGather
		if !open {
			until = now.Add(rule.Window)
		}
	}
	recent = append(recent, now)
	if len(recent) > rule.Threshold {
		recent = slices.Delete(recent, 0, len(recent)-max(rule.Threshold, 0))
	}
	if !now.Before(until) {
		until = time.Time{}
	}
	return plan, recent, until
}
