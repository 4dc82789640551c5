// Package event is the learning platform's "Live Event" webhook payload: its
// shape, how to read it from a request body, and what makes it acceptable.
package event

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The platform's documentation names the event courseComplete, while the
// payload it sends says courseCompletion; both mean a learner finished a course.
const (
	TypeCourseCompletion = "courseCompletion"
	TypeCourseComplete   = "courseComplete"
)

// Field limits. The platform documents none, so these are generous bounds that
// no real learner or course reaches but that keep one event from filling
// Slack, the PDF or the database with megabytes of text.
const (
	MaxIDLength    = 128
	MaxEmailLength = 254
	MaxNameLength  = 200
	MaxTitleLength = 500
)

// Event is one webhook delivery. Fields the platform may send as null decode
// as empty strings.
type Event struct {
	ID           string      `json:"id"`
	Source       string      `json:"source,omitempty"`
	Timestamp    string      `json:"timestamp,omitempty"`
	Type         string      `json:"type,omitempty"`
	User         string      `json:"user,omitempty"`
	CompanyID    string      `json:"companyId,omitempty"`
	Event        string      `json:"event,omitempty"`
	NotifiableID string      `json:"notifiableId,omitempty"`
	Title        string      `json:"title,omitempty"`
	UserDetail   *UserDetail `json:"userDetail,omitempty"`
}

// UserDetail is the learner as the platform's SSO knows them.
type UserDetail struct {
	ID                 string `json:"id,omitempty"`
	FirstName          string `json:"firstName,omitempty"`
	LastName           string `json:"lastName,omitempty"`
	ExternalCustomerID string `json:"externalCustomerId,omitempty"`
	SFContactID        string `json:"sfContactId,omitempty"`
	SFAccountID        string `json:"sfAccountId,omitempty"`
	Client             string `json:"client,omitempty"`
	Ref1               string `json:"ref1,omitempty"`
	Ref2               string `json:"ref2,omitempty"`
	Ref3               string `json:"ref3,omitempty"`
}

// IsCourseCompletion reports whether coursehook acts on this event. Any other
// event type is acknowledged and recorded but notifies nobody.
func (e Event) IsCourseCompletion() bool {
	return e.Event == TypeCourseCompletion || e.Event == TypeCourseComplete
}

// LearnerName is the learner's full name as every sink shows it (see
// Clean), or their email address when nothing visible is left of the name,
// so a certificate, an email or a Slack notice is never addressed to nobody.
// A first name of " " and a last name of a zero-width space count as no name.
func (e Event) LearnerName() string {
	var first, last string
	if e.UserDetail != nil {
		first, last = e.UserDetail.FirstName, e.UserDetail.LastName
	}
	if name := Clean(first + " " + last); name != "" {
		return name
	}
	return e.User
}

