// Package slacknotify tells the business team's Slack channel that a learner
// completed a course: it builds the message, posts it with chat.postMessage,
// and classifies failures as retryable or permanent. Outbox writes the same
// message to a file for developers without a Slack token.
package slacknotify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// defaultTimeout bounds one chat.postMessage call when the caller brings no
// http.Client. Slack answers in well under a second; a minute-long hang is a
// network fault, and the activity's retry does better than waiting longer.
const defaultTimeout = 15 * time.Second

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

var (
	_ Poster = (*Client)(nil)
	_ Poster = Outbox{}
)

// Client posts notices to one Slack channel with the Web API.
type Client struct {
	api     *slack.Client
	channel string
}

// New returns a Client posting to channel (an id such as C0123, or a name)
// with a bot token. apiURL is the Web API base, such as
// "https://slack.com/api/"; empty means Slack's. httpClient nil means a
// client with a timeout, since http.DefaultClient has none.
func New(token, channel, apiURL string, httpClient *http.Client) *Client {
	if apiURL == "" {
		apiURL = slack.APIURL
	}
	// slack-go appends the method name to the URL as it is.
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultTimeout}
	}
	return &Client{
		api:     slack.New(token, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(httpClient)),
		channel: channel,
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
