// Package slacknotify tells the business team's Slack channel, or a course's
// own, that a learner completed a course, or with a digest that a whole
// cohort did: it builds the messages, posts them with chat.postMessage, finds
// one already posted with conversations.history, and classifies failures as
// retryable or permanent. Outbox writes the same messages to files for
// developers without a Slack token.
//
// The bot token needs chat:write to post, and channels:history (public
// channel) or groups:history (private channel) in every channel it searches
// with Find, FindIn or FindDigest; without it, they fail with missing_scope
// and a retried activity cannot tell whether its message already went out.
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

// ChannelFinder is Finder for a notice posted to a channel of its own, such
// as a course's, rather than the configured one; an empty channel means the
// configured one.
type ChannelFinder interface {
	FindIn(ctx context.Context, channel, eventID string, since time.Time) (Receipt, bool, error)
}

// DigestPoster posts a digest of a course window's completions.
type DigestPoster interface {
	PostDigest(ctx context.Context, d Digest) (Receipt, error)
}

// DigestFinder looks for a digest already posted for a course window, so a
// retried activity can return the first attempt's receipt instead of
// posting twice. An empty channel means the configured one.
type DigestFinder interface {
	FindDigest(ctx context.Context, channel, windowID string, since time.Time) (Receipt, bool, error)
}

var (
	_ Poster        = (*Client)(nil)
	_ Poster        = Outbox{}
	_ Finder        = (*Client)(nil)
	_ Finder        = Outbox{}
	_ ChannelFinder = (*Client)(nil)
	_ ChannelFinder = Outbox{}
	_ DigestPoster  = (*Client)(nil)
	_ DigestPoster  = Outbox{}
	_ DigestFinder  = (*Client)(nil)
	_ DigestFinder  = Outbox{}
)

// ErrChannelNotID is what Find, FindIn and FindDigest return, as it is, when
// the channel they are to search is a name: conversations.history only takes
// an id, and resolving a name would need another scope and a paged channel
// listing.
var ErrChannelNotID = errors.New("slack channel is a name, not an id: cannot look for an earlier notice")

// Client posts notices and digests with the Web API, to the channel it was
// made with or to the one a notice or digest names.
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

// Post sends n to n.Channel, or to the client's channel when that is empty.
// A failure is an *Error (reachable with errors.As) saying whether a retry
// can help and when. The receipt holds the channel id Slack answered with.
//
// Post does not retry and does not check for an earlier copy of the message:
// that is the activity's job, because only it knows whether this is a retry.
func (c *Client) Post(ctx context.Context, n Notice) (Receipt, error) {
	text, blocks, meta := Message(n)
	r, err := c.post(ctx, c.channelOr(n.Channel), text, blocks, meta)
	if err != nil {
		return Receipt{}, fmt.Errorf("post notice for event %s: %w", n.EventID, err)
	}
	return r, nil
}

// PostDigest sends the digest d to d.Channel, or to the client's channel when
// that is empty. Failures are classified as for Post, and like Post it does
// not look for an earlier copy: FindDigest does.
func (c *Client) PostDigest(ctx context.Context, d Digest) (Receipt, error) {
	text, blocks, meta := DigestMessage(d)
	r, err := c.post(ctx, c.channelOr(d.Channel), text, blocks, meta)
	if err != nil {
		return Receipt{}, fmt.Errorf("post digest for window %s: %w", d.WindowID, err)
	}
	return r, nil
}

