package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/coursehook/coursehook/delivery"
)

// DeliveryEvent is one event of SendGrid's Event Webhook as it is kept: what
// it reports, which email it names, and its JSON as SendGrid posted it.
type DeliveryEvent struct {
	// ID is SendGrid's sg_event_id, unique per event: a repeated post of
	// the same event is stored once.
	ID string
	// Type is SendGrid's name of the event (processed, bounce, open…).
	Type string
	// State is the delivery state it reports, empty for opens and clicks.
	State delivery.State
	// EventID and ResendID are the custom args coursehook set on the email;
	// empty when SendGrid's event lacks them (a Return-Path bounce).
	EventID, ResendID string
	// MessageKey is the message id the send returned (SendGrid's
	// X-Message-Id), the fallback for events without the custom args.
	MessageKey string
	// At is when SendGrid says it happened.
	At                     time.Time
	Reason, Classification string
	Raw                    []byte
}

// EmailKey names one email: the first of an event (ResendID empty) or a
// resend's.
type EmailKey struct {
	EventID  string `json:"eventId"`
	ResendID string `json:"resendId,omitempty"`
}

// Email is one certificate email coursehook sent and how far it got.
type Email struct {
	EmailKey
	// To is the address it went to.
	To string
	// MessageID is the id the send returned.
	MessageID string
	SentAt    time.Time
	State     delivery.State
	// StateAt, Reason and Classification come from the event that set
	// State: SendGrid's time, its words and its bounce classification.
	StateAt                time.Time
	Reason, Classification string
	// Opens and Clicks count engagement events, when they are tracked.
	Opens, Clicks int
	// AlertTS is the Slack reply posted about a failed delivery, once.
	AlertTS string
}

// ApplyResult is what one batch of delivery events did.
type ApplyResult struct {
	// Applied counts the events applied now; one applied by an earlier
	// attempt is not counted again.
	Applied int
	// Unmatched counts events that name no email coursehook sent.
	Unmatched int
	// Alerts are the failed emails whose Slack reply this batch claimed
	// and has not posted yet.
	Alerts []Email
}

// idChunk bounds the ids of one IN list, and insertChunk the rows of one
// INSERT, well under SQLite's and PostgreSQL's parameter limits.
const (
	idChunk     = 500
	insertChunk = 100
)

