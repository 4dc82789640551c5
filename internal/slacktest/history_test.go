package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/standin"
)

// postNotice posts a message carrying eventID in its metadata, as
// slacknotify does, and returns its timestamp.
func postNotice(t *testing.T, api *slack.Client, channel, eventID string) string {
	t.Helper()
	return postWithMetadata(t, api, channel, "notice "+eventID, "course_completion", "event_id", eventID)
}

// postWithMetadata posts text with metadata of eventType whose payload holds
// key: value, and returns the message's timestamp.
func postWithMetadata(t *testing.T, api *slack.Client, channel, text, eventType, key, value string) string {
	t.Helper()
	return post(t, api, channel, text, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: eventType, EventPayload: map[string]any{key: value}}))
}

// post posts text with opts, such as the thread it replies in, and returns
// the message's timestamp.
func post(t *testing.T, api *slack.Client, channel, text string, opts ...slack.MsgOption) string {
	t.Helper()
	_, ts, err := api.PostMessageContext(t.Context(), channel, append([]slack.MsgOption{slack.MsgOptionText(text, false)}, opts...)...)
	require.NoError(t, err)
	return ts
}

func requireTS(t *testing.T, ts string) int64 {
	t.Helper()
	micros, err := parseTS(ts)
	require.NoError(t, err)
	return micros
}

func texts(msgs []slack.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

func TestHistory(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	var stamps []string
	for i := range 4 {
		stamps = append(stamps, postNotice(t, api, "#business", fmt.Sprint("e", i)))
	}
	postNotice(t, api, "C9ABC", "elsewhere")

	history := func(p slack.GetConversationHistoryParameters) *slack.GetConversationHistoryResponse {
		t.Helper()
		resp, err := api.GetConversationHistoryContext(t.Context(), &p)
		require.NoError(t, err)
		require.True(t, resp.Ok)
		return resp
	}

	t.Run("newest first, metadata only when asked", func(t *testing.T) {
		resp := history(slack.GetConversationHistoryParameters{ChannelID: ChannelID})
		require.Equal(t, []string{"notice e3", "notice e2", "notice e1", "notice e0"}, texts(resp.Messages))
		require.False(t, resp.HasMore)
		require.Empty(t, resp.ResponseMetaData.NextCursor)
		require.Equal(t, stamps[3], resp.Messages[0].Timestamp)
		require.Equal(t, "message", resp.Messages[0].Type)
		for _, m := range resp.Messages {
			require.Empty(t, m.Metadata.EventType)
		}

		resp = history(slack.GetConversationHistoryParameters{ChannelID: ChannelID, IncludeAllMetadata: true})
		require.Equal(t, "course_completion", resp.Messages[0].Metadata.EventType)
		require.Equal(t, map[string]any{"event_id": "e3"}, resp.Messages[0].Metadata.EventPayload)
	})
	t.Run("oldest is exclusive unless inclusive", func(t *testing.T) {
		resp := history(slack.GetConversationHistoryParameters{ChannelID: ChannelID, Oldest: stamps[1]})
		require.Equal(t, []string{"notice e3", "notice e2"}, texts(resp.Messages))
		resp = history(slack.GetConversationHistoryParameters{ChannelID: ChannelID, Oldest: stamps[1], Inclusive: true})
		require.Equal(t, []string{"notice e3", "notice e2", "notice e1"}, texts(resp.Messages))
		resp = history(slack.GetConversationHistoryParameters{ChannelID: ChannelID, Latest: stamps[2], Oldest: stamps[0]})
		require.Equal(t, []string{"notice e1"}, texts(resp.Messages))
	})
	t.Run("pages follow the cursor", func(t *testing.T) {
		var got []string
		params := slack.GetConversationHistoryParameters{ChannelID: ChannelID, Limit: 3}
		for range 3 {
			resp := history(params)
			got = append(got, texts(resp.Messages)...)
			if !resp.HasMore {
				break
			}
			require.NotEmpty(t, resp.ResponseMetaData.NextCursor)
			params.Cursor = resp.ResponseMetaData.NextCursor
		}
		require.Equal(t, []string{"notice e3", "notice e2", "notice e1", "notice e0"}, got)
	})
	t.Run("channels are apart", func(t *testing.T) {
		resp := history(slack.GetConversationHistoryParameters{ChannelID: "C9ABC"})
		require.Equal(t, []string{"notice elsewhere"}, texts(resp.Messages))
	})
	require.Equal(t, 8, srv.HistoryCalls())
}

func TestHistoryOfEmptyChannel(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	resp, err := slack.New(token, slack.OptionAPIURL(srv.URL())).GetConversationHistoryContext(t.Context(),
		&slack.GetConversationHistoryParameters{ChannelID: ChannelID})
	require.NoError(t, err)
	require.Empty(t, resp.Messages)
	require.False(t, resp.HasMore)
}

func TestHistoryWireFormat(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	ts := postNotice(t, slack.New(token, slack.OptionAPIURL(srv.URL())), "#business", "e1")

	got := postForm(t, srv.URL()+"conversations.history", url.Values{"token": {token}, "channel": {ChannelID}, "include_all_metadata": {"1"}})
	want := fmt.Sprintf(`{"ok":true,"has_more":false,"pin_count":0,"response_metadata":{"next_cursor":""},
		"messages":[{"type":"message","subtype":"bot_message","bot_id":"B0123","ts":%q,"text":"notice e1",
		"metadata":{"event_type":"course_completion","event_payload":{"event_id":"e1"}}}]}`, ts)
	gotJSON, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, want, string(gotJSON))
}

