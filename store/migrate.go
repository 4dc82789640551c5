package store

import (
	"context"
	"fmt"
)

// migration is one schema change. Versions only grow: to change the schema,
// append a migration; never edit one that has shipped, because databases
// that already applied it will not run it again.
type migration struct {
	version int
	// stmts run in order in one transaction; {timestamp} and {bytes} are
	// filled per dialect by dialect.ddl.
	stmts []string
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
	}
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
	if _, err := tx.ExecContext(ctx, s.dialect.rebind("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
		m.version, s.dialect.timeArg(s.now())); err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return tx.Commit()
}
