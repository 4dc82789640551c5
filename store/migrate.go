package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/coursehook/coursehook/event"
)

// migration is one schema change. Versions only grow: to change the schema,
// append a migration; never edit one that has shipped, because databases
// that already applied it will not run it again.
type migration struct {
	version int
	// stmts run in order in one transaction; {timestamp} and {bytes} are
	// filled per dialect by dialect.ddl.
	stmts []string
	// then, when set, runs after stmts in the same transaction, for a
	// change SQL cannot say alike on both databases.
	then func(ctx context.Context, tx *sql.Tx, d dialect) error
}

// migrations returns the schema history in order.
func migrations() []migration {
	return []migration{
		{version: 1, stmts: []string{
			`CREATE TABLE completions (
				event_id TEXT PRIMARY KEY,
				event_type TEXT NOT NULL DEFAULT '',
				status TEXT NOT NULL,
				learner_email TEXT NOT NULL DEFAULT '',
				first_name TEXT NOT NULL DEFAULT '',
				last_name TEXT NOT NULL DEFAULT '',
				learner_id TEXT NOT NULL DEFAULT '',
				external_customer_id TEXT NOT NULL DEFAULT '',
				company_id TEXT NOT NULL DEFAULT '',
				course_id TEXT NOT NULL DEFAULT '',
				course_title TEXT NOT NULL DEFAULT '',
				completed_at {timestamp} NOT NULL,
				received_at {timestamp} NOT NULL,
				payload {bytes} NOT NULL,
				recorded_at {timestamp} NOT NULL,
				updated_at {timestamp} NOT NULL,
				slack_channel TEXT NOT NULL DEFAULT '',
				slack_ts TEXT NOT NULL DEFAULT '',
				email_message_id TEXT NOT NULL DEFAULT '',
				certificate_sha256 TEXT NOT NULL DEFAULT '',
				failed_step TEXT NOT NULL DEFAULT '',
				error TEXT NOT NULL DEFAULT ''
			)`,
			// Operators look for what is stuck or failed, and for one course.
			`CREATE INDEX completions_status_idx ON completions (status)`,
			`CREATE INDEX completions_course_id_idx ON completions (course_id)`,
		}},
		// List walks events in completion order, a page at a time.
		{version: 2, stmts: []string{
			`CREATE INDEX completions_completed_at_idx ON completions (completed_at, event_id)`,
		}},
		// Every resend an operator asks for, and what came of it.
		{version: 3, stmts: []string{
			`CREATE TABLE resends (
				request_id TEXT PRIMARY KEY,
				event_id TEXT NOT NULL,
				what TEXT NOT NULL,
				reason TEXT NOT NULL DEFAULT '',
				requested_by TEXT NOT NULL DEFAULT '',
				requested_at {timestamp} NOT NULL,
				status TEXT NOT NULL,
				result TEXT NOT NULL DEFAULT '',
				slack_ts TEXT NOT NULL DEFAULT '',
				email_message_id TEXT NOT NULL DEFAULT '',
				finished_at {timestamp}
			)`,
			`CREATE INDEX resends_event_id_idx ON resends (event_id, requested_at)`,
		}},
		// Per-course routing and cohort digests: the route decided for each
		// event, how its Slack announcement was made (its own message or a
		// digest), and the earlier completion a re-completion follows.
		{version: 4, stmts: []string{
			`ALTER TABLE completions ADD COLUMN route TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE completions ADD COLUMN announcement TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE completions ADD COLUMN previous_event_id TEXT NOT NULL DEFAULT ''`,
			// A new completion looks for the learner's earlier one of the
			// same course; a cohort of thousands must not scan the course.
			`CREATE INDEX completions_course_learner_idx ON completions (course_id, learner_email)`,
		}},
		// Certificate verification and revocation: each certificate's
		// verification code, whether and why it was revoked, and the audit
		// of every revocation and its reversal.
		{version: 5, stmts: []string{
			`ALTER TABLE completions ADD COLUMN verification_code TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE completions ADD COLUMN revoked_at {timestamp}`,
			`ALTER TABLE completions ADD COLUMN revocation_reason TEXT NOT NULL DEFAULT ''`,
			// The public page looks certificates up by code. Rows from before
			// this version, and events that get no certificate, share the
			// empty code, so the uniqueness leaves them out.
			`CREATE UNIQUE INDEX completions_verification_code_idx ON completions (verification_code) WHERE verification_code <> ''`,
			`CREATE TABLE revocations (
				id {serial},
				event_id TEXT NOT NULL,
				action TEXT NOT NULL CHECK (action IN ('revoke', 'unrevoke')),
				reason TEXT NOT NULL DEFAULT '',
				note TEXT NOT NULL DEFAULT '',
				requested_by TEXT NOT NULL DEFAULT '',
				requested_at {timestamp} NOT NULL
			)`,
			`CREATE INDEX revocations_event_id_idx ON revocations (event_id, id)`,
		}},
		// Receipts by channel: what each notice channel delivered, one row
		// per event and channel, so a new channel needs no new column. The
		// receipts of the slack_* and email_* columns move here; the columns
		// stay, unwritten, and are still read for a row an older worker
		// wrote during an upgrade. A resend's receipts are a JSON object
		// beside its old slack_ts and email_message_id.
		{version: 6, stmts: []string{
			`CREATE TABLE receipts (
				event_id TEXT NOT NULL,
				channel TEXT NOT NULL,
				receipt_id TEXT NOT NULL,
				location TEXT NOT NULL DEFAULT '',
				via TEXT NOT NULL DEFAULT '',
				sha256 TEXT NOT NULL DEFAULT '',
				recorded_at {timestamp} NOT NULL,
				PRIMARY KEY (event_id, channel)
			)`,
			`INSERT INTO receipts (event_id, channel, receipt_id, location, via, sha256, recorded_at)
				SELECT event_id, 'slack', slack_ts, slack_channel, announcement, '', updated_at
				FROM completions WHERE slack_ts <> ''`,
			`INSERT INTO receipts (event_id, channel, receipt_id, location, via, sha256, recorded_at)
				SELECT event_id, 'email', email_message_id, '', '', certificate_sha256, updated_at
				FROM completions WHERE email_message_id <> '' OR certificate_sha256 <> ''`,
			`ALTER TABLE resends ADD COLUMN receipts TEXT NOT NULL DEFAULT ''`,
		}},
		// Delivery of the certificate emails, from SendGrid's Event Webhook:
		// every event SendGrid posted, once (sg_event_id), kept until it is
		// applied; one row per email sent (the first one and each resend),
		// with the state the events advanced it to; on the completion, the
		// state of its latest email, which coursehookctl find filters on,
		// and the corrected address an operator resent to.
		{version: 7, stmts: []string{
			`CREATE TABLE delivery_events (
				sg_event_id TEXT PRIMARY KEY,
				type TEXT NOT NULL,
				state TEXT NOT NULL DEFAULT '',
				event_id TEXT NOT NULL DEFAULT '',
				resend_id TEXT NOT NULL DEFAULT '',
				message_key TEXT NOT NULL DEFAULT '',
				occurred_at {timestamp},
				reason TEXT NOT NULL DEFAULT '',
				classification TEXT NOT NULL DEFAULT '',
				raw {bytes} NOT NULL,
				received_at {timestamp} NOT NULL,
				applied_at {timestamp},
				matched INTEGER NOT NULL DEFAULT 0
			)`,
			// A retried email looks for SendGrid's report of the first
			// attempt's send, and first whether any reports arrive at all.
			`CREATE INDEX delivery_events_email_idx ON delivery_events (event_id, resend_id, occurred_at)`,
			`CREATE INDEX delivery_events_received_idx ON delivery_events (received_at)`,
			`CREATE TABLE emails (
				event_id TEXT NOT NULL,
				resend_id TEXT NOT NULL DEFAULT '',
				to_address TEXT NOT NULL DEFAULT '',
				message_id TEXT NOT NULL DEFAULT '',
				sent_at {timestamp},
				state TEXT NOT NULL DEFAULT 'sent',
				state_at {timestamp},
				reason TEXT NOT NULL DEFAULT '',
				classification TEXT NOT NULL DEFAULT '',
				opens INTEGER NOT NULL DEFAULT 0,
				clicks INTEGER NOT NULL DEFAULT 0,
				alert_batch TEXT NOT NULL DEFAULT '',
				alert_ts TEXT NOT NULL DEFAULT '',
				PRIMARY KEY (event_id, resend_id)
			)`,
			// Events without coursehook's custom args are matched by the
			// message id the send returned.
			`CREATE INDEX emails_message_id_idx ON emails (message_id) WHERE message_id <> ''`,
			`INSERT INTO emails (event_id, resend_id, message_id, sent_at, state, state_at)
				SELECT event_id, '', receipt_id, recorded_at, 'sent', recorded_at
				FROM receipts WHERE channel = 'email' AND receipt_id <> ''`,
			`ALTER TABLE completions ADD COLUMN delivery TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE completions ADD COLUMN delivery_resend_id TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE completions ADD COLUMN delivery_at {timestamp}`,
			`ALTER TABLE completions ADD COLUMN delivery_reason TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE completions ADD COLUMN corrected_email TEXT NOT NULL DEFAULT ''`,
			`UPDATE completions SET delivery = 'sent'
				WHERE event_id IN (SELECT event_id FROM receipts WHERE channel = 'email' AND receipt_id <> '')`,
			// find --delivery bounced,dropped: the few learners without their
			// certificate, among many delivered.
			`CREATE INDEX completions_delivery_idx ON completions (delivery) WHERE delivery <> ''`,
			`ALTER TABLE resends ADD COLUMN old_address TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE resends ADD COLUMN new_address TEXT NOT NULL DEFAULT ''`,
		}},
		// Fast at a million rows. Every filter of find and the export gets
		// an index that also holds the listing order (completed_at,
		// event_id), so a page is a range read that stops at its limit
		// instead of sorting every match. The learner is found by
		// learner_key, event.EmailKey of the address, the one rule for
		// who a learner is; LOWER() would differ between the databases
		// (SQLite folds ASCII only) and could not use an index.
		{version: 8, stmts: []string{
			`ALTER TABLE completions ADD COLUMN learner_key TEXT NOT NULL DEFAULT ''`,
			// Right for every ASCII address; then fixes the others.
			`UPDATE completions SET learner_key = LOWER(TRIM(learner_email))`,
			`CREATE INDEX completions_learner_idx ON completions (learner_key, completed_at, event_id)`,
			`DROP INDEX completions_course_learner_idx`,
			`CREATE INDEX completions_course_learner_key_idx ON completions (course_id, learner_key, completed_at, event_id)`,
			`DROP INDEX completions_course_id_idx`,
			`CREATE INDEX completions_course_idx ON completions (course_id, completed_at, event_id)`,
			`CREATE INDEX completions_company_idx ON completions (company_id, completed_at, event_id)`,
			`DROP INDEX completions_status_idx`,
			`CREATE INDEX completions_status_time_idx ON completions (status, completed_at, event_id)`,
			`CREATE INDEX completions_received_idx ON completions (received_at)`,
			// Not partial: SQLite uses a partial index only where the query
			// repeats its condition, and delivery IN (?) does not.
			`DROP INDEX completions_delivery_idx`,
			`CREATE INDEX completions_delivery_time_idx ON completions (delivery, completed_at, event_id)`,
		}, then: backfillLearnerKeys},
		// A cohort digest's window, however large: the entries it gathered
		// wait here for the window's answer, once per event, instead of in
		// the workflow's state, which Temporal caps at 2 MB a payload; and
		// each answered window keeps its announcement for an entry that
		// comes again.
		{version: 9, stmts: []string{
			`CREATE TABLE digest_entries (
				digest_id TEXT NOT NULL,
				event_id TEXT NOT NULL,
				workflow_id TEXT NOT NULL,
				window_id TEXT NOT NULL,
				gathered_at {timestamp} NOT NULL,
				PRIMARY KEY (digest_id, event_id)
			)`,
			`CREATE INDEX digest_entries_window_idx ON digest_entries (window_id, event_id)`,
			`CREATE TABLE digest_windows (
				window_id TEXT PRIMARY KEY,
				digest_id TEXT NOT NULL,
				announcement TEXT NOT NULL,
				closed_at {timestamp} NOT NULL
			)`,
			`CREATE INDEX digest_windows_closed_idx ON digest_windows (closed_at)`,
		}},
		// Dead letters of the events whose workflow failed after they were
		// accepted, for a reason that was not the database's (a workflow
		// failing on the database keeps its letter in DEAD_LETTER_DIR):
		// the body byte for byte, until starter replay-dead-letters.
		{version: 10, stmts: []string{
			`CREATE TABLE dead_letters (
				event_id TEXT PRIMARY KEY,
				received_at {timestamp} NOT NULL,
				error TEXT NOT NULL DEFAULT '',
				payload {bytes} NOT NULL,
				kept_at {timestamp} NOT NULL
			)`,
		}},
		{version: 11, stmts: []string{
			`ALTER TABLE completions ADD COLUMN expires_at {timestamp}`,
			`ALTER TABLE completions ADD COLUMN superseded_by TEXT NOT NULL DEFAULT ''`,
			`CREATE INDEX completions_expires_idx ON completions (expires_at, event_id) WHERE expires_at IS NOT NULL`,
			`CREATE INDEX completions_previous_idx ON completions (previous_event_id) WHERE previous_event_id <> ''`,
			`CREATE TABLE certificate_notices (
				event_id TEXT NOT NULL,
				notice TEXT NOT NULL,
				channel TEXT NOT NULL DEFAULT '',
				receipt_id TEXT NOT NULL DEFAULT '',
				location TEXT NOT NULL DEFAULT '',
				via TEXT NOT NULL DEFAULT '',
				sent_at {timestamp} NOT NULL,
				PRIMARY KEY (event_id, notice)
			)`,
		}},
		// The certificate renderer version each row's PDF is drawn with
		// (certificate.RenderVersion), so the verification page and a
		// resend draw the file that was emailed. Every row before this
		// version was drawn by version 1, and so is every row an older
		// worker inserts during an upgrade, since it names no version: the
		// default says both.
		{version: 12, stmts: []string{
			`ALTER TABLE completions ADD COLUMN renderer INTEGER NOT NULL DEFAULT 1`,
		}},
		// The record step counts a course's completions within its digest
		// window (CountRecent) to post a quiet course's notice at once: a
		// range of one course's newest rows, however many it has.
		{version: 13, stmts: []string{
			`CREATE INDEX completions_course_recorded_idx ON completions (course_id, recorded_at)`,
		}},
		// Who is due to renew, for one course, company or learner. The
		// expiry listing orders by (expires_at, event_id); with only the
		// expiry index of migration 11 a page walked every certificate in
		// the range to find the filter's few, and with the filter's own
		// index, in completion order, it read all the filter's rows and
		// sorted them. Each index leads with the filter's column and goes
		// on with the expiry order, so a page is one range read that stops
		// at its limit. Partial like the expiry index, since most
		// certificates never expire; the listing's expires_at < ? implies
		// the condition on both databases, so it need not repeat it.
		{version: 14, stmts: []string{
			`CREATE INDEX completions_course_expires_idx ON completions (course_id, expires_at, event_id) WHERE expires_at IS NOT NULL`,
			`CREATE INDEX completions_company_expires_idx ON completions (company_id, expires_at, event_id) WHERE expires_at IS NOT NULL`,
			`CREATE INDEX completions_learner_expires_idx ON completions (learner_key, expires_at, event_id) WHERE expires_at IS NOT NULL`,
		}},
		// The record step decides whether a digest-on notice posts at once
		// or goes to the course's digest (PlanNotice): each digest's state
		// (its latest arrivals and its open window) is one row, taken under
		// a lock, and each event keeps the plan it was given, so a retry
		// gets it again. Migration 13's index served the count this
		// replaced; nothing reads it now, and every insert paid for it.
		{version: 15, stmts: []string{
			`CREATE TABLE notice_windows (
				digest_id TEXT PRIMARY KEY,
				recent TEXT NOT NULL,
				gather_until {timestamp},
				updated_at {timestamp} NOT NULL
			)`,
			`ALTER TABLE completions ADD COLUMN notice_plan TEXT NOT NULL DEFAULT ''`,
			// The channels whose receipts complete the row, as the run's
			// first KeepReceipt names them, so that a receipt the digest
			// keeps (KeepAnnounced) can complete it too.
			`ALTER TABLE completions ADD COLUMN expect TEXT NOT NULL DEFAULT ''`,
			`DROP INDEX completions_course_recorded_idx`,
		}},
		// Planned windows: a gathered entry is kept in its window's rows
		// by the record step that plans it, so the digest reads the
		// window from here when it closes, and only the window's first
		// entry signals it. The digest's state row names its open window,
		// and an entry keeps its learner's name for the message.
		{version: 16, stmts: []string{
			`ALTER TABLE notice_windows ADD COLUMN window_id TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE digest_entries ADD COLUMN learner_name TEXT NOT NULL DEFAULT ''`,
		}},
	}
}

