// Package courses decides, per course, where coursehook sends a completion:
// the Slack channel, the email's wording, the certificate's heading, issuer,
// signatory and logo, the LinkedIn page its "Add to LinkedIn" link names,
// and the Slack digest's threshold and window. Operators
// write these by hand in the YAML file COURSES_FILE names (example.yaml shows
// every key); Load checks it whole, and Routes swaps in a new version on
// SIGHUP without dropping the old one when the new one is wrong.
package courses

import (
	"errors"
	"time"
)

// Route is what coursehook does for one course. It is recorded with each
// event, as JSON in the workflow history and in the database row, so its JSON
// names must not change; Digest.Window is written as encoding/json writes
// every time.Duration, in nanoseconds.
type Route struct {
	// CourseName is the operators' name for the course, empty for a course
	// the file does not list.
	CourseName string `json:"courseName,omitempty"`
	// URL is the course's own page, which a renewal reminder links so the
	// learner can take it again; empty when the file gives none.
	URL         string           `json:"url,omitempty"`
	Slack       SlackRoute       `json:"slack"`
	Email       EmailRoute       `json:"email"`
	Certificate CertificateRoute `json:"certificate"`
	Digest      DigestRoute      `json:"digest"`
	// LinkedIn is omitzero (omitempty never omits a struct), so a route
	// without it is stored byte for byte as before it existed.
	LinkedIn LinkedInRoute `json:"linkedin,omitzero"`
	// Channels are the settings of the notice channels that bring their
	// own key to the file (a Section), by key: each a flat mapping of
	// field to value, as written. Routes recorded before there were any
	// have none.
	Channels map[string]map[string]string `json:"channels,omitempty"`
}

// Section is a notice channel's own key in the courses file, beside slack
// and email: a mapping of the fields it names, each a single value, merged
// key by key over defaults: like every other key, and kept in
// Route.Channels under the key. The channel checks its own values; a
// problem stops the file like any other, with its line and column.
type Section struct {
	Key    string
	Fields []string
	// Check says what is wrong with one field's value, or nil.
	Check func(field, value string) error
	// Complete says what is wrong with the section as merged for one
	// course (a URL without its secret, say), or nil; nil Complete checks
	// nothing.
	Complete func(fields map[string]string) error
}

// AnySection, given to Load, accepts any other key whose value is a
// mapping as a channel's section without checking it: for readers of the
// file, such as coursehookctl, that need only the courses' names and do not
// have every channel of the worker.
var AnySection = Section{Key: "*"}

// maxSectionValue bounds one field of a channel's section: room for a long
// URL, not for a pasted log.
const maxSectionValue = 2048

// SlackRoute is the course's Slack notice.
type SlackRoute struct {
	// Channel is a channel id such as C0123ABCD. Ids from the file are
	// checked; the base route's channel (SLACK_CHANNEL) is taken as given.
	Channel string `json:"channel,omitempty"`
	Enabled bool   `json:"enabled"`
}

// EmailRoute is the learner's certificate email.
type EmailRoute struct {
	Enabled bool `json:"enabled"`
	// Subject and Intro are template sources for Render; empty means the
	// mail package's built-in wording.
	Subject string `json:"subject,omitempty"`
	Intro   string `json:"intro,omitempty"`
	// Reminder is the wording of the reminders before a certificate
	// expires, templates like Subject and Intro; empty means the mail
	// package's own.
	Reminder Wording `json:"reminder,omitzero"`
}

// Wording is an email's subject and opening paragraph, template sources
// for Render.
type Wording struct {
	Subject string `json:"subject,omitempty"`
	Intro   string `json:"intro,omitempty"`
}

