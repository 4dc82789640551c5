// Package onward posts a signed JSON event to a customer's own HTTP endpoint,
// as the Standard Webhooks specification (standardwebhooks.com) describes:
// webhook-id, webhook-timestamp and webhook-signature headers, HMAC-SHA256
// over "id.timestamp.body" with a "whsec_" secret.
//
// The endpoint is chosen by a customer, so the transport is built to be
// pointed at hostile places: it never follows redirects, ignores proxy
// settings, and refuses at dial time to connect to loopback, private,
// link-local and other non-public addresses (unless Options.AllowPrivate).
// Each destination host has its own throttle, so one slow customer cannot
// be flooded and one busy course cannot starve the others' endpoints.
package onward

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"golang.org/x/time/rate"
)

const (
	defaultPerSecond = 10
	defaultTimeout   = 10 * time.Second

	userAgent = "coursehook-webhook/1 (+https://www.standardwebhooks.com)"

	// maxDrain bounds how much of an answer is read only so the connection
	// can be reused; a larger answer costs a new connection, not memory.
	maxDrain = 64 << 10
)

// Options configure a Sender.
type Options struct {
	// PerSecond is the most requests a second sent to one destination host
	// (WEBHOOK_OUT_PER_SECOND); 0 means 10.
	PerSecond float64
	// AllowPrivate turns the dial-time address guard off, so loopback,
	// private and link-local addresses can be reached
	// (WEBHOOK_OUT_ALLOW_PRIVATE). Meant for local tests and stand-ins.
	AllowPrivate bool
	// Timeout bounds one request, from dialling to reading the answer;
	// 0 means 10s.
	Timeout time.Duration
	// Now is the clock for webhook-timestamp and Retry-After dates;
	// nil means time.Now.
	Now func() time.Time
}

// Sender posts signed events. It is safe for concurrent use; make one per
// process so that the per-host throttles and idle connections are shared.
type Sender struct {
	client    *http.Client
	perSecond rate.Limit
	now       func() time.Time

	mu sync.Mutex
	// limiters holds one throttle per destination host. It is never pruned:
	// the hosts are those of the configured courses, a short list.
	limiters map[string]*rate.Limiter
}

// Result is what the destination answered.
type Result struct {
	// StatusCode is the answer's status; 0 when there was none.
	StatusCode int
	// Host is the destination host (lower-case, no port), the key of its
	// throttle.
	Host string
}

// NewSender returns a Sender configured by o.
func NewSender(o Options) *Sender {
	if o.PerSecond <= 0 {
		o.PerSecond = defaultPerSecond
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		// Checking the address the socket is about to connect to, rather
		// than the URL's host, also catches DNS names that resolve (or
		// re-resolve, after the parse-time check) to internal addresses.
		dialer.Control = refuseNonPublic
	}
	transport := &http.Transport{
		// A proxy would make the connection for us, out of the guard's
		// sight, so HTTP_PROXY and friends are ignored on purpose.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		// A custom DialContext turns HTTP/2 off unless asked for.
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    o.Timeout,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &Sender{
		client: &http.Client{
			Transport: transport,
			Timeout:   o.Timeout,
			// A redirect could lead anywhere, including to a scheme or host
			// that CheckURL would refuse; the customer fixes the URL instead.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		perSecond: rate.Limit(o.PerSecond),
		now:       o.Now,
		limiters:  make(map[string]*rate.Limiter),
	}
}

// Send posts body (JSON) to rawURL, signed with secret ("whsec_" and base64),
// with webhook-id msgID, webhook-timestamp now (unix seconds) and
// webhook-signature "v1,<base64 HMAC-SHA256 of msgID.timestamp.body>".
// The caller keeps msgID the same across retries of one event so that the
// receiver can recognise a repeat; the timestamp is new on every attempt, as
// the specification asks.
//
// Send first waits for the destination host's throttle. Every error it
// returns is an *Error saying whether a retry can help; the Result carries
// the host and any status even then.
func (s *Sender) Send(ctx context.Context, rawURL, secret, msgID string, body []byte) (Result, error) {
	if err := CheckURL(rawURL); err != nil {
		return Result{}, permanentf("%v", err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return Result{}, permanentf("parse webhook url: %v", err)
	}
	res := Result{Host: hostKey(u)}
	if err := checkMsgID(msgID); err != nil {
		return res, permanentf("%v", err)
	}
	if !json.Valid(body) {
		return res, permanentf("webhook body is not valid JSON")
	}
	if err := CheckSecret(secret); err != nil {
		return res, permanentf("%v", err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return res, permanentf("webhook secret: %v", err)
	}

	if err := s.limiter(res.Host).Wait(ctx); err != nil {
		return res, &Error{
			Message: sanitize("waiting for the throttle of " + res.Host + ": " + err.Error()),
			// rate.Wait words a too-near deadline its own way; a cancelled
			// context is reported as itself so callers can errors.Is it.
			err: cmp.Or(ctx.Err(), err),
		}
	}

	// Stamped after the throttle: the timestamp is the attempt's, and a
	// receiver enforcing the specification's tolerance would refuse one
	// that had aged in our queue.
	sentAt := s.now()
	signature, err := wh.Sign(msgID, sentAt, body)
	if err != nil {
		return res, permanentf("sign webhook: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return res, permanentf("build webhook request: %v", unwrapURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(standardwebhooks.HeaderWebhookID, msgID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(sentAt.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, signature)

	resp, err := s.client.Do(req)
	if err != nil {
		return res, transportError(ctx, err)
	}
	defer resp.Body.Close()
	res.StatusCode = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		return res, nil
	}
	e := classify(resp, s.now())
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	return res, e
}

// limiter returns host's throttle, making it on first use.
func (s *Sender) limiter(host string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.limiters[host]
	if !ok {
		// A burst of one spaces requests evenly instead of letting a queue
		// of events land on the customer all at once.
		lim = rate.NewLimiter(s.perSecond, 1)
		s.limiters[host] = lim
	}
	return lim
}

// transportError classifies a request that got no answer.
func transportError(ctx context.Context, err error) *Error {
	var refused *refusedAddrError
	if errors.As(err, &refused) {
		return &Error{Permanent: true, Message: sanitize(refused.Error()), err: refused}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &Error{Message: sanitize("cancelled before an answer: " + ctxErr.Error()), err: ctxErr}
	}
	// The url.Error's text repeats the URL, whose query may carry a
	// customer's token; the message keeps only the cause.
	cause := unwrapURLError(err)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Message: sanitize("no answer in time: " + cause.Error()), err: cause}
	}
	return &Error{Message: sanitize("connection failed: " + cause.Error()), err: cause}
}

// hostKey is the throttle's key for u: one per host name, whatever the port
// or the case, since ports of one host usually share a machine.
func hostKey(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// checkMsgID refuses ids that would make the signed content ambiguous (the
// specification forbids "." in them) or that cannot be sent as a header.
func checkMsgID(id string) error {
	if id == "" {
		return errors.New("webhook message id is empty")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c == '.' || c <= ' ' || c >= 0x7f {
			return fmt.Errorf("webhook message id %q: only printable ASCII without '.' or spaces", id)
		}
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
