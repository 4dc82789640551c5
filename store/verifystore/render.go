package verifystore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
)

// Renderer renders a certificate again from its stored row, for the
// verification page's download: the same event, route and code as the
// email had, through the same certificate.ForEvent, so the bytes, and their
// SHA-256, are the ones the learner received.
type Renderer struct {
	Store *store.Store
	// BaseURL is PUBLIC_BASE_URL, which the QR code holds.
	BaseURL string
	// ReadFile reads a course's logo; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
}

// RenderPDF is verify/page.Handler's RenderPDF.
func (r Renderer) RenderPDF(ctx context.Context, c verify.Certificate) ([]byte, error) {
	rec, err := r.Store.CertificateByCode(ctx, c.Code)
	if err != nil {
		return nil, fmt.Errorf("render certificate: %w", err)
	}
	e, err := rec.Event()
	if err != nil {
		return nil, fmt.Errorf("render certificate: %w", err)
	}
	var route *courses.Route
	if rec.Route != "" {
		route = &courses.Route{}
		if err := json.Unmarshal([]byte(rec.Route), route); err != nil {
			return nil, fmt.Errorf("render certificate of %s: stored route: %w", rec.EventID, err)
		}
	}
	v := &certificate.Verification{Code: rec.VerificationCode, URL: verify.PageURL(r.BaseURL, rec.VerificationCode)}
	d, err := certificate.ForEvent(e.Brief(), rec.ReceivedAt, route, r.ReadFile, v, rec.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("render certificate of %s: %w", rec.EventID, err)
	}
	// The version the row was recorded with, which drew the emailed file;
	// rows from before versions hold 1.
	return certificate.RenderVersion(rec.Renderer, d)
}