// TestReadsRejectLikeSlack holds conversations.history and
// conversations.replies to what Slack refuses; replies is asked for the
// thread of a message posted first unless the case names its own ts.
func TestReadsRejectLikeSlack(t *testing.T) {
	t.Parallel()
	const history, replies = "conversations.history", "conversations.replies"
	tests := []struct {
		name   string
		form   url.Values
		scopes []string
		want   string
		// only is the one method the case is for; empty means both.
		only string
	}{
		{"no token", url.Values{"channel": {ChannelID}}, nil, "not_authed", ""},
		{"bad token", url.Values{"token": {"hunter2"}, "channel": {ChannelID}}, nil, "invalid_auth", ""},
		{"channel name", url.Values{"token": {token}, "channel": {"#business"}}, nil, "channel_not_found", ""},
		{"no channel", url.Values{"token": {token}}, nil, "channel_not_found", ""},
		{"unknown channel id", url.Values{"token": {token}, "channel": {"C0999"}}, nil, "channel_not_found", ""},
		{"bad oldest", url.Values{"token": {token}, "channel": {ChannelID}, "oldest": {"yesterday"}}, nil, "invalid_ts_oldest", ""},
		{"bad latest", url.Values{"token": {token}, "channel": {ChannelID}, "latest": {"1.2x"}}, nil, "invalid_ts_latest", ""},
		{"bad cursor", url.Values{"token": {token}, "channel": {ChannelID}, "cursor": {"not a cursor"}}, nil, "invalid_cursor", ""},
		{"bad limit", url.Values{"token": {token}, "channel": {ChannelID}, "limit": {"many"}}, nil, "invalid_limit", ""},
		{"negative limit", url.Values{"token": {token}, "channel": {ChannelID}, "limit": {"-1"}}, nil, "invalid_limit", ""},
		{"no history scope", url.Values{"token": {token}, "channel": {ChannelID}}, []string{"chat:write"}, "missing_scope", ""},
		{"private channel needs groups:history", url.Values{"token": {token}, "channel": {"G0123"}}, []string{"chat:write", "channels:history"}, "missing_scope", ""},
		{"no ts", url.Values{"token": {token}, "channel": {ChannelID}, "ts": {""}}, nil, "thread_not_found", replies},
		{"bad ts", url.Values{"token": {token}, "channel": {ChannelID}, "ts": {"yesterday"}}, nil, "thread_not_found", replies},
		{"unknown ts", url.Values{"token": {token}, "channel": {ChannelID}, "ts": {"1000000000.000001"}}, nil, "thread_not_found", replies},
	}
	for _, tt := range tests {
		for _, method := range []string{history, replies} {
			if tt.only != "" && tt.only != method {
				continue
			}
			t.Run(method+" "+tt.name, func(t *testing.T) {
				t.Parallel()
				srv := NewServer(t)
				parent := postNotice(t, slack.New(token, slack.OptionAPIURL(srv.URL())), ChannelID, "e1")
				if tt.scopes != nil {
					srv.SetScopes(tt.scopes...)
				}
				form := maps.Clone(tt.form)
				if method == replies && !form.Has("ts") {
					form.Set("ts", parent)
				}
				got := postForm(t, srv.URL()+method, form)
				require.Equal(t, false, got["ok"])
				require.Equal(t, tt.want, got["error"], "answer: %v", got)
				calls := map[string]int{history: srv.HistoryCalls(), replies: srv.RepliesCalls()}
				require.Equal(t, 1, calls[method])
				require.Equal(t, 1, calls[history]+calls[replies], "the other method was not called")
				if method == replies {
					require.Equal(t, []url.Values{form}, srv.RepliesRequests())
				}
			})
		}
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	srv.SetScopes("chat:write")

	postNotice(t, api, "#business", "e1")
	_, err := api.GetConversationHistoryContext(t.Context(), &slack.GetConversationHistoryParameters{ChannelID: ChannelID})
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	require.Equal(t, "missing_scope", se.Err)
	require.Equal(t, "channels:history", se.Needed)
	require.Equal(t, "chat:write", se.Provided)

	srv.SetScopes("channels:history")
	_, _, err = api.PostMessageContext(t.Context(), ChannelID, slack.MsgOptionText("hi", false))
	require.ErrorAs(t, err, &se)
	require.Equal(t, "missing_scope", se.Err)
	require.Equal(t, "chat:write", se.Needed)
	resp, err := api.GetConversationHistoryContext(t.Context(), &slack.GetConversationHistoryParameters{ChannelID: ChannelID})
	require.NoError(t, err)
	require.Len(t, resp.Messages, 1)
}

func TestFailHistoryNext(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	srv.FailHistoryNext(1, Failure{Status: 503})
	srv.FailHistoryNext(1, Failure{SlackError: "internal_error"})
	params := &slack.GetConversationHistoryParameters{ChannelID: ChannelID}

	_, err := api.GetConversationHistoryContext(t.Context(), params)
	var status slack.StatusCodeError
	require.ErrorAs(t, err, &status)
	require.Equal(t, 503, status.Code)
	_, err = api.GetConversationHistoryContext(t.Context(), params)
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	require.Equal(t, "internal_error", se.Err)
	_, err = api.GetConversationHistoryContext(t.Context(), params)
	require.NoError(t, err)

	postNotice(t, api, ChannelID, "e1")
	require.Equal(t, 1, srv.Attempts(), "history failures leave chat.postMessage alone")
	require.Equal(t, 3, srv.HistoryCalls())
}

func TestMessagesFor(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	first := postNotice(t, api, "#business", "e1")
	postNotice(t, api, "#business", "e2")
	second := postNotice(t, api, "#business", "e1")
	_, _, err := api.PostMessageContext(t.Context(), "#business", slack.MsgOptionText("no metadata", false))
	require.NoError(t, err)

	dups := srv.MessagesFor("e1")
	require.Len(t, dups, 2)
	require.Equal(t, first, dups[0].TS)
	require.Equal(t, second, dups[1].TS)
	require.Len(t, srv.MessagesFor("e2"), 1)
	require.Empty(t, srv.MessagesFor("e3"))
	require.Empty(t, srv.MessagesFor(""))
}

func TestResponseDelay(t *testing.T) {
	t.Parallel()
	t.Run("recorded before answering", func(t *testing.T) {
		t.Parallel()
		srv := NewServer(t)
		srv.SetResponseDelay(time.Hour)
		impatient := slack.New(token, slack.OptionAPIURL(srv.URL()),
			slack.OptionHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}))

		_, _, err := impatient.PostMessageContext(t.Context(), "#business", slack.MsgOptionText("hi", false))
		var urlErr *url.Error
		require.ErrorAs(t, err, &urlErr)
		require.True(t, urlErr.Timeout(), "want a client timeout, got %v", err)
		msgs := srv.Messages()
		require.Len(t, msgs, 1, "Slack has the message though the client never heard")
		require.NotEmpty(t, msgs[0].TS)
	})
	t.Run("answers after the delay", func(t *testing.T) {
		t.Parallel()
		srv := NewServer(t)
		const delay = 200 * time.Millisecond
		srv.SetResponseDelay(delay)
		api := slack.New(token, slack.OptionAPIURL(srv.URL()))

		start := time.Now()
		_, ts, err := api.PostMessageContext(t.Context(), "#business", slack.MsgOptionText("hi", false))
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), delay)
		require.Equal(t, srv.Messages()[0].TS, ts)

		srv.SetResponseDelay(0)
		start = time.Now()
		postNotice(t, api, "#business", "e1")
		require.Less(t, time.Since(start), delay)
	})
	standin.CheckDelayEndsEarly[Posted](t, NewServer, func(ctx context.Context, srv *Server) error {
		_, _, err := slack.New(token, slack.OptionAPIURL(srv.URL())).PostMessageContext(ctx, "#business", slack.MsgOptionText("hi", false))
		return err
	})
	t.Run("failures are not delayed", func(t *testing.T) {
		t.Parallel()
		srv := NewServer(t)
		srv.SetResponseDelay(time.Hour)
		srv.FailNext(1, Failure{SlackError: "internal_error"})
		_, _, err := slack.New(token, slack.OptionAPIURL(srv.URL())).PostMessageContext(t.Context(), "#business", slack.MsgOptionText("hi", false))
		var se slack.SlackErrorResponse
		require.ErrorAs(t, err, &se)
		require.Empty(t, srv.Messages())
	})
}

