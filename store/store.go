// Package store keeps one row per course-completion event in SQLite or
// PostgreSQL. The event id is the primary key, so a webhook delivered twice or
// an activity retried by Temporal finds the row stored the first time instead
// of adding a second one.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coursehook/coursehook/delivery"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/workflows"

	// The drivers register themselves as "pgx" and "sqlite"; Open picks one by URL.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Status is how far the workflow for a completion has got.
type Status string

const (
	// StatusRecorded means the completion is stored and its notices are not finished.
	StatusRecorded Status = "recorded"
	// StatusCompleted means both the Slack notice and the certificate email were delivered.
	StatusCompleted Status = "completed"
	// StatusPartial means a notice failed permanently; FailedStep and Error say which and why.
	StatusPartial Status = "partial"
	// StatusIgnored means the event is of a type we do not act on; its raw payload is kept.
	StatusIgnored Status = "ignored"
)

// Statuses are every status a row can have, in the order a life goes.
func Statuses() []Status {
	return []Status{StatusRecorded, StatusCompleted, StatusPartial, StatusIgnored}
}

// Valid keeps a typo in a caller from writing, or asking for, a status no
// operator query knows about.
func (s Status) Valid() bool {
	return slices.Contains(Statuses(), s)
}

// Completion is what the webhook told us.
type Completion struct {
	EventID, EventType                                               string
	LearnerEmail, FirstName, LastName, LearnerID, ExternalCustomerID string
	CompanyID, CourseID, CourseTitle                                 string
	// CompletedAt is the event's timestamp.
	CompletedAt time.Time
	// ReceivedAt is when the webhook server accepted the event.
	ReceivedAt time.Time
	// Payload is the raw JSON body exactly as received.
	Payload []byte
	// Route is the per-course routing decided for the event, as JSON: it is
	// stored with the first insert, so every later run of the event (a
	// retry, a reset, a resend) does what the first one decided.
	Route string
	// VerificationCode is the certificate's code in canonical form
	// (verify.Normalize), or empty for an event that gets no certificate.
	// Like Route, the first insert's code stays: a certificate already sent
	// keeps the code printed on it.
	VerificationCode string
	// ExpiresAt is when the certificate lapses: the completion time plus
	// the course's certificate.validFor, decided when the row is first
	// inserted and never changed by a later edit of COURSES_FILE. Zero
	// means it never expires.
	ExpiresAt time.Time
	// Renderer is the certificate renderer version the event's PDF is
	// drawn with, fixed by the first insert like Route: a certificate
	// once emailed is drawn again byte for byte. Zero inserts version 1,
	// what rows from before versions hold.
	Renderer int
}

// Record is a stored row. Its times are in UTC with microsecond precision,
// the finest PostgreSQL keeps, so both databases give back the same values.
type Record struct {
	Completion
	Status                Status
	RecordedAt, UpdatedAt time.Time
	// Receipts are what each notice channel delivered, by channel name.
	Receipts          workflows.Receipts
	FailedStep, Error string
	// PreviousEventID is the learner's earlier completion of the same
	// course when this one is a re-completion, found when it was inserted.
	PreviousEventID string
	// RevokedAt is when an operator revoked the certificate; zero while it
	// stands.
	RevokedAt time.Time
	// RevocationReason is the revocation's category (a verify.Reason) while
	// RevokedAt is set, empty otherwise.
	RevocationReason string
	// Delivery is the state of the event's latest certificate email, as
	// SendGrid's events report it; empty before one was sent.
	Delivery delivery.State
	// DeliveryAt and DeliveryReason are SendGrid's time and words (its
	// reason, or its bounce classification) for that state.
	DeliveryAt     time.Time
	DeliveryReason string
	// CorrectedEmail is the address an operator resent the certificate
	// to, which later resends use; empty while the learner's own stands.
	CorrectedEmail string
	// SupersededBy is the learner's later completion of the same course
	// that renewed this certificate, once there is one: only a certificate
	// with an expiry date is superseded, since one without never needs
	// renewing.
	SupersededBy string
}

// Expired reports whether the certificate has an expiry date and it has
// passed at now.
func (r Record) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// EmailAddress is where the certificate goes: the corrected address once
// an operator gave one, else the learner's.
func (r Record) EmailAddress() string {
	if r.CorrectedEmail != "" {
		return r.CorrectedEmail
	}
	return r.LearnerEmail
}

