package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/coursehook/coursehook/verify"
	"time"
)

// certificateCond is what makes a row a certificate: a course completion
// whose certificate email went out. A completion still at work, or one whose
// email failed, has nothing a learner could show anyone.
// The certificate_sha256 column counts for a row an older worker wrote
// during an upgrade (see migration 6).
const certificateCond = `status IN ('` + string(StatusCompleted) + `', '` + string(StatusPartial) + `') AND
	(certificate_sha256 <> '' OR EXISTS (SELECT 1 FROM receipts WHERE receipts.event_id = completions.event_id
		AND receipts.channel = '` + CertificateChannel + `' AND receipts.sha256 <> ''))`

// HasCertificate reports whether the event's certificate was emailed, which
// is what makes it verifiable and revocable.
func (r Record) HasCertificate() bool {
	return (r.Status == StatusCompleted || r.Status == StatusPartial) && r.CertificateSHA256() != ""
}

// CertificateSHA256 is the hex SHA-256 of the certificate PDF emailed, or
// "" before it went out.
func (r Record) CertificateSHA256() string {
	return r.Receipts[CertificateChannel].SHA256
}

// checkCode refuses a code that is not canonical (verify.Normalize), since
// lookups match codes exactly: a code stored in another spelling could never
// be found.
func checkCode(code string) error {
	if canonical, ok := verify.Normalize(code); !ok || canonical != code {
		return fmt.Errorf("%w: verification code %q is not in canonical form", ErrInvalid, code)
	}
	return nil
}

// SetVerificationCode gives the event the verification code code, canonical
// (verify.Normalize), unless it has one, and returns the code stored: code,
// or the earlier one, because a certificate already sent must keep the code
// printed on it even after the signing secret changed. It is for rows
// inserted without a code, such as those from before codes existed.
// A missing row gives a wrapped ErrNotFound, an empty event id or a code
// that is not canonical a wrapped ErrInvalid, and a code another event holds
// the database's unique violation.
func (s *Store) SetVerificationCode(ctx context.Context, eventID, code string) (string, error) {
	if eventID == "" {
		return "", fmt.Errorf("set verification code: %w: event id is empty", ErrInvalid)
	}
	if err := checkCode(code); err != nil {
		return "", fmt.Errorf("set verification code of %s: %w", eventID, err)
	}
	_, err := s.db.ExecContext(ctx, s.dialect.rebind(`UPDATE completions SET verification_code = ?, updated_at = ?
		WHERE event_id = ? AND verification_code = ''`), code, s.dialect.timeArg(s.now()), eventID)
	if err != nil {
		return "", fmt.Errorf("set verification code of %s: %w", eventID, err)
	}
	var stored string
	err = s.db.QueryRowContext(ctx, s.dialect.rebind("SELECT verification_code FROM completions WHERE event_id = ?"), eventID).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("set verification code of %s: %w", eventID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("set verification code of %s: %w", eventID, err)
	}
	return stored, nil
}

// byCodeQuery finds a certificate by code. It repeats the code index's
// condition word for word: neither database can tell that a bound code is
// not empty, and without the condition they cannot use the partial index
// (SQLite was seen to pick the status index instead, reading every
// completed row for each lookup of the public page).
const byCodeQuery = recordQuery + " WHERE verification_code = ? AND verification_code <> '' AND " + certificateCond

// CertificateByCode returns the certificate whose verification code is
// code, matched exactly, so code must be canonical. A code nobody holds, and
// one whose event has no certificate (HasCertificate), give a wrapped
// ErrNotFound. Errors do not quote the code: it is what lets anyone see the
// certificate.
func (s *Store) CertificateByCode(ctx context.Context, code string) (Record, error) {
	if code == "" {
		// Every row without a code holds the empty one.
		return Record{}, fmt.Errorf("certificate by code: %w", ErrNotFound)
	}
	r, err := scanRecord(s.db.QueryRowContext(ctx, s.dialect.rebind(byCodeQuery), code))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("certificate by code: %w", ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("certificate by code: %w", err)
	}
	recs := []Record{r}
	if err := s.withReceipts(ctx, s.db, recs); err != nil {
		return Record{}, fmt.Errorf("certificate by code: %w", err)
	}
	return recs[0], nil
}

// The actions of the revocation audit.
const (
	// ActionRevoke: the certificate was revoked.
	ActionRevoke = "revoke"
	// ActionUnrevoke: a revocation was lifted.
	ActionUnrevoke = "unrevoke"
)

// Revocation is one audited change of a certificate's revocation.
type Revocation struct {
	// ID numbers the changes in the order they were made.
	ID      int64
	EventID string
	// Action is ActionRevoke or ActionUnrevoke.
	Action string
	// Reason is the category of a revocation (a verify.Reason); empty for
	// ActionUnrevoke.
	Reason string
	// Note is the operator's own words. Unlike Reason it is never shown
	// publicly.
	Note        string
	RequestedBy string
	RequestedAt time.Time
}

