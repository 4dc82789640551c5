package slacknotify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/slacktest"
)

const testToken = "xoxb-test-token"

func TestClientPost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		apiURL func(srv *slacktest.Server) string
	}{
		{"with trailing slash", func(srv *slacktest.Server) string { return srv.URL() }},
		{"without trailing slash", func(srv *slacktest.Server) string { return strings.TrimSuffix(srv.URL(), "/") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			c := New(testToken, "#business", tt.apiURL(srv), nil)
			n := sampleNotice()
			n.LearnerName = "<!channel> Bob & Co"

			got, err := c.Post(t.Context(), n)
			require.NoError(t, err)

			msgs := srv.WaitForMessages(t, 1, 5*time.Second)
			require.Len(t, msgs, 1)
			m := msgs[0]
			require.Equal(t, Receipt{Channel: slacktest.ChannelID, TS: m.TS}, got)
			require.Equal(t, testToken, m.Token)
			require.Equal(t, "#business", m.Channel)
			require.Equal(t, "&lt;!channel&gt; Bob &amp; Co completed New Student Orientation (2019-10-17 20:50 UTC)", m.Text)
			require.JSONEq(t, `{"event_type":"course_completion","event_payload":{"event_id":"evt-0001"}}`, string(m.Metadata))

			_, blocks, _ := Message(n)
			want, err := json.Marshal(blocks)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(m.Blocks))
			var sent slack.Blocks
			require.NoError(t, json.Unmarshal(m.Blocks, &sent))
			require.Equal(t, "*Learner*\n&lt;!channel&gt; Bob &amp; Co", sent.BlockSet[1].(*slack.SectionBlock).Fields[0].Text)
			require.Equal(t, 1, srv.Attempts())
		})
	}
}

func TestClientPostFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		failure    slacktest.Failure
		code       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"server error", slacktest.Failure{Status: 500}, "http_500", false, 0},
		{"unavailable", slacktest.Failure{Status: 503}, "http_503", false, 0},
		{"rate limited", slacktest.Failure{Status: 429, RetryAfter: "2"}, "rate_limited", false, 2 * time.Second},
		{"rate limited without Retry-After", slacktest.Failure{Status: 429}, "rate_limited", false, 0},
		{"rate limited with unreadable Retry-After", slacktest.Failure{Status: 429, RetryAfter: "soon"}, "rate_limited", false, 0},
		{"bad request", slacktest.Failure{Status: 400}, "http_400", true, 0},
		{"invalid_auth", slacktest.Failure{Status: 200, SlackError: "invalid_auth"}, "invalid_auth", true, 0},
		{"channel_not_found", slacktest.Failure{SlackError: "channel_not_found"}, "channel_not_found", true, 0},
		{"internal_error", slacktest.Failure{SlackError: "internal_error"}, "internal_error", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			srv.FailNext(1, tt.failure)
			c := New(testToken, "C0123", srv.URL(), nil)

			_, err := c.Post(t.Context(), sampleNotice())
			requireSlackError(t, err, tt.code, tt.permanent, tt.retryAfter)
			require.Contains(t, err.Error(), "evt-0001")
			require.Equal(t, 1, srv.Attempts())
			require.Empty(t, srv.Messages())

			// The failure was scripted once: the retry goes through.
			_, err = c.Post(t.Context(), sampleNotice())
			require.NoError(t, err)
			require.Len(t, srv.Messages(), 1)
		})
	}
}

// TestClientPostRealRejections covers what the stand-in refuses on its own,
// as Slack would, rather than failures scripted into it.
func TestClientPostRealRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, token, channel, code string
	}{
		{"no token", "", "C0123", "not_authed"},
		{"not a slack token", "hunter2", "C0123", "invalid_auth"},
		{"no channel", testToken, "", "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			_, err := New(tt.token, tt.channel, srv.URL(), nil).Post(t.Context(), sampleNotice())
			requireSlackError(t, err, tt.code, true, 0)
			var resp slack.SlackErrorResponse
			require.ErrorAs(t, err, &resp, "slack-go's error stays reachable")
			require.Equal(t, tt.code, resp.Err)
		})
	}
}

func TestClientPostNetworkFailures(t *testing.T) {
	t.Parallel()
	t.Run("closed server", func(t *testing.T) {
		t.Parallel()
		srv := slacktest.NewServer(t)
		c := New(testToken, "C0123", srv.URL(), nil)
		srv.Close()
		_, err := c.Post(t.Context(), sampleNotice())
		requireSlackError(t, err, "network", false, 0)
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		srv := slacktest.NewServer(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := New(testToken, "C0123", srv.URL(), nil).Post(ctx, sampleNotice())
		requireSlackError(t, err, "network", false, 0)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, srv.Attempts())
	})
}

func requireSlackError(t *testing.T, err error, code string, permanent bool, retryAfter time.Duration) {
	t.Helper()
	require.Error(t, err)
	var se *Error
	require.True(t, errors.As(err, &se), "want *Error, got %T: %v", err, err)
	require.Equal(t, code, se.Code, "error: %v", err)
	require.Equal(t, permanent, se.Permanent, "error: %v", err)
	require.Equal(t, retryAfter, se.RetryAfter, "error: %v", err)
}
