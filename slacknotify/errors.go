package slacknotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// Error codes this package gives failures that are not Slack error codes.
// Slack's own codes ("invalid_auth", "channel_not_found", ...) are passed
// through as they are.
const (
	CodeRateLimited = "rate_limited"
	CodeNetwork     = "network"
	CodeBadResponse = "bad_response"
	CodeNoTimestamp = "no_timestamp"
	// CodeHistoryTruncated is Find reaching its page cap without reaching
	// the oldest message it was asked to search.
	CodeHistoryTruncated = "history_truncated"
	CodeUnknown          = "unknown"
)

// Error is a failed post or search, classified so the caller can decide
// whether to retry and when.
type Error struct {
	// Code is Slack's error code ("invalid_auth", "channel_not_found", ...),
	// or "rate_limited", "http_<status>", "network", "bad_response",
	// "no_timestamp", "history_truncated" or "unknown".
	Code string
	// Permanent is true when retrying the same post cannot help.
	Permanent bool
	// RetryAfter is how long Slack asked us to wait, when it said.
	RetryAfter time.Duration
	// Err is the error slack-go returned.
	Err error
}

// Error describes the failure; the code comes first because it is what an
// operator searches Slack's docs for.
func (e *Error) Error() string {
	msg := "slack " + e.Code
	if e.Permanent {
		msg += " (permanent)"
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	// Slack's ok:false errors read as the bare code; saying it twice helps no one.
	if e.Err != nil && e.Err.Error() != e.Code {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the error slack-go returned.
func (e *Error) Unwrap() error { return e.Err }

// permanentCode reports whether a chat.postMessage or conversations.history
// error code describes the token, its scopes, the channel or the request
// itself: sending the same request again gets the same answer, so a retry
// only delays the page to a human. Every other code (internal_error,
// fatal_error, ratelimited, service_unavailable, request_timeout, ...) is
// treated as transient.
func permanentCode(code string) bool {
	switch code {
	case "invalid_auth",
		"not_authed",
		"token_revoked",
		"token_expired",
		"account_inactive",
		"channel_not_found",
		"not_in_channel",
		"is_archived",
		"missing_scope",
		"invalid_blocks",
		"invalid_blocks_format",
		"msg_too_long",
		"no_text",
		"restricted_action",
		"ekm_access_denied",
		"invalid_metadata_format",
		"invalid_metadata_schema",
		"metadata_too_large",
		"not_allowed_token_type",
		"invalid_arguments",
		"invalid_cursor",
		"invalid_ts_latest",
		"invalid_ts_oldest",
		// conversations.replies: the thread's parent is gone.
		"thread_not_found":
		return true
	}
	return false
}

// errNoTimestamp is Slack answering ok:false without an error code:
// slack-go reports no error then, but there is no message either.
var errNoTimestamp = errors.New("slack returned no message timestamp")

// errNotOK is the same for conversations.history: an answer without
// ok:true carries no history to trust, even when slack-go finds no error.
var errNotOK = errors.New("slack answered without ok and without an error code")

// errHistoryTruncated is Find giving up at its page cap. Asking again finds
// the same or more history, so it is permanent.
var errHistoryTruncated = errors.New("more history than the page cap, not all of it searched")

// classify is the one place that turns what slack-go returns from
// chat.postMessage and conversations.history into an *Error. Anything it does not recognise is
// retryable: the activity's retry policy bounds the cost of being wrong, and
// dropping a notice over an unfamiliar error is the worse mistake.
func classify(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if errors.Is(err, errNoTimestamp) {
		return &Error{Code: CodeNoTimestamp, Err: err}
	}
	if errors.Is(err, errHistoryTruncated) {
		return &Error{Code: CodeHistoryTruncated, Permanent: true, Err: err}
	}
	for _, recognise := range []func(error) *Error{rateLimited, badStatus, slackError, network, badResponse} {
		if e := recognise(err); e != nil {
			return e
		}
	}
	return &Error{Code: CodeUnknown, Err: err}
}

// rateLimited recognises a 429. slack-go turns one with a numeric
// Retry-After into *slack.RateLimitedError, and returns strconv's error when
// the header is not a number; parsing Retry-After is the only strconv call
// on the path of either method, so that error means a 429 too.
func rateLimited(err error) *Error {
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return &Error{Code: CodeRateLimited, RetryAfter: rl.RetryAfter, Err: err}
	}
	if _, ok := errors.AsType[*strconv.NumError](err); ok {
		return &Error{Code: CodeRateLimited, Err: err}
	}
	return nil
}

// badStatus recognises any other non-200 answer. Server errors and 408 are
// worth another try; other 4xx mean the request itself is wrong.
func badStatus(err error) *Error {
	sc, ok := errors.AsType[slack.StatusCodeError](err)
	if !ok {
		return nil
	}
	if sc.Code == http.StatusTooManyRequests {
		// A 429 without Retry-After: slack-go leaves it a status error.
		return &Error{Code: CodeRateLimited, Err: err}
	}
	permanent := sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusRequestTimeout
	return &Error{Code: "http_" + strconv.Itoa(sc.Code), Permanent: permanent, Err: err}
}

// slackError recognises an ok:false answer. For both methods slack-go
// returns Slack's code as a slack.SlackErrorResponse, never a plain error.
func slackError(err error) *Error {
	se, ok := errors.AsType[slack.SlackErrorResponse](err)
	if !ok {
		return nil
	}
	return &Error{Code: se.Err, Permanent: permanentCode(se.Err), Err: err}
}

// network recognises failures to reach Slack or to hear back in time. The
// http.Client wraps them all in *url.Error; the other checks catch the same
// causes should they arrive unwrapped, and a body cut short.
func network(err error) *Error {
	_, isURL := errors.AsType[*url.Error](err)
	_, isNet := errors.AsType[net.Error](err)
	if isURL || isNet ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Code: CodeNetwork, Err: err}
	}
	return nil
}

// badResponse recognises a 200 whose body is not Slack's JSON, such as a
// proxy's error page or an empty body, or JSON without ok:true.
func badResponse(err error) *Error {
	_, isSyntax := errors.AsType[*json.SyntaxError](err)
	_, isType := errors.AsType[*json.UnmarshalTypeError](err)
	if isSyntax || isType || errors.Is(err, io.EOF) || errors.Is(err, errNotOK) {
		return &Error{Code: CodeBadResponse, Err: err}
	}
	return nil
}
