// Package slacknotify tells the business team's Slack channel that a learner
// completed a course: it builds the message, posts it with chat.postMessage,
// finds one already posted with conversations.history, and classifies
// failures as retryable or permanent. Outbox writes the same message to a
// file for developers without a Slack token.
//
// The bot token needs chat:write to post, and channels:history (public
// channel) or groups:history (private channel) for Find; without the latter,
// Find fails with missing_scope and a retried activity cannot tell whether
// its notice already went out.
package slacknotify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// defaultTimeout bounds one Web API call when the caller brings no
// http.Client. Slack answers in well under a second; a long hang is a network
// fault, and the activity's retry does better than waiting longer. It stays
// under the activity's 15 s start-to-close timeout, so the client gives up
// and reports a classified error before Temporal abandons the attempt.
const defaultTimeout = 10 * time.Second

// historyPageSize and historyMaxPages bound Find: 200 is the page size Slack
// recommends for conversations.history, and five pages cover the notices of
// a busy channel since a first attempt minutes ago without letting one check
// page through the channel's whole past.
const (
	historyPageSize = 200
	historyMaxPages = 5
)

// Receipt identifies a posted notice: the channel id Slack put it in and the
// message timestamp, which is Slack's id for the message.
type Receipt struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Poster posts a notice. The activity depends on this, so it runs the same
// against Slack (Client) and against files (Outbox).
type Poster interface {
	Post(ctx context.Context, n Notice) (Receipt, error)
}

// Finder looks for a notice already posted for an event, so a retried
// activity can return the first attempt's receipt instead of posting twice.
type Finder interface {
	Find(ctx context.Context, eventID string, since time.Time) (Receipt, bool, error)
}

var (
	_ Poster = (*Client)(nil)
	_ Poster = Outbox{}
	_ Finder = (*Client)(nil)
	_ Finder = Outbox{}
)

// ErrChannelNotID is what Find returns, as it is, when the client was
// configured with a channel name: conversations.history only takes an id, and
// resolving a name would need another scope and a paged channel listing.
var ErrChannelNotID = errors.New("slack channel is a name, not an id: cannot look for an earlier notice")

// Client posts notices to one Slack channel with the Web API.
type Client struct {
	api     *slack.Client
	channel string
	// pageSize and maxPages are historyPageSize and historyMaxPages; tests
	// lower them to reach the cap without posting a thousand messages.
	pageSize, maxPages int
}

// New returns a Client posting to channel (an id such as C0123, or a name,
// though Find needs the id) with a bot token. apiURL is the Web API base,
// such as "https://slack.com/api/"; empty means Slack's. httpClient nil means
// a client with a 10 s timeout, since http.DefaultClient has none.
func New(token, channel, apiURL string, httpClient *http.Client) *Client {
	if apiURL == "" {
		apiURL = slack.APIURL
	}
	// slack-go appends the method name to the URL as it is.
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	if httpClient == nil {
		// A pool of its own: nothing else in the process can close or
		// exhaust this client's connections.
		httpClient = &http.Client{Timeout: defaultTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{
		api:      slack.New(token, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(httpClient)),
		channel:  channel,
		pageSize: historyPageSize,
		maxPages: historyMaxPages,
	}
}

// Post sends n to the channel. A failure is an *Error (reachable with
// errors.As) saying whether a retry can help and when.
//
// Post does not retry and does not check for an earlier copy of the message:
// that is the activity's job, because only it knows whether this is a retry.
func (c *Client) Post(ctx context.Context, n Notice) (Receipt, error) {
	text, blocks, meta := Message(n)
	channel, ts, err := c.api.PostMessageContext(ctx, c.channel,
		slack.MsgOptionText(text, false), // Message already escaped it
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionMetadata(meta),
		// Defence in depth for the fallback text, which is not verbatim:
		// never link names, and never fetch a preview of a URL a learner typed.
		slack.MsgOptionParse(false),
		slack.MsgOptionLinkNames(false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	)
	if err == nil && ts == "" {
		err = errNoTimestamp
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("post notice for event %s: %w", n.EventID, classify(err))
	}
	return Receipt{Channel: channel, TS: ts}, nil
}

// CanFind reports whether Find can run: the channel must be a conversation id
// (C…, G… or D…), which the caller can check without an API call.
func (c *Client) CanFind() bool { return isChannelID(c.channel) }

// Find looks in the channel for a notice already posted for eventID, among
// messages newer than since, and returns its receipt and true when there is
// one. It reads conversations.history newest first with metadata included,
// up to five pages of 200; a zero since searches from the channel's start.
//
// It returns ErrChannelNotID when the channel is not an id. Other failures
// are an *Error, classified as for Post: a bot without channels:history
// (public) or groups:history (private) gets missing_scope, which is
// permanent, and more history since `since` than the page cap reads is
// history_truncated. Either way the caller could not check, which is not the
// same as "not posted".
func (c *Client) Find(ctx context.Context, eventID string, since time.Time) (Receipt, bool, error) {
	if !c.CanFind() {
		return Receipt{}, false, ErrChannelNotID
	}
	params := &slack.GetConversationHistoryParameters{
		ChannelID:          c.channel,
		Oldest:             slackTS(since),
		Limit:              c.pageSize,
		IncludeAllMetadata: true,
	}
	for range c.maxPages {
		resp, err := c.api.GetConversationHistoryContext(ctx, params)
		if err == nil && !resp.Ok {
			err = errNotOK
		}
		if err != nil {
			return Receipt{}, false, fmt.Errorf("find notice for event %s: %w", eventID, classify(err))
		}
		for _, m := range resp.Messages {
			if isNotice(m.Metadata, eventID) {
				return Receipt{Channel: c.channel, TS: m.Timestamp}, true, nil
			}
		}
		next := resp.ResponseMetaData.NextCursor
		if !resp.HasMore || next == "" {
			return Receipt{}, false, nil
		}
		params.Cursor = next
	}
	return Receipt{}, false, fmt.Errorf("find notice for event %s: %w", eventID, classify(errHistoryTruncated))
}

// isNotice reports whether message metadata is that of the notice for
// eventID, as Message writes it.
func isNotice(meta slack.SlackMetadata, eventID string) bool {
	id, ok := meta.EventPayload["event_id"].(string)
	return ok && meta.EventType == MetadataEventType && id == eventID
}

// slackTS renders t as a Slack timestamp, "seconds.micros". Times at or
// before the Unix epoch, the zero time included, mean no lower bound: Slack
// reads an empty oldest as the channel's start.
func slackTS(t time.Time) string {
	if t.UnixMicro() <= 0 {
		return ""
	}
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// isChannelID reports whether s looks like a conversation id: C (public
// channel), G (private channel) or D (direct message) followed by upper-case
// letters and digits. Channel names are lower-case, so the two cannot be
// confused.
func isChannelID(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("CGD", rune(s[0])) {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
