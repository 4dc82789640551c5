// Package mail emails a learner their course certificate: it builds the
// SendGrid v3 message and either sends it through the SendGrid API or, for
// developers without credentials, writes it to the outbox folder.
package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/coursehook/coursehook/outbox"
)

// Message is one certificate email.
type Message struct {
	EventID string
	// ResendID is the request id of an operator's resend, empty for the
	// first email.
	ResendID    string
	To          string // learner email, already validated with net/mail by the caller
	LearnerName string // "First Last"
	CourseTitle string
	CompletedAt time.Time
	Certificate []byte // PDF bytes
	// CertificateName is the attachment's file name, e.g.
	// "certificate-<event id>.pdf". It is sanitised before use.
	CertificateName string
	// Subject is the subject line from the course's template, already
	// rendered; empty means "Your certificate for <course title>". It is
	// made as safe as that one: one line, control characters gone, capped.
	Subject string
	// Intro is the opening paragraph from the course's template, already
	// rendered, as plain text; empty means "You completed <course> on
	// <date>.". It is escaped in the HTML part and kept to one paragraph of
	// bounded length in both parts.
	Intro string
	// Issuer is who awards the certificate, such as "Acme Academy". When set,
	// the email ends with it as a signature line; empty leaves the email as
	// it was without one.
	Issuer string
	// LinkedInURL is the certificate's "Add to LinkedIn" link
	// (linkedin.AddURL), shown as a link in the HTML part and on a line of
	// its own in the text part; empty leaves the email as it was without
	// one. Anything but an absolute https URL without spaces or control
	// characters is dropped.
	LinkedInURL string
	// Reminder makes the message a reminder that the certificate expires,
	// sent without the PDF: Subject and Intro are then the reminder's.
	Reminder *Reminder
}

// Receipt identifies a sent message: SendGrid's X-Message-Id, or the envelope
// file path when the message went to the outbox.
type Receipt struct {
	MessageID string
}

// Sender delivers a certificate email.
type Sender interface {
	Send(ctx context.Context, m Message) (Receipt, error)
}

// From is the sender shown to the learner.
type From struct {
	Email string
	Name  string
}

// Limits that keep one odd event from producing an unreadable or rejected
// email; no real course title or learner name comes near them.
const (
	maxSubjectRunes  = 200
	maxNameRunes     = 100
	maxFileNameBytes = 100
	// maxIntroRunes leaves a course's template room for a few sentences,
	// and keeps one from filling the email.
	maxIntroRunes = 2000
)

// dateLayout matches how a certificate states its date: "17 October 2019".
const dateLayout = "2 January 2006"

// customArgEventID lets SendGrid's event webhook (deliveries, bounces) be
// matched back to the completion event that caused the email.
const customArgEventID = "event_id"

// Build returns the SendGrid v3 mail for m.
func Build(from From, m Message) *sgmail.SGMailV3 {
	if m.Reminder != nil {
		return buildReminder(from, m)
	}
	name := singleLine(m.LearnerName)
	course := singleLine(m.CourseTitle)
	completed := m.CompletedAt.UTC().Format(dateLayout)

	v := bodyValues{
		Name: name, Course: course, Date: completed, CertificateID: m.EventID,
		Intro:       truncate(singleLine(m.Intro), maxIntroRunes),
		Issuer:      truncate(singleLine(m.Issuer), maxNameRunes),
		LinkedInURL: httpsURL(m.LinkedInURL),
	}
	text := plainBody(v)
	html := htmlBody(v)

	subject := SubjectLine(m.Subject)
	if subject == "" {
		subject = Subject(m.CourseTitle)
	}
	to := sgmail.NewEmail(displayName(m.LearnerName), m.To)
	msg := sgmail.NewSingleEmail(sgmail.NewEmail(displayName(from.Name), from.Email), subject, to, text, html)
	// Top-level custom_args apply to every personalization, and SendGrid
	// requires their values to be strings, which the helper's map enforces.
	msg.SetCustomArg(customArgEventID, m.EventID)
	if m.ResendID != "" {
		msg.SetCustomArg("resend_id", m.ResendID)
	}
	msg.AddAttachment(sgmail.NewAttachment().
		SetContent(base64.StdEncoding.EncodeToString(m.Certificate)).
		SetType("application/pdf").
		SetFilename(attachmentName(m.CertificateName, m.EventID)).
		SetDisposition("attachment"))
	return msg
}

// Subject returns the subject line for a course title. Control characters
// become spaces so a title can never start a new header, and the result is
// capped so SendGrid and mail clients show it whole.
func Subject(courseTitle string) string {
	subject := "Your certificate"
	if title := singleLine(courseTitle); title != "" {
		subject += " for " + title
	}
	return truncate(subject, maxSubjectRunes)
}

