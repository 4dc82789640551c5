package slacknotify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/coursehook/coursehook/outbox"
)

// MetadataReplyEventType is the event_type of the message metadata attached
// to every delivery-problem reply, whose payload carries the event id, the
// resend's id for a resend's email, and the delivery state. A retried reply
// looks for a message carrying the same email's ids before posting again.
const MetadataReplyEventType = "coursehook_delivery_problem"

// The delivery states a Reply words on its own, as SendGrid's events name
// them; any other state is shown as it is.
const (
	stateBounced = "bounced"
	stateDropped = "dropped"
	stateSpam    = "spam"
)

// Bounds on a reply's untrusted strings in the fallback text, in characters
// after escaping. With the fixed words they add up to under 3,800, inside
// fallbackLimit whatever the caller passes. An e-mail address has at most
// 254 characters, so 320 never cuts a real one.
const (
	replyNameLimit    = 300
	replyEmailLimit   = 320
	replyStateLimit   = 50
	replyReasonLimit  = 1000
	replyCommandLimit = 2000
)

// resendLabel heads the resend command in the blocks.
const resendLabel = "*Resend to a corrected address*\n"

// outboxReplyKind is the outbox folder for replies, apart from the notices
// so a reply never replaces its event's notice.
const outboxReplyKind = "slack-reply"

// Reply is a delivery-problem reply in the thread of an event's notice: the
// certificate email of the event (or of one of its resends) bounced, was
// dropped by SendGrid or was reported as spam.
type Reply struct {
	// Channel is the channel of the notice, as its receipt names it; empty
	// means the channel the Client or Outbox was made with.
	Channel string `json:"channel,omitempty"`
	// ThreadTS is the ts of the notice, or of the digest that announced the
	// event; empty posts the reply as a message of its own in Channel.
	ThreadTS string `json:"thread_ts,omitempty"`
	EventID  string `json:"event_id"`
	// ResendID is the request id of the resend whose email failed, empty
	// for the first email.
	ResendID string `json:"resend_id,omitempty"`
	// LearnerName, LearnerEmail and CourseTitle come from the platform and
	// are untrusted.
	LearnerName  string `json:"learner_name"`
	LearnerEmail string `json:"learner_email"`
	CourseTitle  string `json:"course_title"`
	// State is "bounced", "dropped" or "spam".
	State string `json:"state"`
	// Reason is SendGrid's reason or bounce classification, untrusted.
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
	// Command is the operator command that resends the certificate to a
	// corrected address, shown as code; empty shows none.
	Command string `json:"command,omitempty"`
}

// ReplyPoster posts a delivery-problem reply and looks for one an earlier
// attempt posted, so a retried activity posts it once.
type ReplyPoster interface {
	PostReply(ctx context.Context, r Reply) (Receipt, error)
	FindReply(ctx context.Context, r Reply, since time.Time) (Receipt, bool, error)
}

var (
	_ ReplyPoster = (*Client)(nil)
	_ ReplyPoster = Outbox{}
)

