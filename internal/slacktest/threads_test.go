package slacktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

// replies is one page of conversations.replies.
func replies(t *testing.T, api *slack.Client, p slack.GetConversationRepliesParameters) (msgs []slack.Message, more bool, next string) {
	t.Helper()
	if p.ChannelID == "" {
		p.ChannelID = ChannelID
	}
	msgs, more, next, err := api.GetConversationRepliesContext(t.Context(), &p)
	require.NoError(t, err)
	return msgs, more, next
}

func TestThreads(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	parent := postNotice(t, api, "#business", "e1")
	first := post(t, api, "#business", "first", slack.MsgOptionTS(parent),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "reply", EventPayload: map[string]any{"event_id": "e1"}}))
	// A reply to a reply joins the parent's thread, written any way Slack
	// reads a timestamp.
	nested := post(t, api, ChannelID, "nested", slack.MsgOptionTS(strings.TrimRight(first, "0")))
	broadcast := post(t, api, ChannelID, "broadcast", slack.MsgOptionTS(parent), slack.MsgOptionBroadcast())
	orphan := post(t, api, ChannelID, "orphan", slack.MsgOptionTS("1000000000.000001"))
	other := postNotice(t, api, ChannelID, "e2")
	elsewhere := postNotice(t, api, "C9ABC", "e3")
	// The same ts in another channel names no message there.
	stray := post(t, api, "C9ABC", "stray", slack.MsgOptionTS(parent))

	msgs := srv.Messages()
	require.Len(t, msgs, 8)
	threads := map[string]string{}
	broadcasts := map[string]bool{}
	for _, m := range msgs {
		threads[m.Text], broadcasts[m.Text] = m.ThreadTS, m.Broadcast
	}
	require.Equal(t, map[string]string{
		"notice e1": "", "first": parent, "nested": parent, "broadcast": parent,
		"orphan": "1000000000.000001", "notice e2": "", "notice e3": "", "stray": parent,
	}, threads)
	require.Equal(t, map[string]bool{
		"notice e1": false, "first": false, "nested": false, "broadcast": true,
		"orphan": false, "notice e2": false, "notice e3": false, "stray": false,
	}, broadcasts)
	var replied []string
	for _, m := range append(srv.RepliesTo(parent), srv.RepliesTo("1000000000.000001")...) {
		replied = append(replied, m.TS)
	}
	require.Equal(t, []string{first, nested, broadcast, stray, orphan}, replied, "RepliesTo is by ts, whatever the channel")

	t.Run("history lists parents and broadcasts only", func(t *testing.T) {
		resp, err := api.GetConversationHistoryContext(t.Context(), &slack.GetConversationHistoryParameters{ChannelID: ChannelID})
		require.NoError(t, err)
		require.Equal(t, []string{"notice e2", "broadcast", "notice e1"}, texts(resp.Messages))
		top := resp.Messages[2]
		require.Equal(t, parent, top.ThreadTimestamp)
		require.Equal(t, 3, top.ReplyCount)
		require.Equal(t, broadcast, top.LatestReply)
		require.Equal(t, "thread_broadcast", resp.Messages[1].SubType)
		require.Equal(t, parent, resp.Messages[1].ThreadTimestamp)
		require.Empty(t, resp.Messages[0].ThreadTimestamp, "a message without replies is in no thread")
		require.Zero(t, resp.Messages[0].ReplyCount)

		resp, err = api.GetConversationHistoryContext(t.Context(), &slack.GetConversationHistoryParameters{ChannelID: "C9ABC"})
		require.NoError(t, err)
		require.Equal(t, []string{"notice e3"}, texts(resp.Messages))
	})
	t.Run("a thread, parent first", func(t *testing.T) {
		for _, ts := range []string{parent, nested, strings.TrimRight(parent, "0")} {
			msgs, more, next := replies(t, api, slack.GetConversationRepliesParameters{Timestamp: ts})
			require.Equal(t, []string{"notice e1", "first", "nested", "broadcast"}, texts(msgs), "asked for %s", ts)
			require.False(t, more)
			require.Empty(t, next)
			require.Equal(t, parent, msgs[0].ThreadTimestamp)
			require.Equal(t, 3, msgs[0].ReplyCount)
			for _, m := range msgs {
				require.Equal(t, parent, m.ThreadTimestamp)
				require.Empty(t, m.Metadata.EventType, "metadata only when asked")
			}
		}
		msgs, _, _ := replies(t, api, slack.GetConversationRepliesParameters{Timestamp: parent, IncludeAllMetadata: true})
		require.Equal(t, "course_completion", msgs[0].Metadata.EventType)
		require.Equal(t, map[string]any{"event_id": "e1"}, msgs[1].Metadata.EventPayload)
	})
	t.Run("a message without replies is a thread of one", func(t *testing.T) {
		msgs, _, _ := replies(t, api, slack.GetConversationRepliesParameters{Timestamp: other})
		require.Equal(t, []string{"notice e2"}, texts(msgs))
		require.Empty(t, msgs[0].ThreadTimestamp)
		msgs, _, _ = replies(t, api, slack.GetConversationRepliesParameters{ChannelID: "C9ABC", Timestamp: elsewhere})
		require.Equal(t, []string{"notice e3"}, texts(msgs))
	})
	t.Run("bounds leave the parent first", func(t *testing.T) {
		msgs, _, _ := replies(t, api, slack.GetConversationRepliesParameters{Timestamp: parent, Oldest: first})
		require.Equal(t, []string{"notice e1", "nested", "broadcast"}, texts(msgs))
		msgs, _, _ = replies(t, api, slack.GetConversationRepliesParameters{Timestamp: parent, Oldest: first, Inclusive: true})
		require.Equal(t, []string{"notice e1", "first", "nested", "broadcast"}, texts(msgs))
		msgs, _, _ = replies(t, api, slack.GetConversationRepliesParameters{Timestamp: parent, Oldest: first, Latest: broadcast})
		require.Equal(t, []string{"notice e1", "nested"}, texts(msgs))
		msgs, _, _ = replies(t, api, slack.GetConversationRepliesParameters{Timestamp: parent, Oldest: broadcast})
		require.Equal(t, []string{"notice e1"}, texts(msgs))
	})
	t.Run("pages follow the cursor", func(t *testing.T) {
		var pages [][]string
		params := slack.GetConversationRepliesParameters{Timestamp: nested, Limit: 2}
		for range 3 {
			msgs, more, next := replies(t, api, params)
			pages = append(pages, texts(msgs))
			if !more {
				require.Empty(t, next)
				break
			}
			require.NotEmpty(t, next)
			params.Cursor = next
		}
		require.Equal(t, [][]string{{"notice e1", "first"}, {"nested", "broadcast"}}, pages)
	})
	t.Run("an orphan is a thread without its parent", func(t *testing.T) {
		msgs, _, _ := replies(t, api, slack.GetConversationRepliesParameters{Timestamp: orphan})
		require.Equal(t, []string{"orphan"}, texts(msgs))
		require.Equal(t, "1000000000.000001", msgs[0].ThreadTimestamp)
	})
	t.Run("no thread to list", func(t *testing.T) {
		for _, tt := range []struct{ channel, ts string }{
			{ChannelID, "1000000000.000001"}, // the orphan's thread has no parent
			{ChannelID, elsewhere},
			{"C9ABC", parent},
		} {
			_, _, _, err := api.GetConversationRepliesContext(t.Context(), &slack.GetConversationRepliesParameters{ChannelID: tt.channel, Timestamp: tt.ts})
			var se slack.SlackErrorResponse
			require.ErrorAs(t, err, &se, "%s in %s", tt.ts, tt.channel)
			require.Equal(t, "thread_not_found", se.Err)
		}
	})
	require.Equal(t, 16, srv.RepliesCalls())
	require.Len(t, srv.RepliesRequests(), 16)
	require.Equal(t, 2, srv.HistoryCalls())
}