// rawPost posts a message with plain HTTP, so the test sees the status and
// Retry-After header as Slack sends them.
func rawPost(t *testing.T, srv *Server, channel string) (status int, retryAfter, slackErr string) {
	t.Helper()
	form := url.Values{"token": {token}, "channel": {channel}, "text": {"hi"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"chat.postMessage", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, resp.Header.Get("Retry-After"), body.Error
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	const limit = 3
	srv.SetRateLimit(limit)

	srv.FailNext(1, Failure{Status: http.StatusTooManyRequests, RetryAfter: "7"})
	status, retryAfter, _ := rawPost(t, srv, "#business")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "7", retryAfter)
	require.Zero(t, srv.RateLimited(), "scripted 429s are not counted")

	var ok, limited int
	for range limit + 5 {
		status, retryAfter, code := rawPost(t, srv, "#business")
		switch status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			require.Equal(t, "1", retryAfter)
			require.Equal(t, "ratelimited", code)
		default:
			t.Fatalf("unexpected status %d", status)
		}
	}
	require.Equal(t, limit, ok)
	require.Equal(t, 5, limited)
	require.Equal(t, 5, srv.RateLimited())
	require.Len(t, srv.Messages(), limit)
	require.Equal(t, 1+limit+5, srv.Attempts(), "rate-limited calls are attempts")

	status, _, _ = rawPost(t, srv, "C9ABC")
	require.Equal(t, http.StatusOK, status, "the limit is per channel")
	status, _, _ = rawPost(t, srv, ChannelID)
	require.Equal(t, http.StatusTooManyRequests, status, "a name and its id are one channel")

	// slack-go reads the answer as Slack's rate limit.
	_, _, err := slack.New(token, slack.OptionAPIURL(srv.URL())).PostMessageContext(t.Context(), "#business", slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	require.True(t, errors.As(err, &rl), "want *slack.RateLimitedError, got %T: %v", err, err)
	require.Equal(t, time.Second, rl.RetryAfter)

	require.Eventually(t, func() bool {
		status, _, _ := rawPost(t, srv, "#business")
		return status == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond, "posting works again once the window has passed")
	require.Len(t, srv.Messages(), limit+2)
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	srv.SetRateLimit(1)
	srv.SetRateLimit(0)
	for range 5 {
		status, _, _ := rawPost(t, srv, "#business")
		require.Equal(t, http.StatusOK, status)
	}
	require.Zero(t, srv.RateLimited())
}

func TestParseTS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1700000000.000100", 1700000000_000100, true},
		{"1700000000", 1700000000_000000, true},
		{"1700000000.5", 1700000000_500000, true},
		{"1700000000.1234567", 1700000000_123456, true},
		{"0", 0, true},
		{"", 0, false},
		{".5", 0, false},
		{"-1", 0, false},
		{"1.-5", 0, false},
		{"1.x", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := parseTS(tt.in)
		if !tt.ok {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
		if tt.want > 0 && strings.Contains(tt.in, ".") && len(tt.in) == 17 {
			require.Equal(t, tt.in, formatTS(got))
		}
	}
}
