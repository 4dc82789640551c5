// Package verifystore answers the verification pages from the store: the
// lookups, and the PDF rendered again. It is a package of its own so that
// the store, which every binary opens, does not link the PDF renderer.
package verifystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
)

// Lookup serves verify.Lookup from a store, and page.LinkedInLookup: the
// LinkedIn page of the certificate's course comes from the same row.
type Lookup struct {
	Store *store.Store
	// DefaultIssuer names the issuer of a certificate whose route names
	// none; empty leaves that to verify.Handler.IssuerName.
	DefaultIssuer string
}

var _ verify.Lookup = Lookup{}

// Certificate implements verify.Lookup: the certificate whose canonical code
// is code, or a wrapped verify.ErrNotFound, also for an event whose
// certificate email has not gone out (store.Record.HasCertificate).
func (l Lookup) Certificate(ctx context.Context, code string) (verify.Certificate, error) {
	c, _, err := l.LinkedInCertificate(ctx, code)
	return c, err
}

// LinkedInCertificate is Certificate, with the LinkedIn organization id the
// event's route named (COURSES_FILE's linkedin.organizationId), "" when it
// named none: the verification page's "Add to LinkedIn" link names the same
// page as the email's did.
func (l Lookup) LinkedInCertificate(ctx context.Context, code string) (verify.Certificate, string, error) {
	rec, err := l.Store.CertificateByCode(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return verify.Certificate{}, "", fmt.Errorf("look up certificate: %w", verify.ErrNotFound)
	}
	if err != nil {
		return verify.Certificate{}, "", fmt.Errorf("look up certificate: %w", err)
	}
	c, route, err := fromRecord(rec, l.DefaultIssuer)
	if err != nil {
		return verify.Certificate{}, "", err
	}
	if rec.SupersededBy != "" {
		// The page links the renewal by its code: the public page never
		// shows an event id.
		renewal, err := l.Store.Get(ctx, rec.SupersededBy)
		if err != nil {
			return verify.Certificate{}, "", fmt.Errorf("look up the certificate that renewed %s: %w", code, err)
		}
		c.Superseded, c.SupersededBy = true, renewal.VerificationCode
	}
	return c, route.LinkedIn.OrganizationID, nil
}

// Certificate is what verification may tell about rec. The issuer is the one
// the event's route named, else defaultIssuer. The learner's name is the
// first and last name, and stays empty when both are, unlike
// event.Event.LearnerName, which falls back to the email address: the public
// page must never show the address.
func Certificate(rec store.Record, defaultIssuer string) (verify.Certificate, error) {
	c, _, err := fromRecord(rec, defaultIssuer)
	return c, err
}

// fromRecord is Certificate, with the stored route it read.
func fromRecord(rec store.Record, defaultIssuer string) (verify.Certificate, storedRoute, error) {
	route, err := readRoute(rec.Route)
	if err != nil {
		return verify.Certificate{}, storedRoute{}, fmt.Errorf("certificate of %s: %w", rec.EventID, err)
	}
	issuer := event.Clean(route.Certificate.Issuer)
	if issuer == "" {
		issuer = defaultIssuer
	}
	c := verify.Certificate{
		Code:              rec.VerificationCode,
		LearnerName:       event.Clean(rec.FirstName + " " + rec.LastName),
		LearnerEmail:      verify.NewEmail(rec.LearnerEmail),
		CourseID:          rec.CourseID,
		CourseTitle:       rec.CourseTitle,
		CompletedAt:       rec.CompletedAt,
		Issuer:            issuer,
		CertificateSHA256: rec.CertificateSHA256(),
		ExpiresAt:         rec.ExpiresAt,
	}
	if rec.Revoked() {
		c.RevokedAt, c.Reason = rec.RevokedAt, verify.Reason(rec.RevocationReason)
	}
	return c, route, nil
}

// storedRoute is the part of a stored route (courses.Route's JSON) that
// verification reads.
type storedRoute struct {
	Certificate struct {
		Issuer string `json:"issuer"`
	} `json:"certificate"`
	LinkedIn struct {
		OrganizationID string `json:"organizationId"`
	} `json:"linkedin"`
}

// readRoute reads a stored route, empty when the row predates routes. A
// route that does not parse is an error rather than the default issuer,
// which would put a wrong name on a public page.
func readRoute(route string) (storedRoute, error) {
	var r storedRoute
	if route == "" {
		return r, nil
	}
	if err := json.Unmarshal([]byte(route), &r); err != nil {
		return storedRoute{}, fmt.Errorf("read the stored route: %w", err)
	}
	return r, nil
}
