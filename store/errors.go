package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

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
// constraint violation) or 42 (syntax error or access rule violation). On
// SQLite it is the primary result codes SQLITE_ERROR, SQLITE_CONSTRAINT,
// SQLITE_MISMATCH, SQLITE_RANGE and SQLITE_TOOBIG.
//
// What Blocked names is not permanent, though some of it sits in those
// classes: an operator fixes it, and the work must wait for them. Everything
// else is retryable, and so is anything not recognised, on purpose: the
// record steps retry without limit, so a database that is down, restarting,
// locked or overloaded costs only time, and the work resumes by itself once
// it is back. Calling such a failure permanent would instead fail a workflow
// that waiting would have saved, so only failures that can never succeed are
// cut short. A connection loss, timeout or cancellation anywhere in err's
// chain makes it retryable even when a database code rides along, for the
// same reason.
func IsPermanent(err error) bool {
	if err == nil || isTransient(err) {
		return false
	}
	if _, blocked := Blocked(err); blocked {
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

// Why a database waits for an operator (Blocked).
const (
	// BlockedPermission: the store's role may not do what it must
	// (PostgreSQL 42501; SQLite SQLITE_PERM, SQLITE_AUTH). Grant it.
	BlockedPermission = "permission"
	// BlockedSchema: a table or column is missing, as after a migration
	// half applied or a restore of an older schema (PostgreSQL 42P01,
	// 42703; SQLite "no such table", "no such column", "has no column
	// named"). Migrate.
	BlockedSchema = "schema"
	// BlockedReadOnly: the database takes no writes (PostgreSQL 25006, a
	// standby or default_transaction_read_only; SQLite SQLITE_READONLY, a
	// file or folder it may not write). Point it at the primary, or fix
	// the rights.
	BlockedReadOnly = "read-only"
	// BlockedFull: the disk is full (PostgreSQL 53100; SQLite
	// SQLITE_FULL). Free space. Too many connections or too little memory
	// (the rest of class 53) pass by themselves, and are an outage.
	BlockedFull = "disk-full"
)

// BlockedReasons lists Blocked's reasons, for metrics that start at zero.
func BlockedReasons() []string {
	return []string{BlockedPermission, BlockedSchema, BlockedReadOnly, BlockedFull}
}

// Blocked reports a failure that an operator fixes without touching
// coursehook, after which the same statement succeeds: the work waits, as
// through an outage, and says why (one of the Blocked* reasons) for the
// metric and the alert that call the operator.
func Blocked(err error) (reason string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "42501":
			return BlockedPermission, true
		case pgErr.Code == "42P01", pgErr.Code == "42703":
			return BlockedSchema, true
		case pgErr.Code == "25006":
			return BlockedReadOnly, true
		case pgErr.Code == "53100":
			return BlockedFull, true
		}
		return "", false
	}
	var liteErr *sqlitedriver.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return BlockedPermission, true
		case sqlite3.SQLITE_READONLY:
			return BlockedReadOnly, true
		case sqlite3.SQLITE_FULL:
			return BlockedFull, true
		case sqlite3.SQLITE_ERROR:
			if msg := liteErr.Error(); strings.Contains(msg, "no such table") || strings.Contains(msg, "no such column") || strings.Contains(msg, "has no column named") {
				return BlockedSchema, true
			}
		}
	}
	return "", false
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
