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
	Mail mail.Sender
	// Render draws a certificate with a renderer version
	// (certificate.RenderVersion).
	Render func(version int, d certificate.Data) ([]byte, error)
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
	// Events, when set, lets a retry find the email an earlier attempt
	// sent in SendGrid's delivery events; Wait is how long it waits for
	// them (SENDGRID_EVENTS_WAIT).
	Events Events
	Wait   time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
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
	if IsReminder(in) {
		return c.sendReminder(ctx, in)
	}
	msg, sum, err := c.message(in)
	if err != nil {
		return workflows.Receipt{}, err
	}
	r, err := c.Mail.Send(ctx, msg)
	if err != nil {
		return workflows.Receipt{}, Failure(err)
	}
	return workflows.Receipt{ID: r.MessageID, SHA256: sum}, nil
}

// message is the email of in, with its certificate and the certificate's
// hex SHA-256.
func (c Channel) message(in workflows.NoticeInput) (mail.Message, string, error) {
	e := in.Event
	completed := e.CompletionTime(in.ReceivedAt)
	var v *certificate.Verification
	if in.VerificationCode != "" && c.PublicBaseURL != "" {
		v = &certificate.Verification{Code: in.VerificationCode, URL: verify.PageURL(c.PublicBaseURL, in.VerificationCode)}
	}
	data, err := certificate.ForEvent(e, in.ReceivedAt, in.Route, c.ReadFile, v, in.ExpiresAt)
	if err != nil {
		// A logo gone since the routing was loaded is an operator's to put
		// back: retried until the deadline.
		return mail.Message{}, "", err
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
		return mail.Message{}, "", err
	}
	msg.LinkedInURL = addToLinkedIn(in.Route, e, completed, in.ExpiresAt, v, c.IssuerName)
	// An input from before renderer versions belongs to a row drawn by
	// version 1. A version this build lacks (a newer worker recorded the
	// row, then was rolled back) fails like any error: retried, so a
	// worker that has it can take it.
	pdf, err := c.Render(cmp.Or(in.Renderer, certificate.Renderer1), data)
	if errors.Is(err, certificate.ErrInvalidData) {
		return mail.Message{}, "", &channel.Failure{Permanent: true, Type: workflows.ErrCertificate,
			Message: fmt.Sprintf("render certificate for %s: %v", e.ID, err), Err: err}
	}
	if err != nil {
		return mail.Message{}, "", fmt.Errorf("render certificate for %s: %w", e.ID, err)
	}
	sum := sha256.Sum256(pdf)
	msg.Certificate = pdf
	return msg, hex.EncodeToString(sum[:]), nil
}

// Events is what SendGrid's Event Webhook has told coursehook: the
// delivery events in the database.
type Events interface {
	// EmailAccepted returns the message id of the email (eventID,
	// resendID) when SendGrid reported any event of it dated since since.
	EmailAccepted(ctx context.Context, eventID, resendID string, since time.Time) (string, bool, error)
	// DeliveryEventsArrive reports whether any event arrived since since.
	DeliveryEventsArrive(ctx context.Context, since time.Time) (bool, error)
}

// Find looks, on a retry, for SendGrid's own report that an earlier
// attempt's email went out before its answer was lost: SendGrid has no
// lookup by our ids, but its Event Webhook reports every email it takes
// in (processed, or dropped), with the custom args coursehook set. It
// posts its events in batches, seconds after the send, so Find waits for
// one up to Wait; it only waits where events have arrived in the last
// day, since without the Event Webhook none will come. Without Events it
// cannot look, and a retry after a lost answer may send a second email
// (docs/reliability.md, "Crash windows").
func (c Channel) Find(ctx context.Context, in workflows.NoticeInput, since time.Time) (workflows.Receipt, bool, error) {
	if c.Events == nil {
		return workflows.Receipt{}, false, nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	arrive, err := c.Events.DeliveryEventsArrive(ctx, now().Add(-eventsRecent))
	if err != nil {
		// The email does not need the database; better a possible second
		// email than none.
		return workflows.Receipt{}, false, fmt.Errorf("%w: %w", channel.ErrCannotLook, err)
	}
	if !arrive {
		return workflows.Receipt{}, false, nil
	}
	deadline := now().Add(c.Wait)
	if d, ok := ctx.Deadline(); ok && d.Add(-sendTime).Before(deadline) {
		deadline = d.Add(-sendTime)
	}
	for {
		id, found, err := c.Events.EmailAccepted(ctx, in.Event.ID, in.ResendID, since)
		if err != nil {
			return workflows.Receipt{}, false, fmt.Errorf("%w: %w", channel.ErrCannotLook, err)
		}
		if found {
			// The receipt carries the certificate's hash, as a send's does;
			// rendering is deterministic, so it is the one SendGrid took.
			_, sum, err := c.message(in)
			if err != nil {
				return workflows.Receipt{}, false, err
			}
			return workflows.Receipt{ID: id, SHA256: sum}, true, nil
		}
		if !now().Add(findPoll).Before(deadline) {
			return workflows.Receipt{}, false, nil
		}
		select {
		case <-ctx.Done():
			return workflows.Receipt{}, false, ctx.Err()
		case <-time.After(findPoll):
		}
	}
}

// Find's pacing: how recent an event must be for the Event Webhook to
// count as on, how often it looks again while waiting, and the time it
// leaves the attempt for rendering and sending after the wait.
const (
	eventsRecent = 24 * time.Hour
	findPoll     = 500 * time.Millisecond
	sendTime     = 8 * time.Second
)

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
