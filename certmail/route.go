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
	wording := courses.Wording{Subject: route.Email.Subject, Intro: route.Email.Intro}
	return applyWording(route, wording, routeFields(route, e, completed), e.NotifiableID, msg)
}

// routeFields are the template fields of a completion under route.
func routeFields(route *courses.Route, e event.Event, completed time.Time) courses.Fields {
	fields := courses.Fields{
		LearnerName: e.LearnerName(),
		CourseTitle: event.Clean(e.Title),
		CourseName:  route.CourseName,
		CompletedOn: completed.UTC().Format("2 January 2006"),
		Issuer:      route.Certificate.Issuer,
		CourseURL:   route.URL,
	}
	if d := e.UserDetail; d != nil {
		fields.FirstName, fields.LastName = event.Clean(d.FirstName), event.Clean(d.LastName)
	}
	return fields
}

// applyWording renders a subject and intro over fields into msg, with the
// route's issuer as the signature.
func applyWording(route *courses.Route, wording courses.Wording, fields courses.Fields, courseID string, msg *mail.Message) error {
	msg.Issuer = route.Certificate.Issuer
	for _, t := range []struct {
		name, src string
		dst       *string
	}{{"subject", wording.Subject, &msg.Subject}, {"intro", wording.Intro, &msg.Intro}} {
		if t.src == "" {
			continue
		}
		text, err := courses.Render(t.src, fields)
		if err != nil {
			// The loader tried every template against sample fields, so
			// this one would fail again on every retry.
			return channel.Fail(true, 0, err, "email %s template of course %s: %v", t.name, courseID, err)
		}
		*t.dst = text
	}
	return nil
}
