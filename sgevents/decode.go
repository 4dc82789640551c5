package sgevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coursehook/coursehook/delivery"
)

// The event names SendGrid sends in "event", as Event.Type holds them.
const (
	TypeProcessed        = "processed"
	TypeDeferred         = "deferred"
	TypeDelivered        = "delivered"
	TypeBounce           = "bounce"
	TypeDropped          = "dropped"
	TypeSpamReport       = "spamreport"
	TypeOpen             = "open"
	TypeClick            = "click"
	TypeUnsubscribe      = "unsubscribe"
	TypeGroupUnsubscribe = "group_unsubscribe"
	TypeGroupResubscribe = "group_resubscribe"
)

// The custom args coursehook sets on every email. SendGrid copies them into
// each event as top-level keys.
const (
	ArgEventID  = "event_id"
	ArgResendID = "resend_id"
)

// Limits on what is kept from an event. SendGrid's fields are untrusted
// input that ends up in the database, logs and pages; real values are far
// shorter (ids are about 22 to 80 bytes, SMTP responses a line).
const (
	maxIDBytes     = 200
	maxEmailBytes  = 320 // RFC 3696's longest address
	maxReasonRunes = 500
	maxClassRunes  = 100
)

// ErrNotArray means the body is not a JSON array, so it is not an Event
// Webhook post at all (or is cut short).
var ErrNotArray = errors.New("sendgrid event webhook: body is not a JSON array")

// Event is one SendGrid event, reduced to what coursehook uses. Every string
// is valid UTF-8 and capped in length.
type Event struct {
	// ID is SendGrid's sg_event_id, unique per event: the key to drop
	// repeats, since SendGrid retries posts.
	ID string
	// MessageID is sg_message_id; it may be empty, as asynchronous bounces
	// can lack it. MessageKey turns it into the send API's X-Message-Id.
	MessageID string
	// Type is SendGrid's event name as sent, one of the Type constants.
	Type string
	// State is the delivery state the event reports, or "" for engagement
	// and subscription events.
	State delivery.State
	// Engagement is "open" or "click", else "".
	Engagement string
	// Email is the recipient as SendGrid reports it, control characters
	// removed.
	Email string
	// At is when the event happened, from "timestamp"; zero if absent.
	At time.Time
	// EventID and ResendID are coursehook's custom args; empty when absent
	// or not strings.
	EventID, ResendID string
	// Reason is SendGrid's explanation, on one line: "reason" (bounce,
	// dropped), else "response" (deferred, delivered).
	Reason string
	// Classification is, for a bounce, bounce_classification if present
	// else the bounce type ("bounce" or "blocked"); for a deferral,
	// "attempt N"; else "".
	Classification string
	// Raw is the event's JSON exactly as received, for storage.
	Raw json.RawMessage
}

// Matched reports whether the event carries coursehook's event_id custom
// arg, so it belongs to an email coursehook sent.
func (e Event) Matched() bool {
	return e.EventID != ""
}

// Batch is one decoded post.
type Batch struct {
	// Events are the events understood, in the order received, each
	// sg_event_id once.
	Events []Event
	// Unknown counts elements of shapes not understood: not an object, no
	// string sg_event_id or event, an unknown event type, or an id with
	// control characters. They are skipped, not an error, so that a new
	// SendGrid event type does not make SendGrid retry the whole batch.
	Unknown int
	// Duplicates counts elements whose sg_event_id came earlier in the same
	// body; the first is kept.
	Duplicates int
}

// Decode reads an Event Webhook body. It fails, with an error wrapping
// ErrNotArray, only when the body is not a JSON array; elements it does not
// understand are counted in the Batch instead. The error never quotes the
// body.
func Decode(body []byte) (Batch, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return Batch{}, fmt.Errorf("%w: empty body", ErrNotArray)
	}
	if trimmed[0] != '[' {
		return Batch{}, fmt.Errorf("%w: %s", ErrNotArray, jsonKind(trimmed[0]))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return Batch{}, fmt.Errorf("%w: invalid JSON at byte %d", ErrNotArray, syntax.Offset)
		}
		return Batch{}, fmt.Errorf("%w: invalid JSON", ErrNotArray)
	}
	b := Batch{Events: make([]Event, 0, len(elems))}
	seen := make(map[string]struct{}, len(elems))
	for _, raw := range elems {
		ev, ok := decodeEvent(raw)
		if !ok {
			b.Unknown++
			continue
		}
		if _, dup := seen[ev.ID]; dup {
			b.Duplicates++
			continue
		}
		seen[ev.ID] = struct{}{}
		b.Events = append(b.Events, ev)
	}
	return b, nil
}