// ReplyMessage builds the reply for r: the fallback text, which reads as one
// sentence with the resend command, the Block Kit blocks and message metadata
// carrying the email's ids and state, so a retry can find the reply it
// already posted.
//
// The blocks are a section with a fixed headline for the state, a section
// with the learner, the e-mail address, the course, SendGrid's reason (when
// it gave one) and the time of the event, a section with the resend command
// as a code block, and a context block with the ids. Every untrusted string
// is handled as in Message: flattened to one line, escaped, cut to the
// block's limits, and in a verbatim text object of its own; the address is a
// field like the notice's. The command is code, with its backticks swapped
// as DigestMessage swaps the list hint's. Whatever r holds, the blocks stay
// inside Block Kit's limits and the fallback under 4,000 characters.
func ReplyMessage(r Reply) (text string, blocks []slack.Block, meta slack.SlackMetadata) {
	headline, sentence := replyWording(r.State, replyLearner(r))
	text = ":warning: " + sentence
	if oneLine(r.Reason) != "" {
		text += ": " + value(r.Reason, replyReasonLimit)
	}
	if !strings.HasSuffix(text, ".") && !strings.HasSuffix(text, ellipsis) {
		text += "."
	}
	command := codeValue(r.Command, replyCommandLimit)
	if command != "" {
		text += " Resend to a corrected address: `" + command + "`"
	}

	fields := []*slack.TextBlockObject{
		field("Learner", r.LearnerName),
		field("Email", r.LearnerEmail),
		field("Course", r.CourseTitle),
	}
	if !knownState(r.State) {
		fields = append(fields, field("State", r.State))
	}
	if oneLine(r.Reason) != "" {
		fields = append(fields, field("Reason", r.Reason))
	}
	if !r.At.IsZero() {
		fields = append(fields, mrkdwn(fieldLabel("Reported at")+completedAt(r.At)))
	}
	blocks = []slack.Block{
		// Fixed words only: nothing untrusted shares a text object with
		// markup it could pair with.
		slack.NewSectionBlock(mrkdwn(":warning: *"+headline+"*"), nil, nil),
		slack.NewSectionBlock(nil, fields, nil),
	}
	// The fences and the label leave the command the rest of the section.
	if code := codeValue(r.Command, sectionLimit-length(resendLabel)-6); code != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(resendLabel+"```"+code+"```"), nil, nil))
	}
	ids := []slack.MixedElement{labelled("Event ID: ", r.EventID, contextLimit)}
	if oneLine(r.ResendID) != "" {
		ids = append(ids, labelled("Resend ID: ", r.ResendID, contextLimit))
	}
	blocks = append(blocks, slack.NewContextBlock("", ids...))

	payload := map[string]any{"event_id": r.EventID, "state": r.State}
	if r.ResendID != "" {
		payload["resend_id"] = r.ResendID
	}
	meta = slack.SlackMetadata{EventType: MetadataReplyEventType, EventPayload: payload}
	return text, blocks, meta
}

// replyWording returns the headline of state, fixed words only, and the
// fallback's sentence about who, already escaped.
func replyWording(state, who string) (headline, sentence string) {
	switch state {
	case stateBounced:
		return "Certificate email bounced", "Certificate email bounced for " + who
	case stateDropped:
		return "Certificate email dropped by SendGrid", "Certificate email for " + who + " was dropped by SendGrid"
	case stateSpam:
		return "Certificate email reported as spam", "Certificate email for " + who + " was reported as spam"
	}
	return "Certificate email not delivered", "Certificate email for " + who + " was not delivered (" + value(state, replyStateLimit) + ")"
}

func knownState(state string) bool {
	return state == stateBounced || state == stateDropped || state == stateSpam
}

// replyLearner names the learner in the fallback, "Name (address)", leaving
// out whichever is blank.
func replyLearner(r Reply) string {
	name := truncate(oneLine(r.LearnerName), replyNameLimit, true)
	email := truncate(oneLine(r.LearnerEmail), replyEmailLimit, true)
	switch {
	case name != "" && email != "":
		return name + " (" + email + ")"
	case name != "":
		return name
	case email != "":
		return email
	}
	return "the learner"
}

// isReply reports whether message metadata is that of the reply about the
// email of eventID and resendID (empty for the first email), as ReplyMessage
// writes it. The state does not count: one email gets one reply.
func isReply(meta slack.SlackMetadata, eventID, resendID string) bool {
	if meta.EventType != MetadataReplyEventType {
		return false
	}
	if id, ok := meta.EventPayload["event_id"].(string); !ok || id != eventID {
		return false
	}
	resend, ok := meta.EventPayload["resend_id"]
	if !ok {
		return resendID == ""
	}
	id, ok := resend.(string)
	return ok && id == resendID
}

// replyWhat names the email a reply is about, for errors.
func replyWhat(r Reply) string {
	if r.ResendID == "" {
		return "reply for event " + r.EventID
	}
	return "reply for event " + r.EventID + " resend " + r.ResendID
}

