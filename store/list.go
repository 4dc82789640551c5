package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coursehook/coursehook/delivery"
	"github.com/coursehook/coursehook/event"
)

// Filter selects completions for List. Empty fields match everything.
type Filter struct {
	CourseID, CompanyID string
	// LearnerEmail matches regardless of case.
	LearnerEmail string
	Status       Status
	// Delivery keeps the events whose latest certificate email is in one
	// of these states.
	Delivery []delivery.State
	// Since and Until bound the completion time: Since <= completed_at < Until.
	Since, Until time.Time
	// ReceivedSince keeps the events received at or after it: the recent
	// ones, whatever date the platform gave their completion.
	ReceivedSince time.Time
	// Expiring, when set, keeps the certificates that expire in its range
	// and are still the learner's own (neither revoked nor superseded),
	// and lists them by expiry date instead of completion time: who is
	// due to renew.
	Expiring *ExpiryRange
	// After continues a listing after the last record of a page.
	After *Cursor
	// Limit caps the records returned; zero or less means DefaultListLimit.
	Limit int
}

// ExpiryRange is From <= expires_at < Before; a zero From is open.
type ExpiryRange struct {
	From, Before time.Time
}

// Cursor is a place in the listing order: completion time (expiry date,
// for a listing by expiry), then event id.
type Cursor struct {
	CompletedAt time.Time
	// ExpiresAt places a listing by expiry (Filter.Expiring).
	ExpiresAt time.Time
	EventID   string
}

// CursorOf is the cursor just after r.
func CursorOf(r Record) Cursor {
	return Cursor{CompletedAt: r.CompletedAt, ExpiresAt: r.ExpiresAt, EventID: r.EventID}
}

// DefaultListLimit is the page size when Filter.Limit is unset.
const DefaultListLimit = 100

const listColumns = `
	event_id, event_type, status,
	learner_email, first_name, last_name, learner_id, external_customer_id,
	company_id, course_id, course_title,
	completed_at, received_at, recorded_at, updated_at,
	slack_channel, slack_ts, email_message_id, certificate_sha256, failed_step, error,
	route, announcement, previous_event_id,
	verification_code, revoked_at, revocation_reason,
	delivery, delivery_at, delivery_reason, corrected_email,
	expires_at, superseded_by, renderer`

// List returns the completions f selects, ordered by completion time and
// then event id, without their raw payloads (Get has them). The order is a
// total one, so paging with After never repeats or skips a record, even
// among events completed at the same instant.
func (s *Store) List(ctx context.Context, f Filter) ([]Record, error) {
	q, args, err := s.listQuery(f)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list completions: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var old legacyColumns
		if err := rows.Scan(
			&r.EventID, &r.EventType, &r.Status,
			&r.LearnerEmail, &r.FirstName, &r.LastName, &r.LearnerID, &r.ExternalCustomerID,
			&r.CompanyID, &r.CourseID, &r.CourseTitle,
			timeScanner{&r.CompletedAt}, timeScanner{&r.ReceivedAt}, timeScanner{&r.RecordedAt}, timeScanner{&r.UpdatedAt},
			&old.slackChannel, &old.slackTS, &old.emailMessageID, &old.certificateSHA256, &r.FailedStep, &r.Error,
			&r.Route, &old.announcement, &r.PreviousEventID,
			&r.VerificationCode, timeScanner{&r.RevokedAt}, &r.RevocationReason,
			&r.Delivery, timeScanner{&r.DeliveryAt}, &r.DeliveryReason, &r.CorrectedEmail,
			timeScanner{&r.ExpiresAt}, &r.SupersededBy, &r.Renderer,
		); err != nil {
			return nil, fmt.Errorf("list completions: %w", err)
		}
		r.Receipts = old.receipts()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list completions: %w", err)
	}
	if err := s.withReceipts(ctx, s.db, out); err != nil {
		return nil, fmt.Errorf("list completions: %w", err)
	}
	return out, nil
}

// listQuery is List's query for f. Each filter has an index that leads with
// its column and goes on with the listing order, and the page starts with a
// row-value comparison on that order, so on either database a page is one
// range read of one index, however deep in the table (the EXPLAIN tests
// hold the plans to this).
func (s *Store) listQuery(f Filter) (string, []any, error) {
	if f.Status != "" && !f.Status.Valid() {
		return "", nil, fmt.Errorf("list completions: %w: unknown status %q", ErrInvalid, f.Status)
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.CourseID != "" {
		add("course_id = ?", f.CourseID)
	}
	if f.CompanyID != "" {
		add("company_id = ?", f.CompanyID)
	}
	if f.LearnerEmail != "" {
		add("learner_key = ?", event.EmailKey(f.LearnerEmail))
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if len(f.Delivery) > 0 {
		where = append(where, "delivery IN ("+placeholders(len(f.Delivery))+")")
		for _, d := range f.Delivery {
			if !d.Valid() {
				return "", nil, fmt.Errorf("list completions: %w: unknown delivery state %q", ErrInvalid, d)
			}
			args = append(args, string(d))
		}
	}
	if !f.Since.IsZero() {
		add("completed_at >= ?", s.dialect.timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		add("completed_at < ?", s.dialect.timeArg(f.Until))
	}
	if !f.ReceivedSince.IsZero() {
		add("received_at >= ?", s.dialect.timeArg(f.ReceivedSince))
	}
	order := "completed_at, event_id"
	if e := f.Expiring; e != nil {
		if e.Before.IsZero() {
			return "", nil, fmt.Errorf("list completions: %w: an expiry range needs its end", ErrInvalid)
		}
		order = "expires_at, event_id"
		if !e.From.IsZero() {
			add("expires_at >= ?", s.dialect.timeArg(e.From))
		}
		add("expires_at < ?", s.dialect.timeArg(e.Before))
		where = append(where, "superseded_by = ''", "revoked_at IS NULL")
	}
	if f.After != nil {
		if f.Expiring != nil {
			where = append(where, "(expires_at, event_id) > (?, ?)")
			args = append(args, s.dialect.timeArg(f.After.ExpiresAt), f.After.EventID)
		} else {
			where = append(where, "(completed_at, event_id) > (?, ?)")
			args = append(args, s.dialect.timeArg(f.After.CompletedAt), f.After.EventID)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	q := "SELECT" + listColumns + " FROM completions"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + order + " LIMIT ?"
	return q, append(args, limit), nil
}