// TestRepliesWireFormat holds conversations.replies to Slack's documented
// answer, asked with a GET, a query and a bearer token as well as with a
// form POST, and the answer of a reply's chat.postMessage.
func TestRepliesWireFormat(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	parent := postNotice(t, api, ChannelID, "e1")

	body := fmt.Sprintf(`{"channel":%q,"thread_ts":%q,"text":"reply","metadata":{"event_type":"reply","event_payload":{"event_id":"e1"}}}`, ChannelID, parent)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"chat.postMessage", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	posted := do(t, req)
	ts, _ := posted["ts"].(string)
	require.Equal(t, map[string]any{"type": "message", "subtype": "bot_message", "bot_id": "B0123", "text": "reply", "ts": ts, "thread_ts": parent,
		"metadata": map[string]any{"event_type": "reply", "event_payload": map[string]any{"event_id": "e1"}}}, posted["message"])
	require.Equal(t, parent, srv.Messages()[1].ThreadTS)
	last := post(t, api, ChannelID, "last", slack.MsgOptionTS(parent))

	query := url.Values{"channel": {ChannelID}, "ts": {parent}, "include_all_metadata": {"true"}, "limit": {"2"}}
	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+"conversations.replies?"+query.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	got, err := json.Marshal(do(t, req))
	require.NoError(t, err)
	var page struct {
		Meta struct {
			Cursor string `json:"next_cursor"`
		} `json:"response_metadata"`
	}
	require.NoError(t, json.Unmarshal(got, &page))
	cursor := page.Meta.Cursor
	require.NotEmpty(t, cursor)
	require.JSONEq(t, fmt.Sprintf(`{"ok":true,"has_more":true,"response_metadata":{"next_cursor":%q},"messages":[
		{"type":"message","subtype":"bot_message","bot_id":"B0123","ts":%q,"text":"notice e1",
		 "thread_ts":%[2]q,"reply_count":2,"latest_reply":%[3]q,
		 "metadata":{"event_type":"course_completion","event_payload":{"event_id":"e1"}}},
		{"type":"message","subtype":"bot_message","bot_id":"B0123","ts":%[4]q,"thread_ts":%[2]q,"text":"reply",
		 "metadata":{"event_type":"reply","event_payload":{"event_id":"e1"}}}]}`, cursor, parent, last, ts), string(got))

	got, err = json.Marshal(postForm(t, srv.URL()+"conversations.replies", url.Values{"token": {token}, "channel": {ChannelID}, "ts": {parent}, "cursor": {cursor}, "limit": {"2"}}))
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(`{"ok":true,"has_more":false,"response_metadata":{"next_cursor":""},"messages":[
		{"type":"message","subtype":"bot_message","bot_id":"B0123","ts":%q,"thread_ts":%q,"text":"last"}]}`, last, parent), string(got))

	require.Equal(t, []url.Values{query, {"token": {token}, "channel": {ChannelID}, "ts": {parent}, "cursor": {cursor}, "limit": {"2"}}}, srv.RepliesRequests())
}

