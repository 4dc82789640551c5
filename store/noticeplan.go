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
	// Keep, when set, is the event's entry: a gathered plan keeps it in
	// its window's rows (digest_entries), in the planning transaction, so
	// the digest reads the window from the database when it closes
	// (SealNoticeWindow) and only the window's first entry has to signal
	// it. Nil: the caller hands a gathered entry to the digest itself.
	Keep *DigestEntry
}

// Plan is an event's notice plan: Notice is workflows.NoticePost or
// workflows.NoticeGather. For an entry kept in its window (NoticeRule.Keep),
// Window names the window and Until is when it closes (zero when it is
// closed already); Signal says the digest must be told of the window,
// since this entry opened it or the plan was asked again (a retry, which
// cannot tell whether its first attempt's signal went out; the digest
// takes a window once).
type Plan struct {
	Notice string
	Window string
	Until  time.Time
	Signal bool
}

// lockPlanQuery reads the event's plan and holds its row: a retry of the
// same event waits for the first attempt's transaction and then finds its
// plan.
const lockPlanQuery = "SELECT notice_plan FROM completions WHERE event_id = ?"

// lockWindowQuery reads the digest's state and holds its row, so the
// digest's decisions are made one at a time.
const lockWindowQuery = "SELECT recent, gather_until, window_id FROM notice_windows WHERE digest_id = ?"

const ensureWindowQuery = `INSERT INTO notice_windows (digest_id, recent, updated_at) VALUES (?, '[]', ?)
ON CONFLICT (digest_id) DO NOTHING`

const saveWindowQuery = `UPDATE notice_windows SET recent = ?, gather_until = ?, window_id = ?, updated_at = ? WHERE digest_id = ?`

