// Package sgevents receives SendGrid's Event Webhook: it checks the signature
// SendGrid puts on every post (Signed Event Webhook) and decodes the batch of
// events into what coursehook needs to track a certificate email's delivery.
//
// Everything here is pure: no HTTP handler, no database, no logging. The body
// is never logged or returned in an error, because it carries learners'
// addresses.
package sgevents

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// SignatureHeader carries the base64 ECDSA signature of a post.
const SignatureHeader = eventwebhook.VerificationHTTPHeader

// TimestampHeader carries the Unix time (seconds) the signature covers.
const TimestampHeader = eventwebhook.TimestampHTTPHeader

// DefaultWindow is how far a signed timestamp may be from now. It bounds how
// long a captured post can be replayed while leaving room for clock skew and
// SendGrid's own queueing.
const DefaultWindow = 5 * time.Minute

// KeyVariable names the setting that holds SendGrid's public key; errors
// from NewVerifier start with it so an operator knows what to fix.
const KeyVariable = "SENDGRID_WEBHOOK_PUBLIC_KEY"

// ErrNoSignature means the signature or timestamp header is missing: the post
// is not signed (or the Signed Event Webhook is off in SendGrid).
var ErrNoSignature = errors.New("sendgrid event webhook: no signature")

// ErrBadSignature means the signature does not verify against the body and
// timestamp under the configured key.
var ErrBadSignature = errors.New("sendgrid event webhook: bad signature")

// ErrStale means the signed timestamp is outside the window, too old or too
// far in the future, so the post may be a replay.
var ErrStale = errors.New("sendgrid event webhook: stale timestamp")

// Verifier checks SendGrid's signature on Event Webhook posts. It is safe for
// concurrent use once set up.
type Verifier struct {
	key *ecdsa.PublicKey
	// Window is how far the signed timestamp may be from Now, either way;
	// zero means DefaultWindow.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewVerifier takes the public key SendGrid shows in its Signed Event Webhook
// settings: base64 of the DER (PKIX) encoding of an ECDSA P-256 key.
// Whitespace anywhere in it is ignored, so a key pasted across lines works.
func NewVerifier(base64Key string) (*Verifier, error) {
	b64 := strings.Join(strings.Fields(base64Key), "")
	if b64 == "" {
		return nil, fmt.Errorf("%s: empty", KeyVariable)
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%s: not base64: %w", KeyVariable, err)
	}
	// The sendgrid-go helper asserts the parsed key is ECDSA without checking
	// and panics on anything else, so the key's kind is checked here first.
	parsed, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKIX public key: %w", KeyVariable, err)
	}
	ec, ok := parsed.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: %s key, want ECDSA P-256", KeyVariable, keyKind(parsed))
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: ECDSA key on %s, want P-256", KeyVariable, ec.Curve.Params().Name)
	}
	key, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(b64)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyVariable, err)
	}
	return &Verifier{key: key}, nil
}

// keyKind names a parsed public key's algorithm for an error message.
func keyKind(k any) string {
	s := fmt.Sprintf("%T", k) // *rsa.PublicKey, ed25519.PublicKey, ...
	s = strings.TrimPrefix(s, "*")
	s, _, _ = strings.Cut(s, ".")
	return strings.ToUpper(s)
}

// Verify checks one post: signature and timestamp are the two headers'
// values and body is the request body exactly as received, before any JSON
// decoding, since SendGrid signs the bytes it sent. The error wraps
// ErrNoSignature, ErrStale or ErrBadSignature, and never includes the body.
func (v *Verifier) Verify(signature, timestamp string, body []byte) error {
	switch {
	case signature == "" && timestamp == "":
		return fmt.Errorf("%w: %s and %s headers missing", ErrNoSignature, SignatureHeader, TimestampHeader)
	case signature == "":
		return fmt.Errorf("%w: %s header missing", ErrNoSignature, SignatureHeader)
	case timestamp == "":
		return fmt.Errorf("%w: %s header missing", ErrNoSignature, TimestampHeader)
	}
	signed, err := parseUnix(timestamp)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadSignature, TimestampHeader, err)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	window := v.Window
	if window <= 0 {
		window = DefaultWindow
	}
	// Both differences are taken forwards: Sub saturates, and negating the
	// saturated minimum would overflow.
	if t := now(); signed.Before(t) {
		if age := t.Sub(signed); age > window {
			return fmt.Errorf("%w: signed %s ago, more than %s", ErrStale, age.Round(time.Second), window)
		}
	} else if ahead := signed.Sub(t); ahead > window {
		return fmt.Errorf("%w: signed %s in the future, more than %s", ErrStale, ahead.Round(time.Second), window)
	}
	if v.key == nil {
		// A Verifier not made by NewVerifier: refuse rather than panic.
		return fmt.Errorf("%w: verifier has no key", ErrBadSignature)
	}
	ok, err := eventwebhook.VerifySignature(v.key, body, signature, timestamp)
	if err != nil {
		return fmt.Errorf("%w: malformed signature: %w", ErrBadSignature, err)
	}
	if !ok {
		return fmt.Errorf("%w: does not match body and timestamp", ErrBadSignature)
	}
	return nil
}

// parseUnix reads a timestamp header: decimal Unix seconds, digits only. A
// sign, spaces or a fraction are refused because SendGrid sends none, and
// the string is signed as is.
func parseUnix(s string) (time.Time, error) {
	if len(s) > 18 {
		return time.Time{}, errors.New("not Unix seconds: too long")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return time.Time{}, errors.New("not Unix seconds: not a decimal integer")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("not Unix seconds: %w", err)
	}
	return time.Unix(n, 0), nil
}
