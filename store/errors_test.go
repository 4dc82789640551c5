package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coursehook/coursehook/internal/pgtest"
)

func TestIsPermanent(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("record completion evt-1: %w", err) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", wrap(ErrNotFound), true},
		{"invalid input", wrap(fmt.Errorf("%w: event id is empty", ErrInvalid)), true},
		{"unrecognised", errors.New("something odd"), false},
		{"deadline exceeded", wrap(context.DeadlineExceeded), false},
		{"cancelled", wrap(context.Canceled), false},
		{"bad connection", wrap(driver.ErrBadConn), false},
		{"connection cut mid-message", wrap(io.ErrUnexpectedEOF), false},
		{"connection closed", wrap(io.EOF), false},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), false},
		{"serialization failure", wrap(&pgconn.PgError{Code: "40001"}), false},
		{"deadlock", wrap(&pgconn.PgError{Code: "40P01"}), false},
		{"connection failure", wrap(&pgconn.PgError{Code: "08006"}), false},
		{"too many connections", wrap(&pgconn.PgError{Code: "53300"}), false},
		{"admin shutdown", wrap(&pgconn.PgError{Code: "57P01"}), false},
		{"lock timeout", wrap(&pgconn.PgError{Code: "55P03"}), false},
		{"no sqlstate", wrap(&pgconn.PgError{}), false},
		// What an operator fixes waits for them (Blocked).
		{"undefined column", wrap(&pgconn.PgError{Code: "42703"}), false},
		{"undefined table", wrap(&pgconn.PgError{Code: "42P01"}), false},
		{"permission denied", wrap(&pgconn.PgError{Code: "42501"}), false},
		{"read-only transaction", wrap(&pgconn.PgError{Code: "25006"}), false},
		{"disk full", wrap(&pgconn.PgError{Code: "53100"}), false},
		{"syntax error", wrap(&pgconn.PgError{Code: "42601"}), true},
		{"unique violation", wrap(&pgconn.PgError{Code: "23505"}), true},
		{"invalid byte sequence", wrap(&pgconn.PgError{Code: "22021"}), true},
		// A timeout wins over the code that came with it: waiting may help.
		{"timeout beside a permanent code", wrap(errors.Join(&pgconn.PgError{Code: "42601"}, context.DeadlineExceeded)), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, IsPermanent(c.err), "%v", c.err)
		})
	}
}

// TestBlocked names the reason of each failure an operator fixes, and no
// other.
func TestBlocked(t *testing.T) {
	for code, want := range map[string]string{
		"42501": BlockedPermission, "42P01": BlockedSchema, "42703": BlockedSchema,
		"25006": BlockedReadOnly, "53100": BlockedFull, "53200": "", "53300": "",
		"42601": "", "23505": "", "40001": "",
	} {
		reason, ok := Blocked(fmt.Errorf("record: %w", &pgconn.PgError{Code: code}))
		require.Equal(t, want, reason, code)
		require.Equal(t, want != "", ok, code)
	}
	_, ok := Blocked(errors.New("something odd"))
	require.False(t, ok)
}

// dbCode is the database's own code for a failure, so a case shows it fails
// for the reason it names: a SQLSTATE on PostgreSQL, a primary result code on
// SQLite.
type dbCode struct {
	postgres string
	sqlite   int
}

func requireCode(t *testing.T, s *Store, want dbCode, err error) {
	t.Helper()
	if s.dialect == postgres {
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, want.postgres, pgErr.Code, "%v", err)
		return
	}
	var liteErr *sqlitedriver.Error
	require.ErrorAs(t, err, &liteErr)
	require.Equal(t, want.sqlite, liteErr.Code()&0xff, "%v", err)
}

func testRefusalsArePermanent(t *testing.T, url string) {
	s := open(t, url)
	_, _, err := s.Insert(t.Context(), sampleCompletion("evt-present"), StatusRecorded)
	require.NoError(t, err)

	cases := []struct {
		name string
		call func(context.Context) error
		is   error
		msg  string
	}{
		{"insert with empty event id", func(ctx context.Context) error {
			_, _, err := s.Insert(ctx, sampleCompletion(""), StatusRecorded)
			return err
		}, ErrInvalid, "record completion: invalid input: event id is empty"},
		{"insert with unknown status", func(ctx context.Context) error {
			_, _, err := s.Insert(ctx, sampleCompletion("evt-new"), Status("done"))
			return err
		}, ErrInvalid, `record completion evt-new: invalid input: unknown status "done"`},
		{"outcome with unknown status", func(ctx context.Context) error {
			return s.RecordOutcome(ctx, Outcome{EventID: "evt-present", Status: Status("done")})
		}, ErrInvalid, `record outcome evt-present: invalid input: unknown status "done"`},
		{"outcome for a missing event", func(ctx context.Context) error {
			return s.RecordOutcome(ctx, Outcome{EventID: "evt-nobody", Status: StatusCompleted})
		}, ErrNotFound, "record outcome evt-nobody: completion not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(t.Context())
			require.ErrorIs(t, err, c.is)
			require.EqualError(t, err, c.msg)
			require.True(t, IsPermanent(err), "%v", err)
		})
	}
}