// jsonKind names the JSON value a byte starts, to say what came instead of
// an array without quoting it.
func jsonKind(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "not JSON"
}

// wireEvent holds the fields read from one element. Each field type accepts
// any JSON value, so a field of an unexpected type never fails the element;
// fields not listed are skipped by encoding/json.
type wireEvent struct {
	SGEventID            jsonString `json:"sg_event_id"`
	SGMessageID          jsonString `json:"sg_message_id"`
	Event                jsonString `json:"event"`
	Email                jsonString `json:"email"`
	Timestamp            jsonTime   `json:"timestamp"`
	EventID              jsonString `json:"event_id"`
	ResendID             jsonString `json:"resend_id"`
	Reason               jsonString `json:"reason"`
	Response             jsonString `json:"response"`
	BounceClassification jsonString `json:"bounce_classification"`
	BounceType           jsonString `json:"type"`
	Attempt              jsonScalar `json:"attempt"`
}

// decodeEvent reads one element; false means Unknown.
func decodeEvent(raw json.RawMessage) (Event, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return Event{}, false
	}
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		return Event{}, false
	}
	if !w.SGEventID.ok || !w.Event.ok {
		return Event{}, false
	}
	state, engagement, known := classify(w.Event.s)
	if !known {
		return Event{}, false
	}
	ev := Event{Type: w.Event.s, State: state, Engagement: engagement, Raw: raw}
	var ok bool
	if ev.ID, ok = cleanID(w.SGEventID); !ok || ev.ID == "" {
		return Event{}, false
	}
	if ev.MessageID, ok = cleanID(w.SGMessageID); !ok {
		return Event{}, false
	}
	if ev.EventID, ok = cleanID(w.EventID); !ok {
		return Event{}, false
	}
	if ev.ResendID, ok = cleanID(w.ResendID); !ok {
		return Event{}, false
	}
	ev.Email = capBytes(strings.TrimSpace(removeControl(w.Email.s)), maxEmailBytes)
	ev.At = w.Timestamp.t
	ev.Reason = oneLine(w.Reason.s, maxReasonRunes)
	if ev.Reason == "" {
		ev.Reason = oneLine(w.Response.s, maxReasonRunes)
	}
	switch ev.Type {
	case TypeBounce:
		ev.Classification = oneLine(w.BounceClassification.s, maxClassRunes)
		if ev.Classification == "" {
			ev.Classification = oneLine(w.BounceType.s, maxClassRunes)
		}
	case TypeDeferred:
		if n := w.Attempt.s; n != "" && len(n) <= 10 && allDigits(n) {
			ev.Classification = "attempt " + n
		}
	}
	return ev, true
}

// classify maps SendGrid's event name to the delivery state or engagement it
// reports; known is false for a name this package does not know.
func classify(typ string) (state delivery.State, engagement string, known bool) {
	switch typ {
	case TypeProcessed:
		return delivery.Processed, "", true
	case TypeDeferred:
		return delivery.Deferred, "", true
	case TypeDelivered:
		return delivery.Delivered, "", true
	case TypeBounce:
		return delivery.Bounced, "", true
	case TypeDropped:
		return delivery.Dropped, "", true
	case TypeSpamReport:
		return delivery.Spam, "", true
	case TypeOpen, TypeClick:
		return "", typ, true
	case TypeUnsubscribe, TypeGroupUnsubscribe, TypeGroupResubscribe:
		return "", "", true
	}
	return "", "", false
}

// cleanID reads an id: absent or not a string is "", an id with a control
// character is refused (ok false), since no SendGrid or coursehook id has
// one and it could forge log lines.
func cleanID(v jsonString) (id string, ok bool) {
	if !v.ok {
		return "", true
	}
	s := strings.TrimSpace(v.s)
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return capBytes(s, maxIDBytes), true
}