// PostReply sends the reply r to r.Channel, or the client's channel when that
// is empty, in the thread of r.ThreadTS when it is set. Failures are
// classified as for Post, and like Post it does not look for an earlier
// copy: FindReply does.
func (c *Client) PostReply(ctx context.Context, r Reply) (Receipt, error) {
	text, blocks, meta := ReplyMessage(r)
	var thread []slack.MsgOption
	if r.ThreadTS != "" {
		thread = append(thread, slack.MsgOptionTS(r.ThreadTS))
	}
	rec, err := c.post(ctx, c.channelOr(r.Channel), text, blocks, meta, thread...)
	if err != nil {
		return Receipt{}, fmt.Errorf("post %s: %w", replyWhat(r), err)
	}
	return rec, nil
}

// FindReply looks for the reply about r's email among messages newer than
// since, and returns its receipt and true when there is one: in the thread
// of r.ThreadTS with conversations.replies, or, when r.ThreadTS is empty, in
// the channel's history as Find does. It pages with Find's page size and
// cap, and returns the same errors: ErrChannelNotID for a channel name,
// missing_scope without the history scopes, history_truncated past the cap,
// and thread_not_found (permanent) when the thread's parent is gone.
//
// slack-go does not pass on the ok field of a conversations.replies answer,
// so an answer with neither ok nor an error code reads as an empty thread;
// Slack does not send one.
func (c *Client) FindReply(ctx context.Context, r Reply, since time.Time) (Receipt, bool, error) {
	channel := c.channelOr(r.Channel)
	match := func(m slack.SlackMetadata) bool { return isReply(m, r.EventID, r.ResendID) }
	if r.ThreadTS == "" {
		return c.find(ctx, channel, since, replyWhat(r), match)
	}
	return c.findInThread(ctx, channel, r.ThreadTS, since, replyWhat(r), match)
}

// findInThread pages through the replies of the thread threadTS newer than
// since, oldest first, for the first message whose metadata matches, with
// find's bounds and errors.
func (c *Client) findInThread(ctx context.Context, channel, threadTS string, since time.Time, what string, match func(slack.SlackMetadata) bool) (Receipt, bool, error) {
	if !IsChannelID(channel) {
		return Receipt{}, false, ErrChannelNotID
	}
	params := &slack.GetConversationRepliesParameters{
		ChannelID:          channel,
		Timestamp:          threadTS,
		Oldest:             slackTS(since),
		Limit:              c.pageSize,
		IncludeAllMetadata: true,
	}
	return c.search(channel, what+" in thread "+threadTS, match, func(cursor string) ([]slack.Message, bool, string, error) {
		params.Cursor = cursor
		return c.api.GetConversationRepliesContext(ctx, params)
	})
}

// PostReply writes r to Dir/slack-reply/<event id>.json (with
// "-resend-<resend id>" for a resend's email) as the chat.postMessage body,
// thread_ts included, and returns the file's path as the receipt's TS and
// the channel it was for. Writing the same email's reply again replaces its
// file, as a retried activity should.
func (o Outbox) PostReply(ctx context.Context, r Reply) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("write %s: %w", replyWhat(r), err)
	}
	text, blocks, meta := ReplyMessage(r)
	rec, err := o.writeMessage(outboxReplyKind, outbox.MessageName(r.EventID, r.ResendID), outboxMessage{
		Channel: r.Channel, ThreadTS: r.ThreadTS, Text: text, Blocks: blocks, Metadata: meta,
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("write %s: %w", replyWhat(r), err)
	}
	return rec, nil
}

// FindReply reports whether PostReply already wrote the reply about r's email
// to r's channel (empty means the outbox's own), with the receipt it
// returned. since does not apply, and neither does the thread: the file is
// the email's, whichever thread it went in.
func (o Outbox) FindReply(ctx context.Context, r Reply, _ time.Time) (Receipt, bool, error) {
	return o.find(ctx, outboxReplyKind, outbox.MessageName(r.EventID, r.ResendID), o.channelOr(r.Channel), replyWhat(r),
		func(m slack.SlackMetadata) bool { return isReply(m, r.EventID, r.ResendID) })
}