// testSchemaMismatchWaits: a table or column missing, as after a migration
// half applied, is for an operator to fix; the write waits for them
// (Blocked, not IsPermanent) and goes through once they have.
func testSchemaMismatchWaits(t *testing.T, url string) {
	s := open(t, url)
	cases := []struct {
		name, change, undo string
		want               dbCode
	}{
		{
			"table renamed",
			"ALTER TABLE completions RENAME TO completions_old",
			"ALTER TABLE completions_old RENAME TO completions",
			dbCode{postgres: "42P01", sqlite: sqlite3.SQLITE_ERROR},
		},
		{
			"column renamed",
			"ALTER TABLE completions RENAME COLUMN updated_at TO changed_at",
			"ALTER TABLE completions RENAME COLUMN changed_at TO updated_at",
			dbCode{postgres: "42703", sqlite: sqlite3.SQLITE_ERROR},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			execSQL(t, s, c.change)
			defer execSQL(t, s, c.undo)

			_, _, err := s.Insert(t.Context(), sampleCompletion("evt-mismatch"), StatusRecorded)
			requireCode(t, s, c.want, err)
			requireBlocked(t, BlockedSchema, err)

			err = s.RecordOutcome(t.Context(), Outcome{EventID: "evt-mismatch", Status: StatusCompleted})
			requireCode(t, s, c.want, err)
			requireBlocked(t, BlockedSchema, err)
		})
	}

	// What an operator does while the workflow waits: fix the schema, then
	// the same write goes through.
	_, created, err := s.Insert(t.Context(), sampleCompletion("evt-mismatch"), StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
}

func testBadStatementsArePermanent(t *testing.T, url string) {
	s := open(t, url)
	cases := []struct {
		name, stmt string
		// want.postgres is empty where PostgreSQL has no such failure.
		want dbCode
	}{
		{"syntax error", "SELEC 1", dbCode{postgres: "42601", sqlite: sqlite3.SQLITE_ERROR}},
		{"not null violated", "INSERT INTO completions (event_id) VALUES ('evt-null')",
			dbCode{postgres: "23502", sqlite: sqlite3.SQLITE_CONSTRAINT}},
		{"duplicate key", "INSERT INTO schema_migrations (version, applied_at) VALUES (1, CURRENT_TIMESTAMP)",
			dbCode{postgres: "23505", sqlite: sqlite3.SQLITE_CONSTRAINT}},
		{"text for an integer key", "INSERT INTO schema_migrations (version, applied_at) VALUES ('one', CURRENT_TIMESTAMP)",
			dbCode{postgres: "22P02", sqlite: sqlite3.SQLITE_MISMATCH}},
		// SQLite checks its length limit (1e9 bytes) before allocating.
		{"value too big", "SELECT zeroblob(2000000000)", dbCode{sqlite: sqlite3.SQLITE_TOOBIG}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if s.dialect == postgres && c.want.postgres == "" {
				t.Skip("SQLite only")
			}
			_, err := s.db.ExecContext(t.Context(), c.stmt)
			requireCode(t, s, c.want, err)
			require.True(t, IsPermanent(err), "%v", err)
		})
	}
}

func testLockTimeoutIsRetryable(t *testing.T, url string) {
	s := open(t, url)
	shortLockWait(t, s)
	release := holdWriteLock(t, s, url)
	c := sampleCompletion("evt-locked")

	_, _, err := s.Insert(t.Context(), c, StatusRecorded)
	requireCode(t, s, dbCode{postgres: "55P03", sqlite: sqlite3.SQLITE_BUSY}, err)
	require.False(t, IsPermanent(err), "%v", err)

	require.NoError(t, release())
	_, created, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err, "the retry must succeed once the lock is gone")
	require.True(t, created)
}