// Revoke revokes the event's certificate for reason, one of verify.Reasons,
// at the time at (zero: now), and records note and by in the audit in the
// same transaction. The store takes any category as given; callers parse an
// operator's input with verify.ParseReason, and verify shows one it does not
// know as "other". It
// returns the row as it now is, and whether anything changed: revoking a
// revoked certificate changes nothing and writes no audit, whatever the
// reason, and of several concurrent calls exactly one changes it.
//
// An unknown event gives a wrapped ErrNotFound; an empty event id or reason,
// or an event without a certificate
// (HasCertificate: an ignored event, or one whose certificate email has not
// gone out) a wrapped ErrInvalid.
func (s *Store) Revoke(ctx context.Context, eventID, reason, note, by string, at time.Time) (Record, bool, error) {
	if eventID == "" {
		return Record{}, false, fmt.Errorf("revoke certificate: %w: event id is empty", ErrInvalid)
	}
	if reason == "" {
		return Record{}, false, fmt.Errorf("revoke certificate of %s: %w: no revocation reason", eventID, ErrInvalid)
	}
	if at.IsZero() {
		at = s.now()
	}
	audit := Revocation{EventID: eventID, Action: ActionRevoke, Reason: reason, Note: note, RequestedBy: by, RequestedAt: at}
	return s.changeRevocation(ctx, "revoke certificate of "+eventID, audit,
		`UPDATE completions SET revoked_at = ?, revocation_reason = ?, updated_at = ?
		WHERE event_id = ? AND revoked_at IS NULL AND `+certificateCond,
		s.dialect.timeArg(at), reason, s.dialect.timeArg(s.now()), eventID)
}

// Unrevoke lifts the revocation of the event's certificate, as Revoke sets
// it: unrevoking a certificate that stands changes nothing and writes no
// audit. The errors are Revoke's.
func (s *Store) Unrevoke(ctx context.Context, eventID, note, by string, at time.Time) (Record, bool, error) {
	if eventID == "" {
		return Record{}, false, fmt.Errorf("unrevoke certificate: %w: event id is empty", ErrInvalid)
	}
	if at.IsZero() {
		at = s.now()
	}
	audit := Revocation{EventID: eventID, Action: ActionUnrevoke, Note: note, RequestedBy: by, RequestedAt: at}
	return s.changeRevocation(ctx, "unrevoke certificate of "+eventID, audit,
		`UPDATE completions SET revoked_at = NULL, revocation_reason = '', updated_at = ?
		WHERE event_id = ? AND revoked_at IS NOT NULL AND `+certificateCond,
		s.dialect.timeArg(s.now()), eventID)
}

// changeRevocation runs update, which changes the row only when the change
// applies, and writes audit when it did, in one transaction. The condition
// sits in the UPDATE rather than in a read before it, so the database
// decides between concurrent callers: on PostgreSQL the second UPDATE waits
// for the first to commit and then finds its condition false; on SQLite the
// transaction holds the write lock from BEGIN.
func (s *Store) changeRevocation(ctx context.Context, op string, audit Revocation, update string, args ...any) (Record, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Record{}, false, fmt.Errorf("%s: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }()

	res, err := tx.ExecContext(ctx, s.dialect.rebind(update), args...)
	if err != nil {
		return Record{}, false, fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Record{}, false, fmt.Errorf("%s: %w", op, err)
	}
	if n == 1 {
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(`INSERT INTO revocations
			(event_id, action, reason, note, requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?)`),
			audit.EventID, audit.Action, audit.Reason, audit.Note, audit.RequestedBy, s.dialect.timeArg(audit.RequestedAt)); err != nil {
			return Record{}, false, fmt.Errorf("%s: audit: %w", op, err)
		}
	}
	rec, err := scanRecord(tx.QueryRowContext(ctx, s.dialect.rebind(recordQuery+" WHERE event_id = ?"), audit.EventID))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, false, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("%s: %w", op, err)
	}
	recs := []Record{rec}
	if err := s.withReceipts(ctx, tx, recs); err != nil {
		return Record{}, false, fmt.Errorf("%s: %w", op, err)
	}
	rec = recs[0]
	if !rec.HasCertificate() {
		why := fmt.Sprintf("no certificate email went out for it (status %s)", rec.Status)
		if rec.Status == StatusIgnored {
			why = fmt.Sprintf("it is a %q event, which gets no certificate", rec.EventType)
		}
		return Record{}, false, fmt.Errorf("%s: %w: the event has no certificate: %s", op, ErrInvalid, why)
	}
	if err := tx.Commit(); err != nil {
		return Record{}, false, fmt.Errorf("%s: %w", op, err)
	}
	return rec, n == 1, nil
}

// Revocations returns the audit of the event's revocations, oldest first.
func (s *Store) Revocations(ctx context.Context, eventID string) ([]Revocation, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(`SELECT id, event_id, action, reason, note, requested_by, requested_at
		FROM revocations WHERE event_id = ? ORDER BY id`), eventID)
	if err != nil {
		return nil, fmt.Errorf("list revocations of %s: %w", eventID, err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		if err := rows.Scan(&r.ID, &r.EventID, &r.Action, &r.Reason, &r.Note, &r.RequestedBy, timeScanner{&r.RequestedAt}); err != nil {
			return nil, fmt.Errorf("list revocations of %s: %w", eventID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revocations of %s: %w", eventID, err)
	}
	return out, nil
}
