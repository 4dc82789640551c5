package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"time"

	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
)

// Reminder is what a reminder before a certificate's expiry says besides
// the course: the date, where to take the course again, and where the
// certificate can be checked.
type Reminder struct {
	ExpiresAt time.Time
	// CourseURL is the course's page from COURSES_FILE; empty leaves the
	// link out. VerificationURL is the certificate's public page, when
	// verification is on. Both come from the operator's configuration, so
	// http is kept (PUBLIC_BASE_URL under make run is http://localhost);
	// anything but an absolute http or https URL without spaces or control
	// characters is dropped.
	CourseURL       string
	VerificationURL string
}

// ReminderSubject is the reminder's subject line when the course gives
// none, made as safe as Subject's.
func ReminderSubject(courseTitle string, expiresAt time.Time) string {
	subject := "Your certificate"
	if title := singleLine(courseTitle); title != "" {
		subject += " for " + title
	}
	return truncate(subject+" expires on "+expiresAt.UTC().Format(dateLayout), maxSubjectRunes)
}

type reminderValues struct {
	Name, Course, Expires, CertificateID, Intro, Issuer, CourseURL, VerificationURL string
}

// buildReminder is Build for a reminder: the same sender, recipient and
// custom args (so SendGrid's events find it by the event and the reminder),
// no attachment.
func buildReminder(from From, m Message) *sgmail.SGMailV3 {
	v := reminderValues{
		Name:            singleLine(m.LearnerName),
		Course:          singleLine(m.CourseTitle),
		Expires:         m.Reminder.ExpiresAt.UTC().Format(dateLayout),
		CertificateID:   m.EventID,
		Intro:           truncate(singleLine(m.Intro), maxIntroRunes),
		Issuer:          truncate(singleLine(m.Issuer), maxNameRunes),
		CourseURL:       linkURL(m.Reminder.CourseURL, "https", "http"),
		VerificationURL: linkURL(m.Reminder.VerificationURL, "https", "http"),
	}
	subject := SubjectLine(m.Subject)
	if subject == "" {
		subject = ReminderSubject(m.CourseTitle, m.Reminder.ExpiresAt)
	}
	to := sgmail.NewEmail(displayName(m.LearnerName), m.To)
	msg := sgmail.NewSingleEmail(sgmail.NewEmail(displayName(from.Name), from.Email), subject, to, reminderText(v), reminderHTML(v))
	msg.SetCustomArg(customArgEventID, m.EventID)
	if m.ResendID != "" {
		msg.SetCustomArg("resend_id", m.ResendID)
	}
	return msg
}

func reminderText(v reminderValues) string {
	greeting := "Hello,"
	if v.Name != "" {
		greeting = "Hello " + v.Name + ","
	}
	intro := fmt.Sprintf("Your certificate for %s expires on %s.", v.Course, v.Expires)
	if v.Intro != "" {
		intro = v.Intro
	}
	body := greeting + "\n\n" + intro + "\n"
	if v.CourseURL != "" {
		body += "\nRenew it by completing the course again: " + v.CourseURL + "\n"
	}
	if v.VerificationURL != "" {
		body += "\nYour certificate's page: " + v.VerificationURL + "\n"
	}
	body += "\nCertificate ID: " + v.CertificateID + "\n"
	if v.Issuer != "" {
		body += "\n— " + v.Issuer + "\n"
	}
	return body
}

// reminderTemplate escapes every value by context, as htmlTemplate does.
var reminderTemplate = htmltemplate.Must(htmltemplate.New("reminder").Parse(`<!DOCTYPE html>
<html>
<body>
<p>{{if .Name}}Hello {{.Name}},{{else}}Hello,{{end}}</p>
<p>{{if .Intro}}{{.Intro}}{{else}}Your certificate for <strong>{{.Course}}</strong> expires on {{.Expires}}.{{end}}</p>
{{if .CourseURL}}<p><a href="{{.CourseURL}}">Renew it by completing the course again</a></p>
{{end}}{{if .VerificationURL}}<p><a href="{{.VerificationURL}}">Your certificate's page</a></p>
{{end}}<p>Certificate ID: {{.CertificateID}}</p>
{{if .Issuer}}<p>— {{.Issuer}}</p>
{{end}}</body>
</html>
`))

func reminderHTML(v reminderValues) string {
	var b bytes.Buffer
	if err := reminderTemplate.Execute(&b, v); err != nil {
		panic(fmt.Sprintf("render reminder email: %v", err))
	}
	return b.String()
}