const keepEntryQuery = `INSERT INTO digest_entries (digest_id, event_id, workflow_id, window_id, gathered_at, learner_name)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest_id, event_id) DO NOTHING`

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
// the same transaction, and so is a gathered entry the rule says to keep
// (NoticeRule.Keep); a retry, or a second run of the event, gets the same
// plan and counts nothing again. It returns a wrapped ErrNotFound when no
// row has eventID.
func (s *Store) PlanNotice(ctx context.Context, eventID string, rule NoticeRule) (Plan, error) {
	if rule.DigestID == "" {
		return Plan{}, fmt.Errorf("plan notice of %s: %w: no digest", eventID, ErrInvalid)
	}
	if k := rule.Keep; k != nil && (k.EventID != eventID || k.WorkflowID == "") {
		return Plan{}, fmt.Errorf("plan notice of %s: %w: the entry to keep is not the event's, or has no workflow id", eventID, ErrInvalid)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Plan{}, fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	defer func() { _ = tx.Rollback() }()
	p, err := s.planNotice(ctx, tx, eventID, rule)
	if err != nil {
		return Plan{}, fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	if err := tx.Commit(); err != nil {
		return Plan{}, fmt.Errorf("plan notice of %s: %w", eventID, err)
	}
	return p, nil
}

func (s *Store) planNotice(ctx context.Context, tx *sql.Tx, eventID string, rule NoticeRule) (Plan, error) {
	var stored string
	if err := tx.QueryRowContext(ctx, s.dialect.forUpdate(lockPlanQuery), eventID).Scan(&stored); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Plan{}, ErrNotFound
		}
		return Plan{}, err
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(ensureWindowQuery), rule.DigestID, s.dialect.timeArg(s.now())); err != nil {
		return Plan{}, err
	}
	var recentJSON, windowID string
	var until time.Time
	err := tx.QueryRowContext(ctx, s.dialect.forUpdate(lockWindowQuery), rule.DigestID).Scan(&recentJSON, timeScanner{&until}, &windowID)
	if err != nil {
		return Plan{}, fmt.Errorf("read digest %s: %w", rule.DigestID, err)
	}
	if stored != "" {
		return s.storedPlan(ctx, tx, stored, rule, windowID, until)
	}
	var recent []time.Time
	if err := json.Unmarshal([]byte(recentJSON), &recent); err != nil {
		return Plan{}, fmt.Errorf("digest %s: %w", rule.DigestID, err)
	}
	// The clock is read under the lock, so the decisions' times follow
	// their order; to the microsecond the databases keep, so a plan asked
	// again tells the same end.
	now := s.now().UTC().Truncate(time.Microsecond)
	wasOpen := now.Before(until)
	p := Plan{}
	p.Notice, recent, until = decideNotice(now, recent, until, rule)
	if p.Notice == workflows.NoticeGather {
		switch {
		case rule.Keep == nil:
			// An entry the caller hands to the digest by signal. A window
			// it opens keeps no entries, so a kept entry joining it opens
			// its own; one it joins stays as it is.
			if !wasOpen {
				windowID = ""
			}
		case !wasOpen, windowID == "":
			windowID = rule.DigestID + "@" + now.UTC().Format(time.RFC3339Nano)
			p.Signal = true
		}
		if rule.Keep != nil {
			p.Window, p.Until = windowID, until
			if _, err := tx.ExecContext(ctx, s.dialect.rebind(keepEntryQuery), rule.DigestID, eventID, rule.Keep.WorkflowID,
				windowID, s.dialect.timeArg(now), rule.Keep.LearnerName); err != nil {
				return Plan{}, fmt.Errorf("keep the entry in digest window %s: %w", windowID, err)
			}
		}
	}
	b, err := json.Marshal(recent)
	if err != nil {
		return Plan{}, err
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(saveWindowQuery), string(b), s.nullTime(until), windowID,
		s.dialect.timeArg(now), rule.DigestID); err != nil {
		return Plan{}, fmt.Errorf("save digest %s: %w", rule.DigestID, err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind("UPDATE completions SET notice_plan = ? WHERE event_id = ?"), p.Notice, eventID); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// storedPlan is the plan an earlier call made for the event, with the
// window its entry was kept in, if any (the digest's current window's end
// while that window is open). It asks for a signal: the earlier call's may
// not have gone out.
func (s *Store) storedPlan(ctx context.Context, tx *sql.Tx, stored string, rule NoticeRule, current string, until time.Time) (Plan, error) {
	p := Plan{Notice: stored}
	if stored != workflows.NoticeGather || rule.Keep == nil {
		return p, nil
	}
	err := tx.QueryRowContext(ctx, s.dialect.rebind("SELECT window_id FROM digest_entries WHERE digest_id = ? AND event_id = ?"),
		rule.DigestID, rule.Keep.EventID).Scan(&p.Window)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return Plan{}, err
	}
	p.Signal = true
	if p.Window == current && s.now().Before(until) {
		p.Until = until
	}
	return p, nil
}

// WindowSummary is what a digest message says of a window of kept entries:
// how many, and the first names. Answered says the window was answered
// already (a digest told of it again), so there is nothing to post.
type WindowSummary struct {
	Count    int
	Names    []string
	Answered bool
}

// SealNoticeWindow closes window windowID of digest digestID, if it is
// still the open one, under the digest's lock, and sums up its entries:
// an entry planned after it joins the next window, and one planned before
// it is counted, whichever clock the digest's timer ran on. It names at
// most names learners, in the order they arrived.
func (s *Store) SealNoticeWindow(ctx context.Context, digestID, windowID string, names int) (WindowSummary, error) {
	var sum WindowSummary
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
	}
	defer func() { _ = tx.Rollback() }()
	var recent, current string
	var until time.Time
	err = tx.QueryRowContext(ctx, s.dialect.forUpdate(lockWindowQuery), digestID).Scan(&recent, timeScanner{&until}, &current)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
	case current == windowID && !until.IsZero():
		if _, err := tx.ExecContext(ctx, s.dialect.rebind("UPDATE notice_windows SET gather_until = NULL, updated_at = ? WHERE digest_id = ?"),
			s.dialect.timeArg(s.now()), digestID); err != nil {
			return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
		}
	}
	var answered int
	if err := tx.QueryRowContext(ctx, s.dialect.rebind("SELECT COUNT(*) FROM digest_windows WHERE window_id = ?"), windowID).Scan(&answered); err != nil {
		return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
	}
	sum.Answered = answered > 0
	if err := tx.QueryRowContext(ctx, s.dialect.rebind("SELECT COUNT(*) FROM digest_entries WHERE window_id = ?"), windowID).Scan(&sum.Count); err != nil {
		return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
	}
	rows, err := tx.QueryContext(ctx, s.dialect.rebind(`SELECT learner_name FROM digest_entries
		WHERE window_id = ? AND learner_name <> '' ORDER BY gathered_at, event_id LIMIT ?`), windowID, names)
	if err != nil {
		return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
		}
		sum.Names = append(sum.Names, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
	}
	if err := tx.Commit(); err != nil {
		return sum, fmt.Errorf("seal digest window %s: %w", windowID, err)
	}
	return sum, nil
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
