// Package certmail is the certificate email as a notice channel: it renders
// the learner's PDF certificate with the course's wording and artwork, and
// sends it through SendGrid (or the outbox) on the throttled email queue.
package certmail

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// Channel emails each learner their certificate.
type Channel struct {
	Mail   mail.Sender
	Render func(certificate.Data) ([]byte, error)
	// ReadFile reads a course's certificate logo; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// PublicBaseURL, with verification on (the notice carries a code),
	// prints the code and a QR code of its page on the certificate, and
	// gives the email an "Add to LinkedIn" link to that page.
	PublicBaseURL string
	// IssuerName names the organisation in the "Add to LinkedIn" link of a
	// course whose route names neither a LinkedIn page nor an issuer, as
	// the verification page does (CERTIFICATE_ISSUER); empty leaves the
	// organisation for the learner to fill in.
	IssuerName string
	// PerSecond caps the emails across every worker, for SendGrid's
	// per-account limit; zero means config.DefaultEmailsPerSecond.
	PerSecond float64
}

var _ channel.Channel = Channel{}

// Spec: the email queue; a certificate that cannot be rendered is
// permanent too, under its own failure type.
func (c Channel) Spec() channel.Spec {
	perSecond := c.PerSecond
	if perSecond <= 0 {
		perSecond = config.DefaultEmailsPerSecond
	}
	return channel.Spec{
		Name:      workflows.StepNameEmail,
		Provider:  "sendgrid",
		Queue:     channel.Queue{Suffix: "-email", PerSecond: perSecond, StartToClose: 30 * time.Second},
		Permanent: []string{workflows.ErrCertificate},
	}
}

// Enabled follows the route's email.enabled.
func (Channel) Enabled(r courses.Route) bool { return r.Email.Enabled }

// Send renders the certificate and emails it. The PDF is rendered here, not
// passed in, so its bytes never enter the workflow history; rendering is
// deterministic, so a retry attaches the very same file.
func (c Channel) Send(ctx context.Context, in workflows.NoticeInput) (workflows.Receipt, error) {
	e := in.Event
	completed := e.CompletionTime(in.ReceivedAt)
	var v *certificate.Verification
	if in.VerificationCode != "" && c.PublicBaseURL != "" {
		v = &certificate.Verification{Code: in.VerificationCode, URL: verify.PageURL(c.PublicBaseURL, in.VerificationCode)}
	}
	data, err := certificate.ForEvent(e, in.ReceivedAt, in.Route, c.ReadFile, v)
	if err != nil {
		// A logo gone since the routing was loaded is an operator's to put
		// back: retried until the deadline.
		return workflows.Receipt{}, err
	}
	msg := mail.Message{
		EventID:         e.ID,
		ResendID:        in.ResendID,
		To:              cmp.Or(in.To, e.User),
		LearnerName:     e.LearnerName(),
		CourseTitle:     e.Title,
		CompletedAt:     completed,
		CertificateName: "certificate-" + e.ID + ".pdf",
	}
	if err := applyRoute(in.Route, e, completed, &msg); err != nil {
		return workflows.Receipt{}, err
	}
	msg.LinkedInURL = addToLinkedIn(in.Route, e, completed, v, c.IssuerName)
	pdf, err := c.Render(data)
	if errors.Is(err, certificate.ErrInvalidData) {
		return workflows.Receipt{}, &channel.Failure{Permanent: true, Type: workflows.ErrCertificate,
			Message: fmt.Sprintf("render certificate for %s: %v", e.ID, err), Err: err}
	}
	if err != nil {
		return workflows.Receipt{}, fmt.Errorf("render certificate for %s: %w", e.ID, err)
	}
	sum := sha256.Sum256(pdf)
	msg.Certificate = pdf
	r, err := c.Mail.Send(ctx, msg)
	if err != nil {
		return workflows.Receipt{}, Failure(err)
	}
	return workflows.Receipt{ID: r.MessageID, SHA256: hex.EncodeToString(sum[:])}, nil
}

// Find cannot look: SendGrid has no lookup by our ids, so a retry after a
// lost answer may send a second email (README.md, "Reliability").
func (Channel) Find(context.Context, workflows.NoticeInput, time.Time) (workflows.Receipt, bool, error) {
	return workflows.Receipt{}, false, nil
}

// Failure classifies a failed send, keeping SendGrid's own words.
func Failure(err error) error {
	var me *mail.Error
	if !errors.As(err, &me) {
		return fmt.Errorf("sendgrid: %w", err)
	}
	msg := "sendgrid: " + me.Message
	if me.StatusCode != 0 {
		msg = fmt.Sprintf("sendgrid %d: %s", me.StatusCode, me.Message)
	}
	return &channel.Failure{Permanent: me.Permanent, RetryAfter: me.RetryAfter, Message: msg, Err: err}
}
