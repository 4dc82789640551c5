package slacknotify

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/coursehook/coursehook/workflows"
	"github.com/slack-go/slack"
)

// MetadataDigestEventType is the event_type of the message metadata attached
// to every digest, whose payload carries the window id. A retried digest
// looks for a message carrying both before posting a second one.
const MetadataDigestEventType = "course_completion_digest"

// MaxDigestNames is how many learner names a digest lists at most, the
// number the digest workflow keeps; the rest are counted in "and N more".
// Ten keep the message short enough to read in a busy channel.
const MaxDigestNames = workflows.MaxDigestNames

// Bounds on the digest's untrusted strings, in characters after escaping.
// The names share one section text of sectionLimit characters: the label,
// ten names of digestNameLimit with their bullet and line break, and the
// "and N more" line for the largest int come to under 2,600, so a digest
// stays valid whatever the caller passes.
const (
	sectionLimit    = 3000
	digestNameLimit = 250
	namesLabel      = "*Learners*\n"
	bullet          = "• "
	hintLabel       = "List them all: "
)

// windowDateLayout and windowTimeLayout render a window that starts and ends
// on one UTC day as "2026-01-02 10:00–10:15 UTC".
const (
	windowDateLayout = "2006-01-02 15:04"
	windowTimeLayout = "15:04"
)

// Digest announces many completions of one course in one message: when a
// cohort completes at once, the completions past a threshold within a time
// window are gathered into one digest per course window instead of one
// notice each, which Slack's rate of about one message per second per
// channel could not carry. It is the workflow's own digest input, so the
// digest posted is the one the workflow decided.
type Digest = workflows.DigestInput

// DigestMessage builds the digest for d: the fallback text, the Block Kit
// blocks and message metadata carrying the window id, so a retry can find the
// digest it already posted.
//
// The blocks are a header ("Course completions: 243 learners"), a section
// with the course, its name when set and the window in UTC, a section
// listing up to MaxDigestNames names and "and N more", and context blocks
// with the list hint and the ids. Every string in d is untrusted and handled
// as in Message: flattened to one line, escaped, cut to the block's limits.
// The hint is code, so its backticks are swapped for look-alikes that cannot
// end the code span. Whatever d holds, the blocks stay inside Block Kit's
// limits and the fallback under 4,000 characters.
func DigestMessage(d Digest) (text string, blocks []slack.Block, meta slack.SlackMetadata) {
	names := d.Names[:min(len(d.Names), MaxDigestNames)]
	count := max(d.Count, len(names))
	learners := formatCount(count) + " learner"
	if count != 1 {
		learners += "s"
	}
	window := formatWindow(d.WindowStart, d.WindowEnd)

	verb, head := " completed ", "Course completions: "
	if d.Kind == workflows.DigestExpiry {
		// The expiry digest: a cohort certified together expires together.
		verb, head = "' certificates expired for ", "Certificates expired: "
		if count == 1 {
			verb = "'s certificate expired for "
		}
	}
	text = learners + verb + value(d.CourseTitle, fallbackValueLimit) + " (" + window + ")"

	fields := []*slack.TextBlockObject{field("Course", d.CourseTitle)}
	if oneLine(d.CourseName) != "" {
		fields = append(fields, field("Course name", d.CourseName))
	}
	fields = append(fields, mrkdwn(fieldLabel("Window")+window))
	blocks = []slack.Block{
		// Only fixed words and a number: nothing a learner typed reaches
		// plain_text, which Slack shows as it is.
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, head+learners, false, false)),
		slack.NewSectionBlock(nil, fields, nil),
	}
	if len(names) > 0 {
		var b strings.Builder
		b.WriteString(namesLabel)
		for i, name := range names {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(bullet + value(name, digestNameLimit))
		}
		if more := count - len(names); more > 0 {
			b.WriteString("\nand " + formatCount(more) + " more")
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(b.String()), nil, nil))
	}
	if hint := codeValue(d.ListHint, contextLimit-length(hintLabel)-2); hint != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(hintLabel+"`"+hint+"`")))
	}
	blocks = append(blocks, slack.NewContextBlock("",
		labelled("Window ID: ", d.WindowID, contextLimit),
		labelled("Course ID: ", d.CourseID, contextLimit),
	))
	meta = slack.SlackMetadata{
		EventType:    MetadataDigestEventType,
		EventPayload: map[string]any{"window_id": d.WindowID},
	}
	return text, blocks, meta
}

// isDigest reports whether message metadata is that of the digest for
// windowID, as DigestMessage writes it.
func isDigest(meta slack.SlackMetadata, windowID string) bool {
	id, ok := meta.EventPayload["window_id"].(string)
	return ok && meta.EventType == MetadataDigestEventType && id == windowID
}

// codeValue turns an untrusted string into the inside of a mrkdwn code span
// of at most limit characters, or "" for a blank one. Mrkdwn has no escape
// for a backtick, and one would end the span and let the rest be formatted,
// so each becomes U+02CB, which looks the same; &, < and > are escaped as
// everywhere, since Slack reads them inside code too.
func codeValue(s string, limit int) string {
	s = strings.ReplaceAll(oneLine(s), "`", "\u02cb")
	return truncate(s, limit, true)
}

// formatCount writes n, which is never negative, with thousands separators,
// "1,234,567", so a large cohort reads at a glance.
func formatCount(n int) string {
	digits := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formatWindow renders a window in UTC, shortened to one date when it starts
// and ends on the same day; an unknown bound is left out.
func formatWindow(start, end time.Time) string {
	switch {
	case start.IsZero() && end.IsZero():
		return emptyText
	case end.IsZero():
		return "from " + completedAt(start)
	case start.IsZero():
		return "until " + completedAt(end)
	}
	start, end = start.UTC(), end.UTC()
	if start.Format(time.DateOnly) == end.Format(time.DateOnly) {
		return start.Format(windowDateLayout) + "–" + end.Format(windowTimeLayout) + " UTC"
	}
	return completedAt(start) + " – " + completedAt(end)
}

// digestFileName is the outbox file name of a window's digest. Window ids
// hold a slash and more that outbox.FileName folds to '_', so two ids could
// share a name; a short hash of the exact id keeps them apart.
func digestFileName(windowID string) string {
	sum := sha256.Sum256([]byte(windowID))
	return windowID + "-" + hex.EncodeToString(sum[:4])
}
