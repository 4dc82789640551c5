package store

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect holds the few places where SQLite and PostgreSQL differ, so each
// query is written once.
type dialect string

const (
	sqlite   dialect = "sqlite"
	postgres dialect = "postgres"
)

// sqliteTimeLayout is fixed-width UTC, so stored times sort as text and read
// back exactly; dbTime has already cut them to microseconds.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// rebind turns the ? placeholders of q into PostgreSQL's $1..$n. Our queries
// never contain a literal question mark, so a plain scan is enough.
func (d dialect) rebind(q string) string {
	if d != postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ddl fills the column types that differ: {timestamp} becomes TIMESTAMPTZ on
// PostgreSQL and fixed-width text on SQLite; {bytes} becomes BYTEA, which
// unlike JSONB keeps the payload's bytes and key order exactly, or TEXT on
// SQLite, where json_extract still works on it; {serial} is an integer
// primary key the database numbers, in insertion order, never reusing a
// number (AUTOINCREMENT: a plain SQLite rowid may reuse a deleted row's).
func (d dialect) ddl(stmt string) string {
	if d == postgres {
		return strings.NewReplacer("{timestamp}", "TIMESTAMPTZ", "{bytes}", "BYTEA",
			"{serial}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY").Replace(stmt)
	}
	return strings.NewReplacer("{timestamp}", "TEXT", "{bytes}", "TEXT",
		"{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT").Replace(stmt)
}

// timeArg encodes t for a {timestamp} column.
func (d dialect) timeArg(t time.Time) any {
	t = dbTime(t)
	if d == postgres {
		return t
	}
	return t.Format(sqliteTimeLayout)
}

// payloadArg encodes b for a {bytes} column. PostgreSQL gets bytes (never nil,
// which pgx would send as NULL); SQLite gets text, because a bound []byte
// would be stored as a BLOB that its JSON functions refuse.
func (d dialect) payloadArg(b []byte) any {
	if d == postgres {
		if b == nil {
			return []byte{}
		}
		return b
	}
	return string(b)
}

// timeScanner reads a {timestamp} column from either database into a UTC time.
type timeScanner struct{ dst *time.Time }

var _ sql.Scanner = timeScanner{}

// Scan implements sql.Scanner.
func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*s.dst = v.UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	case nil:
		*s.dst = time.Time{}
	default:
		return fmt.Errorf("scan time from %T", src)
	}
	return nil
}

func (s timeScanner) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*s.dst = t.UTC()
	return nil
}