// Clean returns s as coursehook's sinks show it: every kind of whitespace,
// line breaks included, folded into single spaces, trimmed, and characters
// that draw nothing dropped (controls, zero-width and bidi format
// characters, private-use and unassigned code points). Validation and every
// sink use it, so a value that is empty once cleaned is treated as absent
// everywhere rather than accepted here and refused by the certificate later.
func Clean(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case !unicode.IsGraphic(r):
		default:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// LearnerHash stands for the learner wherever their email address must not
// appear: in log lines and in the LearnerHash search attribute, which
// Temporal stores unencrypted. It is the HMAC-SHA-256 of the lower-cased
// email under key, cut to 128 bits (32 hex digits): the same learner gets the
// same value in a log line and in the UI, and without the key nobody can
// find a learner by hashing a list of addresses. It is empty when the event
// names no learner.
func (e Event) LearnerHash(key []byte) string {
	if e.User == "" {
		return ""
	}
	return LearnerHash(key, e.User)
}

// LearnerHash is the hash of one email address under key, for an operator who
// has the address and looks for the learner's events.
func LearnerHash(key []byte, email string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(EmailKey(email)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// EmailKey is coursehook's one rule for when two addresses are the same
// learner: equal once trimmed and lower-cased (Unicode, as Go folds it). The
// store keeps it beside each completion and finds learners by it, the
// re-completion lookup compares it, and the learner hash and the Open Badges
// identity hash are taken over it, so none of them disagree about who a
// learner is. The domain is case-insensitive by RFC 5321; the local part
// may not be, but no mail provider in use treats it so, and a platform
// that changes an address's case must not make a learner someone new.
func EmailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// CompletedAt is the event's timestamp, or the zero time when the platform
// sent none (or sent the zero instant itself). Parse has already checked it.
func (e Event) CompletedAt() time.Time {
	t, err := time.Parse(time.RFC3339Nano, e.Timestamp)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// CompletionTime is the date a certificate and the notices give the
// completion: the event's timestamp, or, when it has none, receivedAt, the
// moment coursehook accepted the event. The platform sends the timestamp in
// every sample, but its documentation does not promise it, and refusing an
// event for want of it would lose the completion after the platform's
// retries; the time of receipt is at most seconds away from the truth.
func (e Event) CompletionTime(receivedAt time.Time) time.Time {
	if t := e.CompletedAt(); !t.IsZero() {
		return t
	}
	return receivedAt.UTC()
}

// Brief is the part of e that coursehook reads, and so what travels through
// the workflow beside the raw body: the fields validation bounds, with the
// timestamp in its canonical form. Everything else stays in the raw body only,
// so a large body is carried once and never twice. For an event coursehook
// ignores, whose fields are not checked, only the id and the event type (cut
// to MaxIDLength) are kept.
func (e Event) Brief() Event {
	if !e.IsCourseCompletion() {
		// The type is not checked either: invisible and control characters
		// become U+FFFD rather than vanish, so the recorded type can never
		// turn into a course completion, and PostgreSQL, which refuses NUL
		// in text, can always store it.
		return Event{ID: e.ID, Event: cut(strings.Map(visibleOrReplacement, e.Event), MaxIDLength)}
	}
	b := Event{
		ID:           e.ID,
		Event:        e.Event,
		User:         e.User,
		CompanyID:    e.CompanyID,
		NotifiableID: e.NotifiableID,
		Title:        e.Title,
	}
	if t := e.CompletedAt(); !t.IsZero() {
		b.Timestamp = t.Format(time.RFC3339Nano)
	}
	if d := e.UserDetail; d != nil {
		b.UserDetail = &UserDetail{ID: d.ID, FirstName: d.FirstName, LastName: d.LastName, ExternalCustomerID: d.ExternalCustomerID}
	}
	return b
}

func visibleOrReplacement(r rune) rune {
	if unicode.IsGraphic(r) {
		return r
	}
	return unicode.ReplacementChar
}

// cut keeps the first n runes of s.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// Problem is one thing wrong with a payload, named by its JSON path.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every problem found, so the sender can fix them all
// at once instead of one per attempt.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid event: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(field, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Parse decodes and validates one webhook body. A *ValidationError describes
// everything wrong with it. Course completions must carry what the
// certificate and the notices need; any other event only needs its id, since
// it is merely recorded. Before decoding, the body must be valid UTF-8, one
// JSON object, nested at most MaxDepth deep and without a repeated key.
func Parse(body []byte) (Event, error) {
	var e Event
	if err := decode(body, &e); err != nil {
		return Event{}, err
	}
	v := &ValidationError{}
	checkText(v, "id", e.ID, MaxIDLength, true)
	if e.IsCourseCompletion() {
		validateCompletion(v, e)
	}
	if len(v.Problems) > 0 {
		return Event{}, v
	}
	return e, nil
}

func decode(body []byte, e *Event) error {
	if !utf8.Valid(body) {
		return &ValidationError{Problems: []Problem{{Field: "body", Message: "is not valid UTF-8"}}}
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return &ValidationError{Problems: []Problem{{Field: "body", Message: "is empty; send one JSON object"}}}
	}
	if trimmed[0] != '{' {
		return &ValidationError{Problems: []Problem{{Field: "body", Message: "must be a JSON object"}}}
	}
	if p := scan(trimmed); p != nil {
		return &ValidationError{Problems: []Problem{*p}}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(e); err != nil {
		return &ValidationError{Problems: []Problem{decodeProblem(err)}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &ValidationError{Problems: []Problem{{Field: "body", Message: "has data after the JSON object; send exactly one object"}}}
	}
	return nil
}

func decodeProblem(err error) Problem {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return Problem{Field: field, Message: fmt.Sprintf("must be a %s, not a JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)}
	case errors.As(err, &syntaxErr):
		return Problem{Field: "body", Message: fmt.Sprintf("is not valid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Problem{Field: "body", Message: "is not valid JSON: it ends too early"}
	default:
		return Problem{Field: "body", Message: "is not valid JSON: " + err.Error()}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "ptr", "struct":
		return "object"
	default:
		return goKind
	}
}

func validateCompletion(v *ValidationError, e Event) {
	checkEmail(v, "user", e.User)
	checkText(v, "notifiableId", e.NotifiableID, MaxIDLength, true)
	// A line break in a course title is odd but harmless once each sink folds
	// it, so only the title tolerates one; names and ids may not carry any.
	checkText(v, "title", lineBreaks.Replace(e.Title), MaxTitleLength, true)
	checkText(v, "companyId", e.CompanyID, MaxIDLength, false)
	if e.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
			v.add("timestamp", "must be an RFC 3339 time such as 2019-10-17T20:50:53.103Z")
		}
	}
	if d := e.UserDetail; d != nil {
		checkText(v, "userDetail.firstName", d.FirstName, MaxNameLength, false)
		checkText(v, "userDetail.lastName", d.LastName, MaxNameLength, false)
		checkText(v, "userDetail.id", d.ID, MaxIDLength, false)
		checkText(v, "userDetail.externalCustomerId", d.ExternalCustomerID, MaxIDLength, false)
	}
}

// checkText reports a missing, over-long or control-character-bearing value.
// It returns whether the value is present and sound, so callers can run
// further checks only on text worth checking.
//
// A value with nothing visible in it (only spaces and zero-width or other
// invisible characters) counts as missing: every sink cleans it to nothing.
// checkEmail holds an address to the rule of the event's user: one plain
// address, without a display name, of bounded length.
func checkEmail(v *ValidationError, field, addr string) {
	if checkText(v, field, addr, MaxEmailLength, true) {
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			v.add(field, "must be the learner's email address, like name@example.org")
		}
	}
}

// CheckEmail says what is wrong with addr as a learner's address, by the
// rule the webhook holds the event's user to, or nil: a corrected address
// an operator gives is checked alike.
func CheckEmail(addr string) error {
	var v ValidationError
	checkEmail(&v, "address", addr)
	if len(v.Problems) > 0 {
		return fmt.Errorf("%q %s", addr, v.Problems[0].Message)
	}
	return nil
}

func checkText(v *ValidationError, field, value string, maxLen int, required bool) bool {
	if strings.TrimSpace(value) == "" {
		if required {
			v.add(field, "is required")
		}
		return false
	}
	if n := utf8.RuneCountInString(value); n > maxLen {
		v.add(field, "is %d characters long; the limit is %d", n, maxLen)
		return false
	}
	if strings.ContainsFunc(value, unicode.IsControl) {
		v.add(field, "must not contain control characters")
		return false
	}
	if Clean(value) == "" {
		if required {
			v.add(field, "is required, and holds only invisible characters")
		}
		return false
	}
	return true
}

var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ", "\t", " ")
