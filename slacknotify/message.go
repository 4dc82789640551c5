package slacknotify

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/slack-go/slack"
)

// MetadataEventType is the event_type of the message metadata attached to
// every notice. A retried activity looks for a message carrying it and the
// event id before posting a second one.
const MetadataEventType = "course_completion"

// Block Kit limits, in characters, from Slack's reference pages
// (docs.slack.dev/reference/block-kit): the header block's text, each of a
// section block's fields, and a text object (which is what a context block's
// text element is). A block breaking one of them makes chat.postMessage fail
// with invalid_blocks, which no retry can fix.
const (
	headerLimit  = 150
	fieldLimit   = 2000
	contextLimit = 3000
)

// fallbackLimit bounds the top-level text. chat.postMessage truncates text
// past 40,000 characters and advises staying under 4,000; the fallback is only
// shown in notifications and clients that cannot draw blocks, so the short
// advice is the one that matters.
const fallbackLimit = 4000

// fallbackValueLimit bounds each of the two user strings in the fallback, so
// together with the fixed words they stay well inside fallbackLimit.
const fallbackValueLimit = 1000

const (
	ellipsis  = "…"
	emptyText = "—"
	header    = "Course completed"
	// headerAgain is the header of a re-completion, so the team sees at a
	// glance that this learner finished the course before.
	headerAgain = "Course completed again"
	// timeLayout renders CompletedAt in UTC; the readers are a business team
	// across time zones, so one unambiguous zone beats the server's local one.
	timeLayout = "2006-01-02 15:04 UTC"
)

// Notice is one learner finishing one course, as the business team sees it.
type Notice struct {
	EventID      string    `json:"event_id"`
	LearnerName  string    `json:"learner_name"`
	LearnerEmail string    `json:"learner_email"`
	CourseTitle  string    `json:"course_title"`
	CourseID     string    `json:"course_id"`
	CompanyID    string    `json:"company_id"`
	CompletedAt  time.Time `json:"completed_at"`
	// ResendID is the request id of an operator's resend, empty for the
	// first notice.
	ResendID string `json:"resend_id,omitempty"`
	// Channel is where the notice goes, such as a course's own channel (an
	// id or a name); empty means the channel the Client or Outbox was made
	// with.
	Channel string `json:"channel,omitempty"`
	// CourseName is the operators' own name for the course, shown beside
	// the platform's title when set.
	CourseName string `json:"course_name,omitempty"`
	// PreviousEventID and PreviousCompletedAt describe the learner's earlier
	// completion of the same course, under another event id. Both empty
	// mean this is not a re-completion.
	PreviousEventID     string    `json:"previous_event_id,omitempty"`
	PreviousCompletedAt time.Time `json:"previous_completed_at,omitzero"`
	// Expiry makes the notice the one that says the learner's certificate
	// expired, at ExpiresAt, instead of a completion.
	Expiry    bool      `json:"expiry,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// MetadataExpiryEventType is the event_type of an expiry notice's
// metadata, so nothing that looks for the completion's notice takes it
// for that.
const MetadataExpiryEventType = "certificate_expiry"

// Recompletion reports whether n announces a course the learner had already
// completed under another event, which the notice then says.
func (n Notice) Recompletion() bool {
	return oneLine(n.PreviousEventID) != "" || !n.PreviousCompletedAt.IsZero()
}

// Message builds the notice for n: the fallback text shown in notifications,
// the Block Kit blocks, and message metadata carrying the event id, so a later
// retry can find the message it already posted.
//
// Every string from the webhook is untrusted. It only ever lands in mrkdwn
// text objects, where it is flattened to one line (so it cannot add lines
// that fake a label), cut to the block's limit and escaped, so it cannot
// mention <!channel> or a user, open a <link|label>, or format a date. Those
// objects are verbatim, so Slack does not turn bare URLs, #channel names or
// @-mentions into links either. Mrkdwn has no escape for *, _, ~ and ` , nor
// for a value that begins with > and so shows as a quote; they are left
// alone, because each value sits in a text object of its own, so the worst
// they do is restyle that one value, and swapping them for look-alikes would
// corrupt e-mail addresses and titles the team copies out of the message.
//
// A re-completion gets the header "Course completed again" and, between the
// fields and the ids, a context block saying when and under which event the
// learner completed the course before; its fallback text says so too. A
// CourseName adds a "Course name" field after "Course".
func Message(n Notice) (text string, blocks []slack.Block, meta slack.SlackMetadata) {
	if n.Expiry {
		return expiryMessage(n)
	}
	text = value(n.LearnerName, fallbackValueLimit) + " completed " +
		value(n.CourseTitle, fallbackValueLimit) + " (" + completedAt(n.CompletedAt) + ")"
	if n.Recompletion() {
		text += ". " + recompletionLine(n, fallbackValueLimit)
	}

	fields := noticeFields(n)
	head := header
	if n.Recompletion() {
		head = headerAgain
	}
	blocks = []slack.Block{
		// The header is constant: plain_text is shown as typed, so no user
		// string ever goes there where escaping would not help.
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, head, false, false)),
		slack.NewSectionBlock(nil, fields, nil),
	}
	if n.Recompletion() {
		// The fixed words and the date take under 100 characters; the
		// event id gets the rest of the element's limit.
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(recompletionLine(n, contextLimit-100))))
	}
	blocks = append(blocks, slack.NewContextBlock("",
		labelled("Event ID: ", n.EventID, contextLimit),
		labelled("Course ID: ", n.CourseID, contextLimit),
	))
	meta = slack.SlackMetadata{
		EventType:    MetadataEventType,
		EventPayload: map[string]any{"event_id": n.EventID},
	}
	return text, blocks, meta
}

