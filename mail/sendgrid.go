package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
)

var _ Sender = (*SendGrid)(nil)

// DefaultAPIURL is SendGrid's global API host.
const DefaultAPIURL = "https://api.sendgrid.com"

const sendEndpoint = "/v3/mail/send"

// defaultTimeout bounds one request when the caller brings no client: a PDF
// upload takes seconds, and a hung connection must not hold the activity until
// its own timeout.
const defaultTimeout = 20 * time.Second

// Limits on what an error carries from a response body, so a proxy's HTML
// page does not end up whole in logs and workflow histories.
const (
	maxSnippetRunes = 200
	maxMessageRunes = 1000
)

// SendGrid sends certificate emails through the SendGrid v3 API.
type SendGrid struct {
	// Now is the clock used to turn X-RateLimit-Reset into a wait.
	Now func() time.Time

	apiKey string
	host   string
	from   From
	client *rest.Client
}

// NewSendGrid returns a SendGrid sender. apiURL is the API host without a
// path ("" means DefaultAPIURL); httpClient nil means a client with a timeout.
func NewSendGrid(apiKey, apiURL string, from From, httpClient *http.Client) *SendGrid {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if httpClient == nil {
		// A pool of its own: nothing else in the process can close or
		// exhaust this client's connections.
		httpClient = &http.Client{Timeout: defaultTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &SendGrid{
		Now:    time.Now,
		apiKey: apiKey,
		host:   strings.TrimRight(apiURL, "/"),
		from:   from,
		client: &rest.Client{HTTPClient: httpClient},
	}
}

// Send posts m to /v3/mail/send. A failure is an *Error that says whether a
// retry can succeed.
func (s *SendGrid) Send(ctx context.Context, m Message) (Receipt, error) {
	req := sendgrid.GetRequest(s.apiKey, sendEndpoint, s.host)
	req.Method = rest.Post
	req.Body = sgmail.GetRequestBody(Build(s.from, m))
	resp, err := s.client.SendWithContext(ctx, req)
	if err := s.classify(resp, err); err != nil {
		return Receipt{}, fmt.Errorf("send certificate email for event %s: %w", m.EventID, err)
	}
	return Receipt{MessageID: http.Header(resp.Headers).Get("X-Message-Id")}, nil
}

// Error is a failed send.
type Error struct {
	StatusCode int    // 0 when no response arrived
	Message    string // SendGrid's errors[] joined with "; ", or a short description
	Permanent  bool   // true when sending the same message again cannot succeed
	// RetryAfter is how long SendGrid asked to wait before the next attempt
	// (429 only).
	RetryAfter time.Duration
	Err        error // the transport error, if any
}

// Error describes the failure without the request, which holds the API key.
func (e *Error) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("sendgrid request failed: %s", e.Message)
	}
	return fmt.Sprintf("sendgrid status %d: %s", e.StatusCode, e.Message)
}

// Unwrap returns the transport error.
func (e *Error) Unwrap() error { return e.Err }

// classify is the one place that decides what a SendGrid response means.
// sendgrid-go reports any answered request as success, so the status code is
// checked here; nil means SendGrid accepted the message.
func (s *SendGrid) classify(resp *rest.Response, err error) error {
	// The rest client returns a response together with an error when reading
	// the body failed; an accepted message is still accepted, and retrying it
	// would email the learner twice.
	if resp != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return &Error{Message: truncate(singleLine(err.Error()), maxMessageRunes), Err: err}
	}

	e := &Error{StatusCode: resp.StatusCode, Message: responseMessage(resp), Err: err}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.RetryAfter = s.retryAfter(resp)
	case resp.StatusCode >= 500:
		// SendGrid or something in front of it failed; the message was not
		// accepted and may be next time.
	default:
		// 400 (invalid message), 401/403 (key), 404 (URL), 413 (too large):
		// the same request fails the same way until someone changes it.
		e.Permanent = true
	}
	return e
}

// retryAfter reads X-RateLimit-Reset, the Unix second at which SendGrid's
// rate-limit window reopens, and never asks for less than a second so a
// skewed clock cannot turn a 429 into a tight loop.
func (s *SendGrid) retryAfter(resp *rest.Response) time.Duration {
	const minWait = time.Second
	reset, err := strconv.ParseInt(strings.TrimSpace(http.Header(resp.Headers).Get("X-RateLimit-Reset")), 10, 64)
	if err != nil {
		return minWait
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return max(time.Unix(reset, 0).Sub(now()), minWait)
}

// apiErrors is SendGrid's error body:
// {"errors":[{"message":"...","field":"...","help":null}]}.
type apiErrors struct {
	Errors []struct {
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}

// responseMessage summarises a failed response's body for people reading logs.
func responseMessage(resp *rest.Response) string {
	var body apiErrors
	if json.Unmarshal([]byte(resp.Body), &body) == nil && len(body.Errors) > 0 {
		parts := make([]string, 0, len(body.Errors))
		for _, e := range body.Errors {
			part := e.Message
			if e.Field != "" {
				part = e.Field + ": " + part
			}
			parts = append(parts, part)
		}
		return truncate(singleLine(strings.Join(parts, "; ")), maxMessageRunes)
	}
	if snippet := truncate(singleLine(resp.Body), maxSnippetRunes); snippet != "" {
		return snippet
	}
	if text := http.StatusText(resp.StatusCode); text != "" {
		return strings.ToLower(text)
	}
	return "unexpected status"
}