// Revoked reports whether the event's certificate is revoked: the flag a
// resend checks so as not to email a revoked certificate again.
func (r Record) Revoked() bool {
	return !r.RevokedAt.IsZero()
}

// Event decodes the raw payload as the platform sent it. The payload passed
// validation when it came; it is decoded without validation, so a later,
// stricter rule cannot lock a stored event out.
func (r Record) Event() (event.Event, error) {
	var e event.Event
	if err := json.Unmarshal(r.Payload, &e); err != nil {
		return event.Event{}, fmt.Errorf("stored payload of %s does not decode: %w", r.EventID, err)
	}
	return e, nil
}

// CertificateChannel is the channel whose receipt carries the
// certificate's SHA-256: a row is a certificate once it has one.
const CertificateChannel = workflows.StepNameEmail

// Outcome is what the workflow learned from the notices.
type Outcome struct {
	EventID string
	Status  Status
	// Receipts are stored by channel; a channel left out keeps its stored
	// receipt, so an operator's resend of the email does not lose the
	// Slack receipt of the first run.
	Receipts          workflows.Receipts
	FailedStep, Error string
}

// Store reads and writes completions. It is safe for concurrent use once
// Now is set.
type Store struct {
	// Now returns the current time for RecordedAt and UpdatedAt; nil means
	// time.Now. Tests set it to get predictable timestamps.
	Now func() time.Time

	db      *sql.DB
	dialect dialect
}

// Open connects to databaseURL, configures the connection and migrates the
// schema. A URL starting with postgres:// or postgresql:// is PostgreSQL;
// "sqlite://PATH", "file:PATH" or a plain path is SQLite, whose parent folder
// is created. Errors never quote the URL because it may hold a password.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	if databaseURL == "" {
		return nil, errors.New("open store: database url is empty")
	}
	s := &Store{}
	var err error
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		s.dialect = postgres
		s.db, err = sql.Open("pgx", databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
	} else {
		s.dialect = sqlite
		dsn, path := sqliteDSN(databaseURL)
		if path != "" {
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				return nil, fmt.Errorf("create sqlite folder: %w", err)
			}
		}
		s.db, err = sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		// SQLite has one writer anyway; one connection turns what would be
		// SQLITE_BUSY errors between our own goroutines into a queue in
		// database/sql, and keeps an in-memory database alive and shared.
		s.db.SetMaxOpenConns(1)
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("open %s store: %w", s.dialect, err)
	}
	return s, nil
}

// sqliteDSN turns the accepted SQLite spellings into a modernc.org/sqlite
// "file:" URI carrying our pragmas, and returns the file's path so Open can
// create its folder ("" for an in-memory database).
func sqliteDSN(databaseURL string) (dsn, path string) {
	var uri, query string
	if rest, ok := strings.CutPrefix(databaseURL, "file:"); ok {
		// Already a SQLite URI: keep its escaping and its own parameters.
		uri, query, _ = strings.Cut(rest, "?")
		path = uriPath(uri)
		if strings.Contains("&"+query+"&", "&mode=memory&") {
			path = ""
		}
	} else {
		path = strings.TrimPrefix(databaseURL, "sqlite://")
		// In a URI these three would start an escape, the query or the
		// fragment; a file name may legitimately contain any of them.
		uri = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	}
	if path == ":memory:" {
		path = ""
	}
	// WAL lets readers in other processes work while we write; busy_timeout
	// makes a second process wait for the write lock instead of failing;
	// _txlock=immediate takes that lock at BEGIN, so two processes migrating
	// at once queue up rather than deadlock upgrading read locks.
	params := "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	if query != "" {
		params = query + "&" + params
	}
	return "file:" + uri + "?" + params, path
}

// uriPath returns the file path of a SQLite URI path, dropping the
// "//authority" SQLite allows (file:///abs or file://localhost/abs).
func uriPath(uri string) string {
	p := uri
	if after, ok := strings.CutPrefix(p, "//"); ok {
		if i := strings.IndexByte(after, '/'); i >= 0 {
			p = after[i:]
		} else {
			p = ""
		}
	}
	// SQLite decodes %HH in the path, so the file on disk has the decoded
	// name; a malformed escape is left for SQLite to reject.
	if unescaped, err := url.PathUnescape(p); err == nil {
		p = unescaped
	}
	return p
}