// SaveDeliveryEvents stores the events not stored before, in one
// transaction, and returns those new ones, to count, and the ids of the
// given events still waiting to be applied: the new ones, and any an
// earlier post stored but whose batch never ran. SendGrid repeats events,
// and a whole batch when our answer is lost; the sg_event_id decides.
func (s *Store) SaveDeliveryEvents(ctx context.Context, evs []DeliveryEvent) (fresh []DeliveryEvent, pending []string, err error) {
	if len(evs) == 0 {
		return nil, nil, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("save delivery events: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := s.dialect.timeArg(s.now())
	ids := make([]string, 0, len(evs))
	byID := make(map[string]DeliveryEvent, len(evs))
	for _, e := range evs {
		if e.ID == "" {
			return nil, nil, fmt.Errorf("save delivery events: %w: an event has no sg_event_id", ErrInvalid)
		}
		ids = append(ids, e.ID)
		byID[e.ID] = e
	}
	// Many rows a statement: a batch of thousands is stored in a few
	// round trips, well inside the time SendGrid waits for its answer.
	for chunk := range slices.Chunk(evs, insertChunk) {
		args := make([]any, 0, len(chunk)*11)
		for _, e := range chunk {
			args = append(args, e.ID, e.Type, string(e.State), e.EventID, e.ResendID, e.MessageKey,
				s.nullTime(e.At), e.Reason, e.Classification, s.dialect.payloadArg(e.Raw), now)
		}
		q := `INSERT INTO delivery_events
			(sg_event_id, type, state, event_id, resend_id, message_key, occurred_at, reason, classification, raw, received_at)
			VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(chunk)), ", ") + `
			ON CONFLICT (sg_event_id) DO NOTHING RETURNING sg_event_id`
		rows, err := tx.QueryContext(ctx, s.dialect.rebind(q), args...)
		if err != nil {
			return nil, nil, fmt.Errorf("save delivery events: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("save delivery events: %w", err)
			}
			fresh = append(fresh, byID[id])
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, nil, fmt.Errorf("save delivery events: %w", err)
		}
	}
	err = inChunks(ids, func(chunk []string, args []any) error {
		rows, err := tx.QueryContext(ctx, s.dialect.rebind("SELECT sg_event_id FROM delivery_events WHERE applied_at IS NULL AND sg_event_id IN ("+placeholders(len(chunk))+")"), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			pending = append(pending, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("save delivery events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("save delivery events: %w", err)
	}
	slices.Sort(pending)
	return fresh, slices.Compact(pending), nil
}

// ApplyDeliveryEvents applies the stored events ids not applied yet, in one
// transaction: each moves its email's state forward (never back, whatever
// order SendGrid posted them in), and the completion's when it is the
// event's latest email; opens and clicks are counted. An email that has
// failed (bounced, dropped, spam) is claimed for one Slack reply by the
// first batch to see it, batchID, and the result lists the claimed emails
// whose reply is still to post, so a retried batch gets them again and no
// other batch ever does.
func (s *Store) ApplyDeliveryEvents(ctx context.Context, batchID string, ids []string) (ApplyResult, error) {
	var res ApplyResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("apply delivery events: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var evs []DeliveryEvent
	err = inChunks(ids, func(chunk []string, args []any) error {
		rows, err := tx.QueryContext(ctx, s.dialect.rebind(`SELECT sg_event_id, type, state, event_id, resend_id, message_key,
			occurred_at, reason, classification FROM delivery_events
			WHERE applied_at IS NULL AND sg_event_id IN (`+placeholders(len(chunk))+")"), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e DeliveryEvent
			if err := rows.Scan(&e.ID, &e.Type, &e.State, &e.EventID, &e.ResendID, &e.MessageKey,
				timeScanner{&e.At}, &e.Reason, &e.Classification); err != nil {
				return err
			}
			evs = append(evs, e)
		}
		return rows.Err()
	})
	if err != nil {
		return res, fmt.Errorf("apply delivery events: %w", err)
	}
	keys, err := s.matchEmails(ctx, tx, evs)
	if err != nil {
		return res, fmt.Errorf("apply delivery events: %w", err)
	}
	// Each email's events fold into one change (its furthest state, and
	// its opens and clicks), so a batch of thousands costs a few statements
	// an email rather than an event.
	changes := map[EmailKey]*emailChange{}
	var matched, unmatched []string
	var byMessageID []DeliveryEvent
	for i, e := range evs {
		key, ok := keys[i]
		if !ok {
			res.Unmatched++
			unmatched = append(unmatched, e.ID)
			continue
		}
		c := changes[key]
		if c == nil {
			c = &emailChange{}
			changes[key] = c
		}
		c.add(e)
		if e.EventID == "" {
			e.EventID, e.ResendID = key.EventID, key.ResendID
			byMessageID = append(byMessageID, e)
		} else {
			matched = append(matched, e.ID)
		}
	}
	claimed := map[EmailKey]bool{}
	// In key order, so two batches lock the emails they share alike.
	for _, key := range slices.SortedFunc(maps.Keys(changes), compareKeys) {
		failed, err := s.applyToEmail(ctx, tx, key, changes[key])
		if err != nil {
			return res, fmt.Errorf("apply delivery events of %s: %w", key.EventID, err)
		}
		if failed {
			claimed[key] = true
		}
	}
	now := s.dialect.timeArg(s.now())
	for _, mark := range []struct {
		ids     []string
		matched int
	}{{matched, 1}, {unmatched, 0}} {
		err := inChunks(mark.ids, func(chunk []string, args []any) error {
			_, err := tx.ExecContext(ctx, s.dialect.rebind("UPDATE delivery_events SET applied_at = ?, matched = ? WHERE sg_event_id IN ("+
				placeholders(len(chunk))+")"), append([]any{now, mark.matched}, args...)...)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("apply delivery events: %w", err)
		}
	}
	// An event matched by its message id keeps the email it was matched to.
	for _, e := range byMessageID {
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(`UPDATE delivery_events
			SET applied_at = ?, matched = 1, event_id = ?, resend_id = ? WHERE sg_event_id = ?`),
			now, e.EventID, e.ResendID, e.ID); err != nil {
			return res, fmt.Errorf("apply delivery event %s: %w", e.ID, err)
		}
	}
	res.Applied = len(evs)
	for key := range claimed {
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(`UPDATE emails SET alert_batch = ?
			WHERE event_id = ? AND resend_id = ? AND alert_batch = ''`), batchID, key.EventID, key.ResendID); err != nil {
			return res, fmt.Errorf("apply delivery events: claim the reply of %s: %w", key.EventID, err)
		}
	}
	rows, err := tx.QueryContext(ctx, s.dialect.rebind("SELECT "+emailColumns+
		" FROM emails WHERE alert_batch = ? AND alert_ts = '' ORDER BY event_id, resend_id"), batchID)
	if err != nil {
		return res, fmt.Errorf("apply delivery events: %w", err)
	}
	res.Alerts, err = scanEmails(rows)
	if err != nil {
		return res, fmt.Errorf("apply delivery events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("apply delivery events: %w", err)
	}
	return res, nil
}

// emailChange is what a batch's events say of one email.
type emailChange struct {
	// best is the event of the furthest state, the latest of its rank.
	best          *DeliveryEvent
	opens, clicks int
	messageKey    string
}

func (c *emailChange) add(e DeliveryEvent) {
	if c.messageKey == "" {
		c.messageKey = e.MessageKey
	}
	switch {
	case e.Type == "open":
		c.opens++
	case e.Type == "click":
		c.clicks++
	case !e.State.Valid():
	case c.best == nil || delivery.Rank(e.State) > delivery.Rank(c.best.State),
		delivery.Rank(e.State) == delivery.Rank(c.best.State) && !e.At.Before(c.best.At):
		c.best = &e
	}
}

func compareKeys(a, b EmailKey) int {
	return cmp.Or(strings.Compare(a.EventID, b.EventID), strings.Compare(a.ResendID, b.ResendID))
}

// matchEmails finds the email each event reports on, by index: by
// coursehook's custom args when SendGrid copied them, else by the message
// id the send returned. An event naming a completion, or a resend,
// coursehook never recorded is not ours, and has no entry.
func (s *Store) matchEmails(ctx context.Context, tx *sql.Tx, evs []DeliveryEvent) (map[int]EmailKey, error) {
	var eventIDs, resendIDs, messageKeys []string
	for _, e := range evs {
		switch {
		case e.EventID != "":
			eventIDs = append(eventIDs, e.EventID)
			if e.ResendID != "" {
				resendIDs = append(resendIDs, e.ResendID)
			}
		case e.MessageKey != "":
			messageKeys = append(messageKeys, e.MessageKey)
		}
	}
	completions := map[string]bool{}
	err := s.lookup(ctx, tx, "SELECT event_id, '', '' FROM completions WHERE event_id IN", eventIDs, func(id, _, _ string) {
		completions[id] = true
	})
	if err != nil {
		return nil, err
	}
	resends := map[string]string{}
	err = s.lookup(ctx, tx, "SELECT request_id, event_id, '' FROM resends WHERE request_id IN", resendIDs, func(id, eventID, _ string) {
		resends[id] = eventID
	})
	if err != nil {
		return nil, err
	}
	byMessage := map[string]EmailKey{}
	err = s.lookup(ctx, tx, "SELECT message_id, event_id, resend_id FROM emails WHERE message_id IN", messageKeys, func(id, eventID, resendID string) {
		byMessage[id] = EmailKey{EventID: eventID, ResendID: resendID}
	})
	if err != nil {
		return nil, err
	}
	keys := map[int]EmailKey{}
	for i, e := range evs {
		switch {
		case e.EventID != "" && completions[e.EventID] && (e.ResendID == "" || resends[e.ResendID] == e.EventID):
			keys[i] = EmailKey{EventID: e.EventID, ResendID: e.ResendID}
		case e.EventID == "" && byMessage[e.MessageKey].EventID != "":
			keys[i] = byMessage[e.MessageKey]
		}
	}
	return keys, nil
}

// lookup runs query, a SELECT of three text columns ending in "IN", for
// the distinct values, a chunk at a time, and hands each row to row.
func (s *Store) lookup(ctx context.Context, tx *sql.Tx, query string, values []string, row func(a, b, c string)) error {
	slices.Sort(values)
	return inChunks(slices.Compact(values), func(chunk []string, args []any) error {
		rows, err := tx.QueryContext(ctx, s.dialect.rebind(query+" ("+placeholders(len(chunk))+")"), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a, b, c string
			if err := rows.Scan(&a, &b, &c); err != nil {
				return err
			}
			row(a, b, c)
		}
		return rows.Err()
	})
}

// applyToEmail applies a batch's change to one email, creating its row
// when the events came before the send's own record of it, and reports
// whether the email has failed.
func (s *Store) applyToEmail(ctx context.Context, tx *sql.Tx, key EmailKey, c *emailChange) (failed bool, err error) {
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(`INSERT INTO emails (event_id, resend_id, message_id, state)
		VALUES (?, ?, ?, 'sent') ON CONFLICT (event_id, resend_id) DO NOTHING`), key.EventID, key.ResendID, c.messageKey); err != nil {
		return false, err
	}
	if c.opens > 0 || c.clicks > 0 {
		if _, err := tx.ExecContext(ctx, s.dialect.rebind("UPDATE emails SET opens = opens + ?, clicks = clicks + ? WHERE event_id = ? AND resend_id = ?"),
			c.opens, c.clicks, key.EventID, key.ResendID); err != nil {
			return false, err
		}
	}
	var cur delivery.State
	if err := tx.QueryRowContext(ctx, s.dialect.rebind("SELECT state FROM emails WHERE event_id = ? AND resend_id = ?"),
		key.EventID, key.ResendID).Scan(&cur); err != nil {
		return false, err
	}
	e := c.best
	if e == nil || delivery.Rank(e.State) < delivery.Rank(cur) {
		// Late news of an earlier stage: the state stays, and so do its
		// time and reason.
		return cur.Failed(), nil
	}
	next := delivery.Advance(cur, e.State)
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(`UPDATE emails SET state = ?, state_at = ?, reason = ?, classification = ?,
		message_id = CASE WHEN message_id = '' THEN ? ELSE message_id END
		WHERE event_id = ? AND resend_id = ?`),
		string(next), s.nullTime(e.At), e.Reason, e.Classification, c.messageKey, key.EventID, key.ResendID); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(`UPDATE completions SET delivery = ?, delivery_at = ?, delivery_reason = ?
		WHERE event_id = ? AND delivery_resend_id = ?`),
		string(next), s.nullTime(e.At), cmp.Or(e.Reason, e.Classification), key.EventID, key.ResendID); err != nil {
		return false, err
	}
	return next.Failed(), nil
}

// EmailSent records an email as sent, when the send returned: its address
// and message id, and on the completion that its latest email is this one,
// in the state its events may already have moved it to.
func (s *Store) EmailSent(ctx context.Context, e Email) error {
	if e.EventID == "" {
		return fmt.Errorf("record email: %w: event id is empty", ErrInvalid)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record email of %s: %w", e.EventID, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(`INSERT INTO emails (event_id, resend_id, to_address, message_id, sent_at, state, state_at)
		VALUES (?, ?, ?, ?, ?, 'sent', ?)
		ON CONFLICT (event_id, resend_id) DO UPDATE SET
			to_address = excluded.to_address, message_id = excluded.message_id, sent_at = excluded.sent_at`),
		e.EventID, e.ResendID, e.To, e.MessageID, s.dialect.timeArg(e.SentAt), s.dialect.timeArg(e.SentAt)); err != nil {
		return fmt.Errorf("record email of %s: %w", e.EventID, err)
	}
	var cur Email
	if err := tx.QueryRowContext(ctx, s.dialect.rebind("SELECT state, state_at, reason, classification FROM emails WHERE event_id = ? AND resend_id = ?"),
		e.EventID, e.ResendID).Scan(&cur.State, timeScanner{&cur.StateAt}, &cur.Reason, &cur.Classification); err != nil {
		return fmt.Errorf("record email of %s: %w", e.EventID, err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(`UPDATE completions SET delivery_resend_id = ?,
		delivery = ?, delivery_at = ?, delivery_reason = ? WHERE event_id = ?`),
		e.ResendID, string(cur.State), s.nullTime(cur.StateAt), cmp.Or(cur.Reason, cur.Classification), e.EventID); err != nil {
		return fmt.Errorf("record email of %s: %w", e.EventID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record email of %s: %w", e.EventID, err)
	}
	return nil
}

// AlertPosted records the Slack reply of a failed email, so no later batch
// posts it again.
func (s *Store) AlertPosted(ctx context.Context, key EmailKey, ts string) error {
	if _, err := s.db.ExecContext(ctx, s.dialect.rebind("UPDATE emails SET alert_ts = ? WHERE event_id = ? AND resend_id = ?"),
		ts, key.EventID, key.ResendID); err != nil {
		return fmt.Errorf("record the delivery reply of %s: %w", key.EventID, err)
	}
	return nil
}

// GetEmail returns one email, or a wrapped ErrNotFound.
func (s *Store) GetEmail(ctx context.Context, key EmailKey) (Email, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind("SELECT "+emailColumns+" FROM emails WHERE event_id = ? AND resend_id = ?"),
		key.EventID, key.ResendID)
	if err != nil {
		return Email{}, fmt.Errorf("get email of %s: %w", key.EventID, err)
	}
	es, err := scanEmails(rows)
	if err != nil {
		return Email{}, fmt.Errorf("get email of %s: %w", key.EventID, err)
	}
	if len(es) == 0 {
		return Email{}, fmt.Errorf("get email of %s: %w", key.EventID, ErrNotFound)
	}
	return es[0], nil
}

// Emails returns the emails of the events, each event's first one first,
// with one query per idChunk events.
func (s *Store) Emails(ctx context.Context, eventIDs ...string) ([]Email, error) {
	var out []Email
	err := inChunks(eventIDs, func(chunk []string, args []any) error {
		rows, err := s.db.QueryContext(ctx, s.dialect.rebind("SELECT "+emailColumns+
			" FROM emails WHERE event_id IN ("+placeholders(len(chunk))+") ORDER BY sent_at, resend_id"), args...)
		if err != nil {
			return err
		}
		es, err := scanEmails(rows)
		out = append(out, es...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list emails of %d events: %w", len(eventIDs), err)
	}
	return out, nil
}

// EmailAccepted looks for SendGrid's report that it took the email
// (eventID, resendID) in: any delivery event dated since since, applied or
// not. It returns the message id, for a retried send to return instead of
// sending the email again.
func (s *Store) EmailAccepted(ctx context.Context, eventID, resendID string, since time.Time) (string, bool, error) {
	var id string
	err := s.db.QueryRowContext(ctx, s.dialect.rebind(`SELECT message_key FROM delivery_events
		WHERE event_id = ? AND resend_id = ? AND occurred_at >= ? AND state <> ''
		ORDER BY occurred_at LIMIT 1`), eventID, resendID, s.dialect.timeArg(since)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look for the delivery events of %s: %w", eventID, err)
	}
	return id, true, nil
}

// DeliveryEventsArrive reports whether SendGrid's events have reached
// coursehook since since: without them, waiting for one is pointless.
func (s *Store) DeliveryEventsArrive(ctx context.Context, since time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.dialect.rebind("SELECT COUNT(*) FROM (SELECT 1 FROM delivery_events WHERE received_at >= ? LIMIT 1) recent"),
		s.dialect.timeArg(since)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for recent delivery events: %w", err)
	}
	return n > 0, nil
}

// DeliveryEventsReceived counts the stored delivery events, and those not
// applied yet, for tests and the operators' health checks.
func (s *Store) DeliveryEventsReceived(ctx context.Context) (total, pending int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) - COUNT(applied_at) FROM delivery_events`).Scan(&total, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("count delivery events: %w", err)
	}
	return total, pending, nil
}

const emailColumns = `event_id, resend_id, to_address, message_id, sent_at, state, state_at,
	reason, classification, opens, clicks, alert_ts`

func scanEmails(rows *sql.Rows) ([]Email, error) {
	defer rows.Close()
	var out []Email
	for rows.Next() {
		var e Email
		if err := rows.Scan(&e.EventID, &e.ResendID, &e.To, &e.MessageID, timeScanner{&e.SentAt}, &e.State,
			timeScanner{&e.StateAt}, &e.Reason, &e.Classification, &e.Opens, &e.Clicks, &e.AlertTS); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// nullTime is a {timestamp} argument, NULL for the zero time.
func (s *Store) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.dialect.timeArg(t)
}

// inChunks calls f with the ids, idChunk at a time, and their arguments.
func inChunks(ids []string, f func(chunk []string, args []any) error) error {
	for chunk := range slices.Chunk(ids, idChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := f(chunk, args); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
