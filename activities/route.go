package activities

import (
	"fmt"
	"os"

	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/mail"
)

// applyRoute gives the certificate and the email the course's own wording.
// A nil route (an input from before routing) leaves today's wording.
func (a *Activities) applyRoute(route *courses.Route, e event.Event, data *certificate.Data, msg *mail.Message) error {
	if route == nil {
		return nil
	}
	c := route.Certificate
	data.Heading, data.Issuer = c.Heading, c.Issuer
	data.Signatory = certificate.Signatory{Name: c.Signatory.Name, Role: c.Signatory.Role}
	if c.Logo != "" {
		read := a.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		// The file was checked when the routing was loaded. Gone since, it
		// is an operator's to put back: retry until the deadline.
		logo, err := read(c.Logo)
		if err != nil {
			return fmt.Errorf("read the certificate logo of course %s: %w", e.NotifiableID, err)
		}
		data.Logo = logo
	}

	fields := courses.Fields{
		LearnerName: e.LearnerName(),
		CourseTitle: event.Clean(e.Title),
		CourseName:  route.CourseName,
		CompletedOn: data.CompletedAt.UTC().Format("2 January 2006"),
		Issuer:      c.Issuer,
	}
	if d := e.UserDetail; d != nil {
		fields.FirstName, fields.LastName = event.Clean(d.FirstName), event.Clean(d.LastName)
	}
	msg.Issuer = c.Issuer
	for _, t := range []struct {
		name, src string
		dst       *string
	}{{"subject", route.Email.Subject, &msg.Subject}, {"intro", route.Email.Intro, &msg.Intro}} {
		if t.src == "" {
			continue
		}
		text, err := courses.Render(t.src, fields)
		if err != nil {
			// The loader tried every template against sample fields, so
			// this one would fail again on every retry.
			return temporal.NewApplicationErrorWithOptions(
				fmt.Sprintf("email %s template of course %s: %v", t.name, e.NotifiableID, err), ErrEmailPermanent,
				temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err})
		}
		*t.dst = text
	}
	return nil
}