// Close closes the database connections.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s store: %w", s.dialect, err)
	}
	return nil
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s store: %w", s.dialect, err)
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string {
	return string(s.dialect)
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return dbTime(time.Now())
	}
	return dbTime(s.Now())
}

// dbTime rounds t down to what PostgreSQL keeps, so a time the caller holds
// compares equal to the one read back, whichever database is behind.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

const insertQuery = `INSERT INTO completions (
	event_id, event_type, status,
	learner_email, first_name, last_name, learner_id, external_customer_id,
	company_id, course_id, course_title,
	completed_at, received_at, payload, recorded_at, updated_at,
	route, previous_event_id, verification_code, learner_key, expires_at, renderer
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (event_id) DO NOTHING`

// previousQuery finds the learner's latest other completion of the course
// up to this one's time: the completion a re-completion follows. The
// learner is the same by event.EmailKey, as everywhere.
const previousQuery = `SELECT event_id FROM completions
WHERE course_id = ? AND learner_key = ? AND event_id <> ? AND status <> ? AND completed_at <= ?
ORDER BY completed_at DESC, event_id DESC LIMIT 1`

// Insert stores c with the given status unless a row with c.EventID exists,
// then returns the row as stored: the earlier one when it already existed.
// created tells which, and exactly one of several concurrent calls with the
// same id gets true, because the primary key decides, not a prior read.
// An empty event id, an unknown status or a verification code that is not
// canonical gives a wrapped ErrInvalid; a code another event holds gives the
// database's unique violation, which IsPermanent knows.
//
// A course completion is linked to the learner's latest earlier completion
// of the same course (Record.PreviousEventID): the platform resets a
// completion to send the notification again, and that arrives as a new event.
func (s *Store) Insert(ctx context.Context, c Completion, status Status) (rec Record, created bool, err error) {
	if c.EventID == "" {
		return Record{}, false, fmt.Errorf("record completion: %w: event id is empty", ErrInvalid)
	}
	if !status.Valid() {
		return Record{}, false, fmt.Errorf("record completion %s: %w: unknown status %q", c.EventID, ErrInvalid, status)
	}
	if c.VerificationCode != "" {
		if err := checkCode(c.VerificationCode); err != nil {
			return Record{}, false, fmt.Errorf("record completion %s: %w", c.EventID, err)
		}
	}
	var previous string
	if status != StatusIgnored && c.CourseID != "" && c.LearnerEmail != "" {
		err := s.db.QueryRowContext(ctx, s.dialect.rebind(previousQuery),
			c.CourseID, event.EmailKey(c.LearnerEmail), c.EventID, string(StatusIgnored), s.dialect.timeArg(c.CompletedAt)).Scan(&previous)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Record{}, false, fmt.Errorf("record completion %s: find an earlier completion: %w", c.EventID, err)
		}
	}
	renderer := cmp.Or(c.Renderer, 1)
	now := s.now()
	res, err := s.db.ExecContext(ctx, s.dialect.rebind(insertQuery),
		c.EventID, c.EventType, string(status),
		c.LearnerEmail, c.FirstName, c.LastName, c.LearnerID, c.ExternalCustomerID,
		c.CompanyID, c.CourseID, c.CourseTitle,
		s.dialect.timeArg(c.CompletedAt), s.dialect.timeArg(c.ReceivedAt), s.dialect.payloadArg(c.Payload),
		s.dialect.timeArg(now), s.dialect.timeArg(now),
		c.Route, previous, c.VerificationCode, event.EmailKey(c.LearnerEmail), s.nullTime(c.ExpiresAt), renderer,
	)
	if err != nil {
		return Record{}, false, fmt.Errorf("record completion %s: %w", c.EventID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Record{}, false, fmt.Errorf("record completion %s: %w", c.EventID, err)
	}
	// Read back even when we just wrote it, so the caller always sees what
	// the database holds (times rounded, the earlier row on a duplicate).
	rec, err = s.Get(ctx, c.EventID)
	if err != nil {
		return Record{}, false, fmt.Errorf("record completion %s: %w", c.EventID, err)
	}
	if rec.PreviousEventID != "" {
		// The renewal. Every insert of the event does it again, so a
		// crash between the two statements is mended by the retry.
		if err := s.supersede(ctx, rec.PreviousEventID, rec); err != nil {
			return Record{}, false, fmt.Errorf("record completion %s: %w", c.EventID, err)
		}
	}
	return rec, n == 1, nil
}