// SubjectLine makes a subject rendered from a course's template safe for the
// header as Subject does a title: control characters (CR and LF included)
// become spaces, white space collapses, and the result is capped. It
// returns "" for a subject with nothing left, for which Build falls back to
// Subject.
func SubjectLine(subject string) string {
	return truncate(singleLine(subject), maxSubjectRunes)
}

// singleLine turns every control character (CR, LF, tab, NUL...) into a space
// and collapses runs of white space, so untrusted text stays on one line.
func singleLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// displayName cleans a name for the from and to objects. SendGrid assembles
// the address headers from these fields itself, but documents that a comma or
// semicolon in a recipient name makes it split the address and drop the
// email; quotes, angle brackets and backslashes could likewise be read as
// address syntax. Dropping them keeps the header to one address, and the body
// still greets the learner by their full name.
func displayName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ',', ';', '"', '<', '>', '\\':
			return ' '
		}
		return r
	}, s)
	return truncate(singleLine(s), maxNameRunes)
}

// truncate caps s at max runes, ending with an ellipsis when it cut, and never
// splits a rune.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	return strings.TrimRight(string(runes[:max-1]), " ") + "…"
}

// attachmentName keeps the file name a learner sees harmless: no directories,
// only the characters outbox.FileName allows, always ending in ".pdf".
func attachmentName(name, eventID string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if len(name) >= len(".pdf") && strings.EqualFold(name[len(name)-len(".pdf"):], ".pdf") {
		name = name[:len(name)-len(".pdf")]
	}
	if strings.Trim(name, ". ") == "" {
		name = "certificate-" + eventID
	}
	stem := outbox.FileName(name, "")
	if len(stem) > maxFileNameBytes {
		stem = stem[:maxFileNameBytes] // FileName's output is ASCII, so bytes are runes
	}
	return stem + ".pdf"
}

// httpsURL returns s when it is an absolute https URL that prints as it is
// (no spaces, no control characters), and "" otherwise. The link comes from
// our own builder, so this only keeps a mistake from putting a javascript:
// or mailto: link, or a line break, in front of the learner.
func httpsURL(s string) string {
	return linkURL(s, "https")
}

// linkURL is httpsURL for any of the given schemes.
func linkURL(s string, schemes ...string) string {
	u, err := url.Parse(s)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) {
		return ""
	}
	return s
}

// bodyValues are the untrusted values the email interpolates: the
// learner's, and the course template's intro and issuer.
type bodyValues struct {
	Name          string
	Course        string
	Date          string
	CertificateID string
	Intro         string
	Issuer        string
	LinkedInURL   string
}

func plainBody(v bodyValues) string {
	greeting := "Congratulations!"
	if v.Name != "" {
		greeting = "Congratulations, " + v.Name + "!"
	}
	intro := fmt.Sprintf("You completed %s on %s.", v.Course, v.Date)
	if v.Intro != "" {
		intro = v.Intro
	}
	body := fmt.Sprintf("%s\n\n%s\nYour certificate is attached to this email.\n\nCertificate ID: %s\n",
		greeting, intro, v.CertificateID)
	if v.LinkedInURL != "" {
		body += "\nAdd it to your LinkedIn profile: " + v.LinkedInURL + "\n"
	}
	if v.Issuer != "" {
		body += "\n— " + v.Issuer + "\n"
	}
	return body
}

// htmlTemplate escapes every value by context, so a name or title containing
// markup is shown as text instead of being rendered or run.
var htmlTemplate = htmltemplate.Must(htmltemplate.New("certificate").Parse(`<!DOCTYPE html>
<html>
<body>
<p>{{if .Name}}Congratulations, {{.Name}}!{{else}}Congratulations!{{end}}</p>
<p>{{if .Intro}}{{.Intro}}{{else}}You completed <strong>{{.Course}}</strong> on {{.Date}}.{{end}}<br>
Your certificate is attached to this email.</p>
<p>Certificate ID: {{.CertificateID}}</p>
{{if .LinkedInURL}}<p><a href="{{.LinkedInURL}}">Add to LinkedIn</a></p>
{{end}}{{if .Issuer}}<p>— {{.Issuer}}</p>
{{end}}</body>
</html>
`))

func htmlBody(v bodyValues) string {
	var b bytes.Buffer
	// The template is fixed and its values are strings, so Execute cannot fail
	// except on a programming error, which the tests would catch.
	if err := htmlTemplate.Execute(&b, v); err != nil {
		panic(fmt.Sprintf("render certificate email: %v", err))
	}
	return b.String()
}
