package certificate

import (
	"fmt"
	"os"
	"time"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
)

// ForEvent is the certificate of e's completion, the same wherever it is
// rendered: for the learner's email, and again for the verification page,
// whose download must be byte for byte the file that was emailed. It is
// dated by e.CompletionTime(receivedAt), worded by route (nil: the default
// wording), with the route's logo read by readFile (nil: os.ReadFile), and
// carries v when verification is on, and validUntil (zero: never expires),
// the expiry date stored with the event's row.
func ForEvent(e event.Event, receivedAt time.Time, route *courses.Route, readFile func(string) ([]byte, error), v *Verification, validUntil time.Time) (Data, error) {
	d := Data{
		LearnerName:   e.LearnerName(),
		CourseTitle:   e.Title,
		CompletedAt:   e.CompletionTime(receivedAt),
		CertificateID: e.ID,
		Verification:  v,
		ValidUntil:    validUntil,
	}
	if route == nil {
		return d, nil
	}
	c := route.Certificate
	d.Heading, d.Issuer = c.Heading, c.Issuer
	d.Signatory = Signatory{Name: c.Signatory.Name, Role: c.Signatory.Role}
	if c.Logo != "" {
		if readFile == nil {
			readFile = os.ReadFile
		}
		logo, err := readFile(c.Logo)
		if err != nil {
			return Data{}, fmt.Errorf("read the certificate logo of course %s: %w", e.NotifiableID, err)
		}
		d.Logo = logo
	}
	return d, nil
}
