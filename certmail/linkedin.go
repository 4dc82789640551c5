package certmail

import (
	"time"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/linkedin"
)

// addToLinkedIn is the email's "Add to LinkedIn" link, which points LinkedIn
// at the certificate's verification page: without verification (v nil)
// there is nothing for a profile to link to, and no link. The values are
// the ones the verification page puts in its own link (verify/page), so the
// two agree: the title cleaned as the certificate shows it, the completion's
// month, its expiry's when it expires, and the course's LinkedIn page or
// else its issuer, defaultIssuer when the route names none.
func addToLinkedIn(route *courses.Route, e event.Event, completed, expires time.Time, v *certificate.Verification, defaultIssuer string) string {
	if v == nil {
		return ""
	}
	c := linkedin.Certification{
		Name:             event.Clean(e.Title),
		OrganizationName: event.Clean(defaultIssuer),
		Issued:           completed,
		Expires:          expires,
		CertURL:          v.URL,
		CertID:           v.Code,
	}
	if route != nil {
		c.OrganizationID = route.LinkedIn.OrganizationID
		if issuer := event.Clean(route.Certificate.Issuer); issuer != "" {
			c.OrganizationName = issuer
		}
	}
	return linkedin.AddURL(c)
}
