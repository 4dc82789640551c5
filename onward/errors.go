package onward

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// maxSnippet is how much of a refusing answer's body goes into
	// Error.Message: enough for "invalid signature" or a JSON error, not
	// enough for a whole HTML error page in the logs.
	maxSnippet = 200

	// maxMessage bounds a whole Error.Message, status and snippet included.
	maxMessage = 300

	// maxRetryAfter caps a 429's Retry-After, so that a broken or hostile
	// endpoint cannot park an event for years; the caller's retry policy
	// bounds it further.
	maxRetryAfter = 24 * time.Hour
)

// Error classifies a failed delivery.
type Error struct {
	// StatusCode is the answer's status; 0 when there was no answer (dial
	// error, timeout, refused by the address guard).
	StatusCode int
	// Permanent is true when a retry cannot help: the URL, secret or event
	// is refused, or the endpoint answered a 4xx other than 408 and 429,
	// or a redirect.
	Permanent bool
	// RetryAfter is the wait a 429 asked for in Retry-After (seconds or an
	// HTTP date), else 0.
	RetryAfter time.Duration
	// Message is short and safe to log: the status and at most ~200 bytes
	// of the answer's body, without control characters.
	Message string

	// err is the cause when there is one worth matching (a context error,
	// a dial error).
	err error
}

// Error returns the message, marked when retrying is pointless, because
// that is the first thing an operator reading the log needs to know.
func (e *Error) Error() string {
	if e.Permanent {
		return "webhook delivery failed permanently: " + e.Message
	}
	return "webhook delivery failed: " + e.Message
}

// Unwrap returns the cause, so errors.Is(err, context.Canceled) works.
func (e *Error) Unwrap() error { return e.err }

func permanentf(format string, args ...any) *Error {
	return &Error{Permanent: true, Message: sanitize(fmt.Sprintf(format, args...))}
}

// classify turns a non-2xx answer into an Error. The specification counts
// any non-2xx as a failure; which failures are worth retrying is ours to say.
func classify(resp *http.Response, now time.Time) *Error {
	code := resp.StatusCode
	e := &Error{StatusCode: code}
	status := fmt.Sprintf("status %d %s", code, http.StatusText(code))
	switch {
	case code >= 300 && code <= 399:
		// CheckURL never saw the target (it may be plain http, or another
		// host); the customer should configure the final URL instead.
		e.Permanent = true
		e.Message = status + ": redirects are not followed, configure the final URL"
		return e
	case code == http.StatusTooManyRequests:
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	case code == http.StatusRequestTimeout:
		// The receiver gave up waiting for us; the next attempt may be quicker.
	case code >= 400 && code <= 499:
		// The receiver refused this request (bad signature, unknown path,
		// 410 Gone for an endpoint that was removed): the same request
		// will be refused again.
		e.Permanent = true
	}
	e.Message = status
	if snippet := readSnippet(resp.Body); strings.TrimSpace(snippet) != "" {
		e.Message = sanitize(status + ": " + snippet)
	}
	return e
}

func readSnippet(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, maxSnippet))
	return string(b)
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110, section 10.2.3). Anything else, or a date in the past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// Compared in seconds first: a huge value would overflow Duration.
		if secs >= uint64(maxRetryAfter/time.Second) || err != nil {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, min(t.Sub(now), maxRetryAfter))
	}
	return 0
}

// sanitize makes text from an answer or an error safe for a one-line log:
// control and format characters (newlines, ANSI escapes, bidi overrides)
// and invalid UTF-8 go, runs of space shrink to one, and the result is cut
// to about maxMessage bytes.
func sanitize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > maxMessage {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