// MessageKey returns the X-Message-Id the send API answered with, from an
// event's sg_message_id, so events can be matched to the send that caused
// them when the custom args are missing.
//
// SendGrid builds sg_message_id by appending a server suffix to the
// X-Message-Id, and the suffix has changed over the years:
//
//	14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0      (old; the id has dots)
//	XBg2anf2TqCy6WXKQFhieQ.filter0905p1mdw1-4434-59E0C6FF-3.0
//	LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0
//	56WoYBdESN6RyEn_7bJRKA.recvd-5b6594c664-csn64-1-65A9F4D1-A.0
//
// The rule: the part before the first ".filter" or ".recvd", which keeps the
// dotted old ids whole; failing both, the part before the first '.', because
// current X-Message-Ids are 22 URL-safe base64 characters without dots and
// the next suffix SendGrid invents will most likely start with one; failing
// that, the whole id. Surrounding whitespace is ignored.
func MessageKey(sgMessageID string) string {
	s := strings.TrimSpace(sgMessageID)
	cut := -1
	for _, marker := range []string{".filter", ".recvd"} {
		if i := strings.Index(s, marker); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut < 0 {
		cut = strings.IndexByte(s, '.')
	}
	if cut >= 0 {
		s = s[:cut]
	}
	return s
}

// removeControl drops control characters, for values kept as they are
// otherwise (the email address).
func removeControl(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// oneLine makes free text safe to store, log and show: control characters
// (line breaks included) become spaces, invisible format characters such as
// bidirectional overrides are dropped, runs of spaces shrink to one, and the
// result is capped at max runes.
func oneLine(s string, max int) string {
	var b strings.Builder
	b.Grow(min(len(s), max*utf8.UTFMax))
	n := 0
	space := false
	for _, r := range s {
		switch {
		case unicode.IsControl(r) || unicode.IsSpace(r):
			space = true
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if space && n > 0 {
			if n+1 >= max {
				break
			}
			b.WriteByte(' ')
			n++
		}
		space = false
		if n >= max {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// capBytes cuts s to at most max bytes without splitting a character.
func capBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// jsonString is a JSON string field; a value of any other type (or null)
// leaves it absent rather than failing the element. The string is valid
// UTF-8: encoding/json replaces invalid bytes with U+FFFD.
type jsonString struct {
	s  string
	ok bool
}

func (j *jsonString) UnmarshalJSON(b []byte) error {
	*j = jsonString{}
	if len(b) < 2 || b[0] != '"' {
		return nil
	}
	inner := b[1 : len(b)-1]
	// Most values have no escapes; copying them saves a second decode.
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		*j = jsonString{s: string(inner), ok: true}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil
	}
	*j = jsonString{s: s, ok: true}
	return nil
}

// jsonScalar is a field SendGrid sends as a string or a number, such as
// deferred's "attempt": "5"; it holds the string, or the number's text.
type jsonScalar struct {
	s string
}

func (j *jsonScalar) UnmarshalJSON(b []byte) error {
	*j = jsonScalar{}
	if len(b) == 0 {
		return nil
	}
	if b[0] == '"' {
		var s jsonString
		_ = s.UnmarshalJSON(b)
		j.s = s.s
		return nil
	}
	if b[0] == '-' || (b[0] >= '0' && b[0] <= '9') {
		j.s = string(b)
	}
	return nil
}

// jsonTime is "timestamp": Unix seconds, an integer as SendGrid sends it, a
// number with a fraction or a string of digits tolerated. Anything else, or
// a time before 1970 or after 9999, leaves it zero.
type jsonTime struct {
	t time.Time
}

// maxUnix is the start of year 10000.
const maxUnix = 253402300800

func (j *jsonTime) UnmarshalJSON(b []byte) error {
	*j = jsonTime{}
	var sc jsonScalar
	_ = sc.UnmarshalJSON(b)
	if sc.s == "" {
		return nil
	}
	if n, err := strconv.ParseInt(sc.s, 10, 64); err == nil {
		if n > 0 && n < maxUnix {
			j.t = time.Unix(n, 0).UTC()
		}
		return nil
	}
	f, err := strconv.ParseFloat(sc.s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f >= maxUnix {
		return nil
	}
	sec, frac := math.Modf(f)
	j.t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}
