package slacknotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// The values slack-go itself returns from PostMessageContext.
	var jsonErr error = json.Unmarshal([]byte("<html>"), new(struct{}))
	_, numErr := strconv.ParseInt("soon", 10, 64)
	already := &Error{Code: "invalid_auth", Permanent: true}

	tests := []struct {
		name       string
		err        error
		code       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"rate limited with Retry-After", &slack.RateLimitedError{RetryAfter: 2 * time.Second}, "rate_limited", false, 2 * time.Second},
		{"429 without Retry-After", slack.StatusCodeError{Code: 429, Status: "429 Too Many Requests"}, "rate_limited", false, 0},
		{"429 with unreadable Retry-After", numErr, "rate_limited", false, 0},
		{"500", slack.StatusCodeError{Code: 500, Status: "500 Internal Server Error"}, "http_500", false, 0},
		{"503", slack.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}, "http_503", false, 0},
		{"408", slack.StatusCodeError{Code: 408, Status: "408 Request Timeout"}, "http_408", false, 0},
		{"400", slack.StatusCodeError{Code: 400, Status: "400 Bad Request"}, "http_400", true, 0},
		{"404", slack.StatusCodeError{Code: 404, Status: "404 Not Found"}, "http_404", true, 0},
		{"invalid_auth", slack.SlackErrorResponse{Err: "invalid_auth"}, "invalid_auth", true, 0},
		{"not_authed", slack.SlackErrorResponse{Err: "not_authed"}, "not_authed", true, 0},
		{"token_revoked", slack.SlackErrorResponse{Err: "token_revoked"}, "token_revoked", true, 0},
		{"channel_not_found", slack.SlackErrorResponse{Err: "channel_not_found"}, "channel_not_found", true, 0},
		{"not_in_channel", slack.SlackErrorResponse{Err: "not_in_channel"}, "not_in_channel", true, 0},
		{"is_archived", slack.SlackErrorResponse{Err: "is_archived"}, "is_archived", true, 0},
		{"missing_scope", slack.SlackErrorResponse{Err: "missing_scope", Needed: "chat:write"}, "missing_scope", true, 0},
		{"invalid_blocks", slack.SlackErrorResponse{Err: "invalid_blocks"}, "invalid_blocks", true, 0},
		{"msg_too_long", slack.SlackErrorResponse{Err: "msg_too_long"}, "msg_too_long", true, 0},
		{"ekm_access_denied", slack.SlackErrorResponse{Err: "ekm_access_denied"}, "ekm_access_denied", true, 0},
		{"internal_error", slack.SlackErrorResponse{Err: "internal_error"}, "internal_error", false, 0},
		{"fatal_error", slack.SlackErrorResponse{Err: "fatal_error"}, "fatal_error", false, 0},
		{"ratelimited in body", slack.SlackErrorResponse{Err: "ratelimited"}, "ratelimited", false, 0},
		{"service_unavailable", slack.SlackErrorResponse{Err: "service_unavailable"}, "service_unavailable", false, 0},
		{"unheard-of code", slack.SlackErrorResponse{Err: "something_new"}, "something_new", false, 0},
		{"connection refused", &url.Error{Op: "Post", URL: "http://127.0.0.1:1/api/chat.postMessage", Err: syscall.ECONNREFUSED}, "network", false, 0},
		{"client timeout", &url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, "network", false, 0},
		{"bare deadline", context.DeadlineExceeded, "network", false, 0},
		{"cancelled", context.Canceled, "network", false, 0},
		{"body cut short", io.ErrUnexpectedEOF, "network", false, 0},
		{"html instead of json", jsonErr, "bad_response", false, 0},
		{"empty body", io.EOF, "bad_response", false, 0},
		{"ok false without code", errNoTimestamp, "no_timestamp", false, 0},
		{"history without ok", errNotOK, "bad_response", false, 0},
		{"history past the page cap", errHistoryTruncated, "history_truncated", true, 0},
		{"missing history scope", slack.SlackErrorResponse{Err: "missing_scope", Needed: "channels:history"}, "missing_scope", true, 0},
		{"invalid_cursor", slack.SlackErrorResponse{Err: "invalid_cursor"}, "invalid_cursor", true, 0},
		{"invalid_ts_oldest", slack.SlackErrorResponse{Err: "invalid_ts_oldest"}, "invalid_ts_oldest", true, 0},
		{"anything else", errors.New("boom"), "unknown", false, 0},
		{"wrapped", fmt.Errorf("outer: %w", slack.SlackErrorResponse{Err: "invalid_auth"}), "invalid_auth", true, 0},
		{"already classified", fmt.Errorf("outer: %w", already), "invalid_auth", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := classify(tt.err)
			require.NotNil(t, got)
			require.Equal(t, tt.code, got.Code)
			require.Equal(t, tt.permanent, got.Permanent)
			require.Equal(t, tt.retryAfter, got.RetryAfter)
			if errors.Is(tt.err, already) {
				require.Same(t, already, got)
				return
			}
			require.Equal(t, tt.err, got.Unwrap(), "the cause must stay reachable")
		})
	}
	require.Nil(t, classify(nil))
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"slack code said once", &Error{Code: "invalid_auth", Permanent: true, Err: slack.SlackErrorResponse{Err: "invalid_auth"}}, "slack invalid_auth (permanent)"},
		{"retry after", &Error{Code: "rate_limited", RetryAfter: 2 * time.Second, Err: &slack.RateLimitedError{RetryAfter: 2 * time.Second}}, "slack rate_limited (retry after 2s): slack rate limit exceeded, retry after 2s"},
		{"status", &Error{Code: "http_500", Err: slack.StatusCodeError{Code: 500, Status: "500 Internal Server Error"}}, "slack http_500: slack server error: 500 Internal Server Error"},
		{"no cause", &Error{Code: "unknown"}, "slack unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.err.Error())
		})
	}
}
