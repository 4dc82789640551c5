package certmail

import (
	"time"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/mail"
)

// applyRoute gives the email the course's own wording (the certificate's
// is certificate.ForEvent's). A nil route (an input from before routing)
// leaves today's wording.
func applyRoute(route *courses.Route, e event.Event, completed time.Time, msg *mail.Message) error {
	if route == nil {
		return nil
	}
	fields := courses.Fields{
		LearnerName: e.LearnerName(),
		CourseTitle: event.Clean(e.Title),
		CourseName:  route.CourseName,
		CompletedOn: completed.UTC().Format("2 January 2006"),
		Issuer:      route.Certificate.Issuer,
	}
	if d := e.UserDetail; d != nil {
		fields.FirstName, fields.LastName = event.Clean(d.FirstName), event.Clean(d.LastName)
	}
	msg.Issuer = route.Certificate.Issuer
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
			return channel.Fail(true, 0, err, "email %s template of course %s: %v", t.name, e.NotifiableID, err)
		}
		*t.dst = text
	}
	return nil
}
