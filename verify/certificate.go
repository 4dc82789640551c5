package verify

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrNotFound is what a Lookup returns, wrapped or not, for a code it does not
// know.
var ErrNotFound = errors.New("certificate not found")

// Lookup finds certificates by code. The code it is given is canonical
// (Normalize); the Certificate it returns carries it in Code.
type Lookup interface {
	Certificate(ctx context.Context, code string) (Certificate, error)
}

// Certificate is what verification may tell about a certificate. It holds
// nothing else from the learner's record: no company, no SSO ids, nothing
// from the raw payload. The email address is sealed in an Email, which only
// the credential's salted hash reads.
type Certificate struct {
	// Code is the canonical verification code.
	Code string
	// LearnerName is the learner's name as the certificate shows it.
	LearnerName string
	// LearnerEmail identifies the learner in the credential, hashed.
	LearnerEmail Email
	// CourseID is the platform's course id (notifiableId); the credential's
	// achievement id is derived from it, so one course is one achievement.
	CourseID string
	// CourseTitle is the completed course's title.
	CourseTitle string
	// CompletedAt is when the course was completed, as the certificate dates
	// it.
	CompletedAt time.Time
	// Issuer is the issuing organisation's name; empty takes
	// Handler.IssuerName.
	Issuer string
	// CertificateSHA256 is the hex SHA-256 of the certificate PDF as it was
	// sent, so a holder can check a file against it.
	CertificateSHA256 string
	// RevokedAt is when the certificate was revoked; zero when it stands.
	RevokedAt time.Time
	// Reason is the revocation's category, when revoked.
	Reason Reason
	// ExpiresAt is when the certificate lapses; zero when it never does.
	ExpiresAt time.Time
	// Superseded says the learner completed the course again, which
	// renewed this certificate; SupersededBy is the renewal's verification
	// code, when it has one.
	Superseded   bool
	SupersededBy string
}

// Revoked reports whether the certificate was revoked.
func (c Certificate) Revoked() bool {
	return !c.RevokedAt.IsZero()
}

// Expired reports whether the certificate has an expiry date that has
// passed at now.
func (c Certificate) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// Email is an email address that cannot leak by accident: printing it with
// fmt, a template or slog, or marshalling it to JSON, gives "[redacted]".
// Only the credential's salted hash reads the address.
type Email struct {
	addr string
}

// NewEmail seals addr.
func NewEmail(addr string) Email {
	return Email{addr: addr}
}

const redacted = "[redacted]"

// IsZero reports whether no address was sealed.
func (e Email) IsZero() bool { return e.addr == "" }

// String hides the address.
func (e Email) String() string { return redacted }

// GoString hides the address from %#v too.
func (e Email) GoString() string { return "verify.Email{" + redacted + "}" }

// MarshalJSON hides the address from encoding/json.
func (e Email) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText hides the address from text encoders.
func (e Email) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue hides the address from slog.
func (e Email) LogValue() slog.Value { return slog.StringValue(redacted) }