// post sends one message with chat.postMessage and classifies a failure;
// extra adds options such as a reply's thread.
func (c *Client) post(ctx context.Context, channel, text string, blocks []slack.Block, meta slack.SlackMetadata, extra ...slack.MsgOption) (Receipt, error) {
	channelID, ts, err := c.api.PostMessageContext(ctx, channel, append([]slack.MsgOption{
		slack.MsgOptionText(text, false), // the message builders already escaped it
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionMetadata(meta),
		// Defence in depth for the fallback text, which is not verbatim:
		// never link names, and never fetch a preview of a URL a learner typed.
		slack.MsgOptionParse(false),
		slack.MsgOptionLinkNames(false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}, extra...)...)
	if err == nil && ts == "" {
		err = errNoTimestamp
	}
	if err != nil {
		return Receipt{}, classify(err)
	}
	return Receipt{Channel: channelID, TS: ts}, nil
}

// channelOr returns channel, or the client's own when it is empty.
func (c *Client) channelOr(channel string) string {
	if channel == "" {
		return c.channel
	}
	return channel
}

// CanFind reports whether Find can run: the channel must be a conversation id
// (C…, G… or D…), which the caller can check without an API call.
func (c *Client) CanFind() bool { return IsChannelID(c.channel) }

// CanFindIn reports whether FindIn and FindDigest can search channel, or the
// client's channel when it is empty: it must be a conversation id.
func (c *Client) CanFindIn(channel string) bool { return IsChannelID(c.channelOr(channel)) }

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
	return c.FindIn(ctx, "", eventID, since)
}

// FindIn is Find in another channel, such as the one a notice's Channel
// named; an empty channel means the client's.
func (c *Client) FindIn(ctx context.Context, channel, eventID string, since time.Time) (Receipt, bool, error) {
	return c.find(ctx, c.channelOr(channel), since, "notice for event "+eventID, func(m slack.SlackMetadata) bool { return isNotice(m, eventID) })
}

// FindDigest looks in channel (the client's when empty) for the digest of
// windowID, among messages newer than since, with Find's paging, limits and
// errors. A retried digest calls it before posting, so a digest Slack took
// but whose answer was lost is not posted twice.
func (c *Client) FindDigest(ctx context.Context, channel, windowID string, since time.Time) (Receipt, bool, error) {
	return c.find(ctx, c.channelOr(channel), since, "digest for window "+windowID, func(m slack.SlackMetadata) bool { return isDigest(m, windowID) })
}

// find pages through channel's history newer than since for the newest
// message whose metadata matches. It returns ErrChannelNotID as it is and
// every other failure classified, saying it was looking for what.
func (c *Client) find(ctx context.Context, channel string, since time.Time, what string, match func(slack.SlackMetadata) bool) (Receipt, bool, error) {
	if !IsChannelID(channel) {
		return Receipt{}, false, ErrChannelNotID
	}
	params := &slack.GetConversationHistoryParameters{
		ChannelID:          channel,
		Oldest:             slackTS(since),
		Limit:              c.pageSize,
		IncludeAllMetadata: true,
	}
	return c.search(channel, what, match, func(cursor string) ([]slack.Message, bool, string, error) {
		params.Cursor = cursor
		resp, err := c.api.GetConversationHistoryContext(ctx, params)
		if err == nil && !resp.Ok {
			err = errNotOK
		}
		if err != nil {
			return nil, false, "", err
		}
		return resp.Messages, resp.HasMore, resp.ResponseMetaData.NextCursor, nil
	})
}

// search reads up to maxPages pages of messages, from the page function
// given the cursor ("" first), for one that match accepts: the one paging
// loop of Find, FindIn, FindDigest (conversations.history) and FindReply
// (conversations.replies).
func (c *Client) search(channel, what string, match func(slack.SlackMetadata) bool,
	page func(cursor string) (msgs []slack.Message, more bool, next string, err error)) (Receipt, bool, error) {
	cursor := ""
	for range c.maxPages {
		msgs, more, next, err := page(cursor)
		if err != nil {
			return Receipt{}, false, fmt.Errorf("find %s: %w", what, classify(err))
		}
		for _, m := range msgs {
			if match(m.Metadata) {
				return Receipt{Channel: channel, TS: m.Timestamp}, true, nil
			}
		}
		if !more || next == "" {
			return Receipt{}, false, nil
		}
		cursor = next
	}
	return Receipt{}, false, fmt.Errorf("find %s: %w", what, classify(errHistoryTruncated))
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

// IsChannelID reports whether s looks like a conversation id: C (public
// channel), G (private channel) or D (direct message) followed by upper-case
// letters and digits. Channel names are lower-case, so the two cannot be
// confused. Only a channel given by id can be searched for an earlier post.
func IsChannelID(s string) bool {
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