// supersedeQuery marks the certificate a re-completion renews. Only one
// with an expiry date is superseded: a certificate that never expires
// stays as true as the day it was issued. A later renewal does not move
// the mark from the one that came first.
const supersedeQuery = `UPDATE completions SET superseded_by = ?, updated_at = ?
WHERE event_id = ? AND superseded_by = '' AND expires_at IS NOT NULL`

// supersede marks the completion previous as renewed by rec.
func (s *Store) supersede(ctx context.Context, previous string, rec Record) error {
	if rec.Status == StatusIgnored {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, s.dialect.rebind(supersedeQuery), rec.EventID, s.dialect.timeArg(s.now()), previous); err != nil {
		return fmt.Errorf("mark %s superseded: %w", previous, err)
	}
	return nil
}

const outcomeQuery = `UPDATE completions SET status = ?, failed_step = ?, error = ?, updated_at = ? WHERE event_id = ?`

// receiptQuery stores one channel's receipt, replacing an earlier one: a
// resend's delivery is the one to find now.
const receiptQuery = `INSERT INTO receipts (event_id, channel, receipt_id, location, via, sha256, recorded_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (event_id, channel) DO UPDATE SET
	receipt_id = excluded.receipt_id, location = excluded.location, via = excluded.via,
	sha256 = excluded.sha256, recorded_at = excluded.recorded_at`

