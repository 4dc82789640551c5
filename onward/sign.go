package onward

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const (
	secretPrefix = "whsec_"

	// The specification's bounds on a symmetric signing key.
	minSecretBytes = 24
	maxSecretBytes = 64

	// tolerance is how far webhook-timestamp may be from the receiver's
	// clock, the specification library's own figure.
	tolerance = 5 * time.Minute
)

// CheckSecret accepts a secret in the specification's form, "whsec_"
// followed by the standard base64 of 24 to 64 random bytes, and refuses
// anything else. The error never repeats the secret.
func CheckSecret(secret string) error {
	encoded, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return errors.New(`webhook secret must start with "whsec_" followed by base64`)
	}
	// The library decodes with the padded standard alphabet; a secret that
	// passes here is one it can use.
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return errors.New(`webhook secret after "whsec_" is not standard (padded) base64`)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return fmt.Errorf("webhook secret decodes to %d bytes; the specification asks for %d to %d", len(key), minSecretBytes, maxSecretBytes)
	}
	return nil
}

// Verify checks a delivery as a receiver would: the webhook-id,
// webhook-timestamp and webhook-signature headers against body, with the
// secret shared with the sender. It refuses a timestamp more than five
// minutes from now, which is what makes a captured delivery useless to
// replay later. Any one of the space-separated signatures may match, as
// the specification allows during secret rotation.
func Verify(secret string, h http.Header, body []byte) error {
	return verifyAt(secret, h, body, time.Now())
}

// verifyAt is Verify with the receiver's clock given: the library's own
// Verify reads time.Now, which would make the specification's 2021 test
// vector impossible to check.
func verifyAt(secret string, h http.Header, body []byte, now time.Time) error {
	if err := CheckSecret(secret); err != nil {
		return err
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	raw := h.Get(standardwebhooks.HeaderWebhookTimestamp)
	if raw == "" {
		return fmt.Errorf("no %s header: %w", standardwebhooks.HeaderWebhookTimestamp, standardwebhooks.ErrRequiredHeaders)
	}
	secs, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q is not unix seconds: %w", standardwebhooks.HeaderWebhookTimestamp, raw, standardwebhooks.ErrInvalidHeaders)
	}
	sent := time.Unix(secs, 0)
	if age := now.Sub(sent); age > tolerance {
		return fmt.Errorf("webhook sent %s ago, more than %s: %w", age.Truncate(time.Second), tolerance, standardwebhooks.ErrMessageTooOld)
	}
	if ahead := sent.Sub(now); ahead > tolerance {
		return fmt.Errorf("webhook dated %s ahead, more than %s: %w", ahead.Truncate(time.Second), tolerance, standardwebhooks.ErrMessageTooNew)
	}
	if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
		return fmt.Errorf("verify webhook signature: %w", err)
	}
	return nil
}
