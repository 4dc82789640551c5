package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound reports that no completion has the requested event id. Callers
// test for it with errors.Is, since it always arrives wrapped.
var ErrNotFound = errors.New("completion not found")

// ErrInvalid reports input the store refuses before asking the database: an
// empty event id or a status it does not know. It always arrives wrapped, with
// the operation and event id in front and the reason after it.
var ErrInvalid = errors.New("invalid input")

// IsPermanent reports whether err is a failure a retry cannot fix: the row is
// missing (ErrNotFound), the input is refused (ErrInvalid), or the database
// rejected the statement or its data in a way it will reject again. On
// PostgreSQL that is SQLSTATE class 22 (data exception), 23 (integrity
// constraint violation) or 42 (syntax error or access rule violation, which is
// what an undefined table or column gives when the schema does not match this
// code). On SQLite it is the primary result codes SQLITE_ERROR (also "no such
// table" and "no such column"), SQLITE_CONSTRAINT, SQLITE_MISMATCH,
// SQLITE_RANGE and SQLITE_TOOBIG.
//
// Everything else is retryable, and so is anything not recognised, on
// purpose: the record steps retry without limit, so a database that is down,
// restarting, locked, overloaded or out of disk costs only time, and the work
// resumes by itself once it is back. Calling such a failure permanent would
// instead fail a workflow that waiting would have saved, so only failures
// that can never succeed are cut short. A connection loss, timeout or
// cancellation anywhere in err's chain makes it retryable even when a
// database code rides along, for the same reason.
func IsPermanent(err error) bool {
	if err == nil || isTransient(err) {
		return false
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch sqlstateClass(pgErr.Code) {
		case "22", "23", "42":
			return true
		}
		return false
	}
	var liteErr *sqlitedriver.Error
	if errors.As(err, &liteErr) {
		// Extended codes such as SQLITE_CONSTRAINT_NOTNULL carry the primary
		// code in their low byte.
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_ERROR, sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH,
			sqlite3.SQLITE_RANGE, sqlite3.SQLITE_TOOBIG:
			return true
		}
	}
	return false
}

// isTransient reports failures to reach or keep the database, which say
// nothing about the statement. A connect error stays here even when it wraps
// the server's refusal (no such database, permission denied): an operator can
// fix that while the workflow waits.
func isTransient(err error) bool {
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &netErr) ||
		errors.As(err, &connectErr)
}

// sqlstateClass returns the two characters that name a SQLSTATE's class.
func sqlstateClass(code string) string {
	if len(code) < 2 {
		return ""
	}
	return code[:2]
}