func TestPostgresConnectionLossIsRetryable(t *testing.T) {
	t.Run("server unreachable", func(t *testing.T) {
		t.Parallel()
		// Nothing listens on port 1, so the dial is refused at once.
		const url = "postgres://coursehook@127.0.0.1:1/coursehook?sslmode=disable&connect_timeout=5"
		_, err := Open(t.Context(), url)
		require.Error(t, err)
		require.False(t, IsPermanent(err), "%v", err)

		// A store whose server goes away after Open meets the same failure
		// on its next write.
		db, err := sql.Open("pgx", url)
		require.NoError(t, err)
		s := &Store{db: db, dialect: postgres}
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		_, _, err = s.Insert(t.Context(), sampleCompletion("evt-unreachable"), StatusRecorded)
		var connectErr *pgconn.ConnectError
		require.ErrorAs(t, err, &connectErr)
		require.False(t, IsPermanent(err), "%v", err)
	})

	t.Run("backend terminated", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		s := open(t, url)
		release := holdWriteLock(t, s, url)
		admin, err := sql.Open("pgx", url)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, admin.Close()) })

		c := sampleCompletion("evt-terminated")
		inserted := make(chan error, 1)
		go func() {
			_, _, err := s.Insert(t.Context(), c, StatusRecorded)
			inserted <- err
		}()
		// Once the insert queues behind the lock, end its session the way an
		// administrator, a restart or a failover would.
		var pid int
		require.Eventually(t, func() bool {
			return admin.QueryRowContext(t.Context(),
				"SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
			).Scan(&pid) == nil
		}, 10*time.Second, 20*time.Millisecond, "the insert never waited for the lock")
		var terminated bool
		require.NoError(t, admin.QueryRowContext(t.Context(), "SELECT pg_terminate_backend($1)", pid).Scan(&terminated))
		require.True(t, terminated)

		err = <-inserted
		require.Error(t, err)
		require.False(t, IsPermanent(err), "%v", err)

		require.NoError(t, release())
		_, created, err := s.Insert(t.Context(), c, StatusRecorded)
		require.NoError(t, err, "the retry must succeed on a new connection")
		require.True(t, created)
	})
}

// TestPostgresNULInTextIsPermanent covers bad data that reaches the database:
// JSON's \u0000 puts a NUL into a Go string, which SQLite stores and
// PostgreSQL's text type refuses, however often it is sent.
func TestPostgresNULInTextIsPermanent(t *testing.T) {
	s := open(t, pgtest.URL(t))
	c := sampleCompletion("evt-nul")
	c.FirstName = "Zo\x00ë"
	_, _, err := s.Insert(t.Context(), c, StatusRecorded)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "22", pgErr.Code[:2], "%v", err)
	require.True(t, IsPermanent(err), "%v", err)
}

// execSQL runs stmt on the store's own connections.
// requireBlocked checks that err waits for an operator, for reason.
func requireBlocked(t *testing.T, reason string, err error) {
	t.Helper()
	got, ok := Blocked(err)
	require.True(t, ok, "%v is not for an operator to fix", err)
	require.Equal(t, reason, got, "%v", err)
	require.False(t, IsPermanent(err), "%v", err)
}

// testReadOnlyDatabaseWaits: a database that takes no writes (a standby, a
// read-only file or transaction) waits for an operator.
func testReadOnlyDatabaseWaits(t *testing.T, url string) {
	s := open(t, url)
	s.db.SetMaxOpenConns(1)
	if s.dialect == postgres {
		execSQL(t, s, "SET default_transaction_read_only = on")
	} else {
		execSQL(t, s, "PRAGMA query_only = ON")
	}
	_, _, err := s.Insert(t.Context(), sampleCompletion("evt-read-only"), StatusRecorded)
	requireBlocked(t, BlockedReadOnly, err)
}

func execSQL(t *testing.T, s *Store, stmt string) {
	t.Helper()
	_, err := s.db.ExecContext(t.Context(), stmt)
	require.NoError(t, err)
}

// shortLockWait makes s give up on another connection's lock after 100ms
// instead of its production wait, so a test sees the lock error quickly. s is
// narrowed to one connection first (SQLite has only one already), so the
// session setting reaches every later statement.
func shortLockWait(t *testing.T, s *Store) {
	t.Helper()
	s.db.SetMaxOpenConns(1)
	stmt := "SET lock_timeout = '100ms'"
	if s.dialect == sqlite {
		stmt = "PRAGMA busy_timeout = 100"
	}
	execSQL(t, s, stmt)
}

// holdWriteLock takes the write lock on completions from a second pool of
// connections, as another process would, and returns a func releasing it.
func holdWriteLock(t *testing.T, s *Store, url string) (release func() error) {
	t.Helper()
	driverName, dsn := "pgx", url
	if s.dialect == sqlite {
		driverName = "sqlite"
		dsn, _ = sqliteDSN(url)
	}
	other, err := sql.Open(driverName, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	// Not t.Context(): database/sql would roll back when it ends, before
	// the cleanup below.
	tx, err := other.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	// Our DSN makes SQLite's BEGIN immediate, which already took the lock.
	if s.dialect == postgres {
		_, err = tx.ExecContext(t.Context(), "LOCK TABLE completions IN EXCLUSIVE MODE")
		require.NoError(t, err)
	}
	// A no-op when the test released the lock itself.
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx.Rollback
}