// backfillLearnerKeys sets learner_key to event.EmailKey where the SQL
// LOWER(TRIM()) of migration 8 differs from it: non-ASCII letters on SQLite,
// whitespace other than spaces on both. It reads only the two columns, in
// one pass, and writes only the rows that differ.
func backfillLearnerKeys(ctx context.Context, tx *sql.Tx, d dialect) error {
	rows, err := tx.QueryContext(ctx, "SELECT event_id, learner_email, learner_key FROM completions")
	if err != nil {
		return fmt.Errorf("read learner emails: %w", err)
	}
	fix := map[string]string{}
	for rows.Next() {
		var id, email, key string
		if err := rows.Scan(&id, &email, &key); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read learner emails: %w", err)
		}
		if want := event.EmailKey(email); want != key {
			fix[id] = want
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read learner emails: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read learner emails: %w", err)
	}
	for id, key := range fix {
		if _, err := tx.ExecContext(ctx, d.rebind("UPDATE completions SET learner_key = ? WHERE event_id = ?"), key, id); err != nil {
			return fmt.Errorf("set learner key of %s: %w", id, err)
		}
	}
	return nil
}

// migrateLockKey is the PostgreSQL advisory lock that serialises migrations
// across processes sharing a database; any constant unique to this app works.
const migrateLockKey int64 = 0x636f757273656b // "coursek"