// RecordOutcome stores the status and receipts the workflow learned, in one
// transaction. A channel o leaves out keeps its stored receipt; FailedStep
// and Error are set as given, because a later success has to clear an
// earlier failure. It returns a wrapped ErrNotFound when no row has
// o.EventID, and a wrapped ErrInvalid for an unknown status or a receipt
// without an id.
func (s *Store) RecordOutcome(ctx context.Context, o Outcome) error {
	if !o.Status.Valid() {
		return fmt.Errorf("record outcome %s: %w: unknown status %q", o.EventID, ErrInvalid, o.Status)
	}
	for name, r := range o.Receipts {
		if name == "" || r.ID == "" {
			return fmt.Errorf("record outcome %s: %w: receipt of channel %q has no id", o.EventID, ErrInvalid, name)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record outcome %s: %w", o.EventID, err)
	}
	defer func() { _ = tx.Rollback() }()
	now := s.dialect.timeArg(s.now())
	res, err := tx.ExecContext(ctx, s.dialect.rebind(outcomeQuery), string(o.Status), o.FailedStep, o.Error, now, o.EventID)
	if err != nil {
		return fmt.Errorf("record outcome %s: %w", o.EventID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("record outcome %s: %w", o.EventID, err)
	}
	if n == 0 {
		return fmt.Errorf("record outcome %s: %w", o.EventID, ErrNotFound)
	}
	// In name order, so two outcomes of one event lock the rows alike.
	for _, name := range slices.Sorted(maps.Keys(o.Receipts)) {
		r := o.Receipts[name]
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(receiptQuery), o.EventID, name, r.ID, r.Where, r.Via, r.SHA256, now); err != nil {
			return fmt.Errorf("record outcome %s: receipt of %s: %w", o.EventID, name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record outcome %s: %w", o.EventID, err)
	}
	return nil
}

// recordQuery reads whole rows, payload included; callers add the WHERE.
const recordQuery = `SELECT
	event_id, event_type, status,
	learner_email, first_name, last_name, learner_id, external_customer_id,
	company_id, course_id, course_title,
	completed_at, received_at, payload, recorded_at, updated_at,
	slack_channel, slack_ts, email_message_id, certificate_sha256, failed_step, error,
	route, announcement, previous_event_id,
	verification_code, revoked_at, revocation_reason,
	delivery, delivery_at, delivery_reason, corrected_email,
	expires_at, superseded_by, renderer
FROM completions`

// scanRecord reads one row of recordQuery.
func scanRecord(row interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var old legacyColumns
	err := row.Scan(
		&r.EventID, &r.EventType, &r.Status,
		&r.LearnerEmail, &r.FirstName, &r.LastName, &r.LearnerID, &r.ExternalCustomerID,
		&r.CompanyID, &r.CourseID, &r.CourseTitle,
		timeScanner{&r.CompletedAt}, timeScanner{&r.ReceivedAt}, &r.Payload,
		timeScanner{&r.RecordedAt}, timeScanner{&r.UpdatedAt},
		&old.slackChannel, &old.slackTS, &old.emailMessageID, &old.certificateSHA256, &r.FailedStep, &r.Error,
		&r.Route, &old.announcement, &r.PreviousEventID,
		&r.VerificationCode, timeScanner{&r.RevokedAt}, &r.RevocationReason,
		&r.Delivery, timeScanner{&r.DeliveryAt}, &r.DeliveryReason, &r.CorrectedEmail,
		timeScanner{&r.ExpiresAt}, &r.SupersededBy, &r.Renderer,
	)
	r.Receipts = old.receipts()
	return r, err
}

// legacyColumns are the receipt columns completions had before the
// receipts table. Only a worker from before it still writes them, during an
// upgrade; what they hold counts until the receipts table has that
// channel's receipt.
type legacyColumns struct {
	slackChannel, slackTS, emailMessageID, certificateSHA256, announcement string
}

func (l legacyColumns) receipts() workflows.Receipts {
	var r workflows.Receipts
	add := func(name string, rc workflows.Receipt) {
		if rc.ID == "" && rc.SHA256 == "" {
			return
		}
		if r == nil {
			r = workflows.Receipts{}
		}
		r[name] = rc
	}
	add(workflows.StepNameSlack, workflows.Receipt{ID: l.slackTS, Where: l.slackChannel, Via: l.announcement})
	add(workflows.StepNameEmail, workflows.Receipt{ID: l.emailMessageID, SHA256: l.certificateSHA256})
	return r
}

// querier is a *sql.DB or, inside a transaction, its *sql.Tx: on SQLite's
// single connection a read outside the transaction would wait for it.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// withReceipts reads the receipts of recs from the receipts table, over
// what their legacy columns hold, with one query per call.
func (s *Store) withReceipts(ctx context.Context, q querier, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	at := make(map[string]int, len(recs))
	args := make([]any, 0, len(recs))
	for i, r := range recs {
		at[r.EventID] = i
		args = append(args, r.EventID)
	}
	query := "SELECT event_id, channel, receipt_id, location, via, sha256 FROM receipts WHERE event_id IN (" + placeholders(len(recs)) + ")"
	rows, err := q.QueryContext(ctx, s.dialect.rebind(query), args...)
	if err != nil {
		return fmt.Errorf("read receipts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, channel string
		var r workflows.Receipt
		if err := rows.Scan(&id, &channel, &r.ID, &r.Where, &r.Via, &r.SHA256); err != nil {
			return fmt.Errorf("read receipts: %w", err)
		}
		rec := &recs[at[id]]
		if rec.Receipts == nil {
			rec.Receipts = workflows.Receipts{}
		}
		rec.Receipts[channel] = r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read receipts: %w", err)
	}
	return nil
}

// Get returns the row for eventID, or a wrapped ErrNotFound.
func (s *Store) Get(ctx context.Context, eventID string) (Record, error) {
	r, err := scanRecord(s.db.QueryRowContext(ctx, s.dialect.rebind(recordQuery+" WHERE event_id = ?"), eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("get completion %s: %w", eventID, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("get completion %s: %w", eventID, err)
	}
	recs := []Record{r}
	if err := s.withReceipts(ctx, s.db, recs); err != nil {
		return Record{}, fmt.Errorf("get completion %s: %w", eventID, err)
	}
	return recs[0], nil
}

// CountStatus returns the number of completions with status s, for the
// worker's gauge of partial events.
func (s *Store) CountStatus(ctx context.Context, status Status) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.dialect.rebind("SELECT COUNT(*) FROM completions WHERE status = ?"), string(status)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s completions: %w", status, err)
	}
	return n, nil
}

// Count returns the number of stored completions.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM completions").Scan(&n); err != nil {
		return 0, fmt.Errorf("count completions: %w", err)
	}
	return n, nil
}