func TestRepliesScopes(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	parent := postNotice(t, api, ChannelID, "e1")
	srv.SetScopes("chat:write")
	post(t, api, ChannelID, "a reply needs chat:write only", slack.MsgOptionTS(parent))

	_, _, _, err := api.GetConversationRepliesContext(t.Context(), &slack.GetConversationRepliesParameters{ChannelID: ChannelID, Timestamp: parent})
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	require.Equal(t, "missing_scope", se.Err)
	require.Equal(t, "channels:history", se.Needed)
	require.Equal(t, "chat:write", se.Provided)

	srv.SetScopes("chat:write", "channels:history")
	msgs, _, _ := replies(t, api, slack.GetConversationRepliesParameters{Timestamp: parent})
	require.Len(t, msgs, 2)
}

func TestFailRepliesNext(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	parent := postNotice(t, api, ChannelID, "e1")
	srv.FailRepliesNext(1, Failure{Status: 503})
	srv.FailRepliesNext(1, Failure{Status: 429, RetryAfter: "2"})
	srv.FailRepliesNext(1, Failure{SlackError: "internal_error"})
	srv.FailHistoryNext(1, Failure{Status: 500})
	params := &slack.GetConversationRepliesParameters{ChannelID: ChannelID, Timestamp: parent}

	_, _, _, err := api.GetConversationRepliesContext(t.Context(), params)
	var status slack.StatusCodeError
	require.ErrorAs(t, err, &status)
	require.Equal(t, 503, status.Code)
	_, _, _, err = api.GetConversationRepliesContext(t.Context(), params)
	var rl *slack.RateLimitedError
	require.True(t, errors.As(err, &rl), "want *slack.RateLimitedError, got %T: %v", err, err)
	require.Equal(t, 2*time.Second, rl.RetryAfter)
	_, _, _, err = api.GetConversationRepliesContext(t.Context(), params)
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	require.Equal(t, "internal_error", se.Err)
	msgs, _, _, err := api.GetConversationRepliesContext(t.Context(), params)
	require.NoError(t, err, "scripted failures are used up, and history's are its own")
	require.Len(t, msgs, 1)

	post(t, api, ChannelID, "replies' failures leave chat.postMessage alone", slack.MsgOptionTS(parent))
	_, err = api.GetConversationHistoryContext(t.Context(), &slack.GetConversationHistoryParameters{ChannelID: ChannelID})
	require.ErrorAs(t, err, &status, "and conversations.history")
	require.Equal(t, 500, status.Code)
	require.Equal(t, 4, srv.RepliesCalls())
	require.Len(t, srv.RepliesRequests(), 4, "failed calls' arguments are kept too")
	require.Equal(t, 2, srv.Attempts())
	require.Equal(t, 1, srv.HistoryCalls())
}

func TestRepliesRateLimited(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	srv.SetRateLimit(1)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	parent := postNotice(t, api, ChannelID, "e1")
	_, _, err := api.PostMessageContext(t.Context(), ChannelID, slack.MsgOptionText("too soon", false), slack.MsgOptionTS(parent))
	var rl *slack.RateLimitedError
	require.True(t, errors.As(err, &rl), "a reply counts towards its channel's limit, got %T: %v", err, err)
	require.Equal(t, 1, srv.RateLimited())
	require.Empty(t, srv.RepliesTo(parent))
}

// TestRepliesBroadcastNeedsThread holds reply_broadcast to a thread: without
// thread_ts Slack ignores it.
func TestRepliesBroadcastNeedsThread(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	got := postForm(t, srv.URL()+"chat.postMessage", url.Values{"token": {token}, "channel": {ChannelID}, "text": {"hi"}, "reply_broadcast": {"true"}})
	require.Equal(t, true, got["ok"])
	require.Equal(t, "bot_message", got["message"].(map[string]any)["subtype"])
	require.False(t, srv.Messages()[0].Broadcast)
}