// CertificateRoute is the wording and artwork of the PDF certificate; an
// empty field means the certificate package's own.
type CertificateRoute struct {
	Heading   string    `json:"heading,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	Signatory Signatory `json:"signatory,omitzero"`
	// Logo is the absolute path of a PNG or JPEG file, checked when the file
	// was loaded.
	Logo string `json:"logo,omitempty"`
	// ValidFor is how long a certificate of the course stays valid, a
	// Period as written ("12mo"); empty means it never expires. The expiry
	// date is decided from it when the completion is recorded.
	ValidFor string `json:"validFor,omitempty"`
	// Remind are the Periods before the expiry date at which the learner
	// is reminded, as written, the longest first.
	Remind []string `json:"remind,omitempty"`
}

// Expires is when a certificate of this route completed at completedAt
// lapses, and ok false when the route's certificates never do.
func (c CertificateRoute) Expires(completedAt time.Time) (at time.Time, ok bool) {
	if c.ValidFor == "" {
		return time.Time{}, false
	}
	p, err := ParsePeriod(c.ValidFor)
	if err != nil {
		// Only a hand-edited stored route could hold one; Load refuses it.
		return time.Time{}, false
	}
	return p.After(completedAt), true
}

// Signatory is the person who signs the certificate.
type Signatory struct {
	Name string `json:"name,omitempty"`
	Role string `json:"role,omitempty"`
}

// LinkedInRoute is the "Add to LinkedIn" link of the certificate's email and
// verification page.
type LinkedInRoute struct {
	// OrganizationID is the issuer's LinkedIn page, a number (checked by
	// linkedin.ValidOrganizationID when the file is loaded); empty names
	// the certificate's issuer as text instead.
	OrganizationID string `json:"organizationId,omitempty"`
}

// DigestRoute says when Slack notices of a course are folded into one
// digest message: Threshold notices within Window.
type DigestRoute struct {
	Threshold int           `json:"threshold"`
	Window    time.Duration `json:"window"`
	// Off (digest: {enabled: false}) posts each completion's notice at
	// once, without asking the digest. It is a negative so that the routes
	// stored before it existed, which lack it, keep their digest.
	Off bool `json:"off,omitempty"`
}

// Table is one loaded version of the courses file. It is never changed after
// Load, so any number of goroutines may read it.
type Table struct {
	path     string
	defaults Route
	courses  map[string]Route
	// sections are the channels' own keys the file was read with, so a
	// reload reads it the same way.
	sections []Section
}

// Load reads and checks the courses file at path and merges it over base,
// the routing the environment variables describe. Every key of the file's
// defaults: replaces the same key of base, and every key of a course replaces
// the same key of the defaults, so "slack: {channel: X}" keeps the enabled
// flag it would otherwise have. With path "", every route is base.
//
// A file with any problem is refused as a whole: the error lists each
// problem as an *Error with the file, line and column, at most maxProblems
// of them.
//
// sections are the keys notice channels bring of their own (Section);
// without AnySection among them, any other key is refused as unknown.
func Load(path string, base Route, sections ...Section) (*Table, error) {
	t := &Table{path: path, defaults: base, courses: map[string]Route{}, sections: sections}
	if path == "" {
		return t, nil
	}
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	p := newParser(path, sections)
	p.file(data, t)
	if len(p.problems) > 0 {
		return nil, errors.Join(p.problems...)
	}
	return t, nil
}

// Route returns the route of the course with id courseID (the event's
// notifiableId, matched exactly), or the defaults for a course the file does
// not list.
func (t *Table) Route(courseID string) Route {
	if r, ok := t.courses[courseID]; ok {
		return r
	}
	return t.defaults
}

// Names maps the id of every listed course that has a name to that name, for
// logs and coursehookctl. The map is the caller's to change.
func (t *Table) Names() map[string]string {
	names := make(map[string]string, len(t.courses))
	for id, r := range t.courses {
		if r.CourseName != "" {
			names[id] = r.CourseName
		}
	}
	return names
}

// Len is the number of courses the file lists.
func (t *Table) Len() int { return len(t.courses) }

// Path is the file the table was loaded from, "" when there was none.
func (t *Table) Path() string { return t.path }