// migrate applies, in order, every migration not yet recorded in
// schema_migrations, each in its own transaction, so a failure leaves the
// schema at the last good version and a second Open does nothing.
func (s *Store) migrate(ctx context.Context) error {
	for _, m := range migrations() {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", m.version, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	// On SQLite the DSN's _txlock=immediate makes BEGIN take the write lock,
	// which serialises concurrent Opens the way the advisory lock does below.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// Rollback after Commit is a no-op, so every early return is covered.
	defer func() { _ = tx.Rollback() }()

	if s.dialect == postgres {
		// Held until commit: a second process waits here, then sees the
		// version recorded and skips it, instead of failing on CREATE TABLE.
		if _, err := tx.ExecContext(ctx, s.dialect.rebind("SELECT pg_advisory_xact_lock(?)"), migrateLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.dialect.ddl(
		`CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			applied_at {timestamp} NOT NULL
		)`)); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied int
	err = tx.QueryRowContext(ctx, s.dialect.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&applied)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if applied > 0 {
		return nil
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, s.dialect.ddl(stmt)); err != nil {
			return err
		}
	}
	if m.then != nil {
		if err := m.then(ctx, tx, s.dialect); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.dialect.rebind("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
		m.version, s.dialect.timeArg(s.now())); err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return tx.Commit()
}