// noticeFields are the section fields of a notice about n's learner and
// course: who, which course, which company, completed when.
func noticeFields(n Notice) []*slack.TextBlockObject {
	fields := []*slack.TextBlockObject{
		field("Learner", n.LearnerName),
		field("Email", n.LearnerEmail),
		field("Course", n.CourseTitle),
	}
	if oneLine(n.CourseName) != "" {
		fields = append(fields, field("Course name", n.CourseName))
	}
	return append(fields,
		field("Company", n.CompanyID),
		mrkdwn(fieldLabel("Completed at")+completedAt(n.CompletedAt)),
	)
}

// expiryMessage is the notice that a learner's certificate expired, built
// with Message's care for untrusted strings: the team sees who must renew
// which course, and since when.
func expiryMessage(n Notice) (text string, blocks []slack.Block, meta slack.SlackMetadata) {
	text = value(n.LearnerName, fallbackValueLimit) + "'s certificate for " +
		value(n.CourseTitle, fallbackValueLimit) + " expired (" + completedAt(n.ExpiresAt) + ")"
	fields := append(noticeFields(n), mrkdwn(fieldLabel("Expired at")+completedAt(n.ExpiresAt)))
	blocks = []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Certificate expired", false, false)),
		slack.NewSectionBlock(nil, fields, nil),
		slack.NewContextBlock("",
			labelled("Event ID: ", n.EventID, contextLimit),
			labelled("Course ID: ", n.CourseID, contextLimit),
		),
	}
	meta = slack.SlackMetadata{
		EventType:    MetadataExpiryEventType,
		EventPayload: map[string]any{"event_id": n.EventID},
	}
	return text, blocks, meta
}

// recompletionLine says when and under which event the learner completed
// the course before, leaving out whichever of the two is unknown; the event
// id is cut to idLimit characters.
func recompletionLine(n Notice, idLimit int) string {
	s := "Re-completion: earlier completed"
	if !n.PreviousCompletedAt.IsZero() {
		s += " " + completedAt(n.PreviousCompletedAt)
	}
	if oneLine(n.PreviousEventID) != "" {
		s += " (event " + value(n.PreviousEventID, idLimit) + ")"
	}
	return s
}

func fieldLabel(label string) string { return "*" + label + "*\n" }

func field(label, s string) *slack.TextBlockObject {
	return labelled(fieldLabel(label), s, fieldLimit)
}

// labelled puts the user string s after a fixed prefix, leaving s whatever
// room the prefix leaves inside limit.
func labelled(prefix, s string, limit int) *slack.TextBlockObject {
	return mrkdwn(prefix + value(s, limit-length(prefix)))
}

// mrkdwn makes a verbatim mrkdwn text object: verbatim stops Slack from
// linking bare URLs, channel names and mentions in it.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// value turns an untrusted string into inert mrkdwn of at most limit
// characters. Slack rejects an empty text object, so blanks become a dash.
func value(s string, limit int) string {
	v := truncate(oneLine(s), limit, true)
	if v == "" {
		return emptyText
	}
	return v
}

func completedAt(t time.Time) string {
	if t.IsZero() {
		return emptyText
	}
	return t.UTC().Format(timeLayout)
}

// oneLine replaces line breaks and other control characters with spaces and
// drops bidirectional overrides, which could make a value read backwards or
// appear to belong to the text beside it.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\u2028' || r == '\u2029' || unicode.IsControl(r):
			return ' '
		case r == '\u200e' || r == '\u200f' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069'):
			return -1
		}
		return r
	}, s))
}

// Escape makes s inert in Slack mrkdwn by replacing the three characters
// Slack treats as control characters, &, < and >, with their HTML entities.
// Slack's formatting guide asks for exactly these and no others: it decodes
// no other entity, so escaping more would show up as literal "&quot;".
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if e, ok := entity(r); ok {
			b.WriteString(e)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func entity(r rune) (string, bool) {
	switch r {
	case '&':
		return "&amp;", true
	case '<':
		return "&lt;", true
	case '>':
		return "&gt;", true
	}
	return "", false
}

// truncate returns s cut to at most limit characters, on a rune boundary and
// ending in "…" when anything was cut. With escape it returns Escape(s) under
// the same limit, measured after escaping, and cuts only between entities, so
// a value never ends in half an "&amp;".
//
// Slack does not say what it counts as a character, so length counts UTF-16
// code units: never fewer than runes, and what a JavaScript client counts.
func truncate(s string, limit int, escape bool) string {
	if limit <= 0 {
		return ""
	}
	var b strings.Builder
	used := 0
	// fits is the byte length of the longest prefix of b that still leaves
	// room for the ellipsis: where to cut if the rest does not fit.
	fits := 0
	for _, r := range s {
		piece, escaped := entity(r)
		if !escape || !escaped {
			piece = string(r)
		}
		n := length(piece)
		if used+n > limit {
			return strings.TrimRight(b.String()[:fits], " ") + ellipsis
		}
		b.WriteString(piece)
		used += n
		if used+length(ellipsis) <= limit {
			fits = b.Len()
		}
	}
	return b.String()
}

// length counts s in UTF-16 code units; see truncate for why.
func length(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
