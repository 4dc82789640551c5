package slacktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

const token = "xoxb-test"

func TestPostWithSlackGo(t *testing.T) {
	t.Parallel()
	tests := []struct{ channel, wantChannel string }{
		{"#business", ChannelID},
		{"C9ABC", "C9ABC"},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			t.Parallel()
			srv := NewServer(t)
			api := slack.New(token, slack.OptionAPIURL(srv.URL()))
			meta := slack.SlackMetadata{EventType: "course_completion", EventPayload: map[string]any{"event_id": "e1"}}
			header := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Hi", false, false))

			before := time.Now()
			var stamps []string
			for i := range 2 {
				channel, ts, err := api.PostMessageContext(t.Context(), tt.channel,
					slack.MsgOptionText(fmt.Sprintf("hello %d", i), false),
					slack.MsgOptionBlocks(header),
					slack.MsgOptionMetadata(meta),
				)
				require.NoError(t, err)
				require.Equal(t, tt.wantChannel, channel)
				require.Regexp(t, `^\d{10}\.\d{6}$`, ts)
				stamps = append(stamps, ts)
			}
			first, second := requireTS(t, stamps[0]), requireTS(t, stamps[1])
			require.Greater(t, second, first, "timestamps are unique and ordered")
			require.GreaterOrEqual(t, first, before.UnixMicro(), "timestamps come from the clock")

			msgs := srv.Messages()
			require.Len(t, msgs, 2)
			require.Equal(t, tt.channel, msgs[0].Channel)
			require.Equal(t, tt.wantChannel, msgs[0].ChannelID)
			require.Equal(t, stamps, []string{msgs[0].TS, msgs[1].TS})
			require.Equal(t, "hello 0", msgs[0].Text)
			require.Equal(t, "hello 1", msgs[1].Text)
			require.Equal(t, token, msgs[0].Token)
			require.JSONEq(t, `[{"type":"header","text":{"type":"plain_text","text":"Hi","emoji":false}}]`, string(msgs[0].Blocks))
			require.JSONEq(t, `{"event_type":"course_completion","event_payload":{"event_id":"e1"}}`, string(msgs[0].Metadata))
			require.False(t, msgs[0].At.IsZero())
			require.Equal(t, 2, srv.Attempts())
		})
	}
}

func TestPostJSONWithBearer(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	body := `{"channel":"C0123","text":"hi","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}]}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"chat.postMessage", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+token)

	got := do(t, req)
	require.Equal(t, true, got["ok"], "answer: %v", got)
	require.Equal(t, "C0123", got["channel"])
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, msgs[0].TS, got["ts"])
	message, ok := got["message"].(map[string]any)
	require.True(t, ok)
	require.Equal(t, "hi", message["text"])
	require.Equal(t, msgs[0].TS, message["ts"])

	require.Equal(t, token, msgs[0].Token)
	require.Nil(t, msgs[0].Metadata)
}

func TestRejectsLikeSlack(t *testing.T) {
	t.Parallel()
	tooLong := strings.Repeat("x", 151)
	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"no token", url.Values{"channel": {"C1"}, "text": {"hi"}}, "not_authed"},
		{"bad token", url.Values{"token": {"hunter2"}, "channel": {"C1"}, "text": {"hi"}}, "invalid_auth"},
		{"no channel", url.Values{"token": {token}, "text": {"hi"}}, "channel_not_found"},
		{"no text or blocks", url.Values{"token": {token}, "channel": {"C1"}}, "no_text"},
		{"blocks not json", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {"[{"}}, "invalid_blocks_format"},
		{"blocks not a list", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`{"type":"header"}`}}, "invalid_blocks_format"},
		{"block without type", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{}]`}}, "invalid_blocks"},
		{"header too long", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{"type":"header","text":{"type":"plain_text","text":"` + tooLong + `"}}]`}}, "invalid_blocks"},
		{"header in mrkdwn", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{"type":"header","text":{"type":"mrkdwn","text":"x"}}]`}}, "invalid_blocks"},
		{"field too long", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{"type":"section","fields":[{"type":"mrkdwn","text":"` + strings.Repeat("x", 2001) + `"}]}]`}}, "invalid_blocks"},
		{"empty field", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{"type":"section","fields":[{"type":"mrkdwn","text":""}]}]`}}, "invalid_blocks"},
		{"emoji on mrkdwn", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{"type":"section","text":{"type":"mrkdwn","text":"x","emoji":true}}]`}}, "invalid_blocks"},
		{"context text too long", url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{"type":"context","elements":[{"type":"mrkdwn","text":"` + strings.Repeat("x", 3001) + `"}]}]`}}, "invalid_blocks"},
		{"metadata not json", url.Values{"token": {token}, "channel": {"C1"}, "text": {"hi"}, "metadata": {"{"}}, "invalid_metadata_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := NewServer(t)
			got := postForm(t, srv.URL()+"chat.postMessage", tt.form)
			require.Equal(t, false, got["ok"])
			require.Equal(t, tt.want, got["error"], "answer: %v", got)
			require.Empty(t, srv.Messages())
			require.Equal(t, 1, srv.Attempts())
		})
	}
}

func TestInvalidBlocksExplained(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	form := url.Values{"token": {token}, "channel": {"C1"}, "blocks": {`[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("é", 151) + `"}}]`}}
	got := postForm(t, srv.URL()+"chat.postMessage", form)
	require.Equal(t, "invalid_blocks", got["error"])
	require.Equal(t, map[string]any{"messages": []any{"[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]"}}, got["response_metadata"])
}

func TestUnknownMethod(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	got := postForm(t, srv.URL()+"chat.postMessagee", url.Values{"token": {token}})
	require.Equal(t, "unknown_method", got["error"])
	require.Zero(t, srv.Attempts())
}

func TestFailures(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	post := func() error {
		_, _, err := api.PostMessageContext(t.Context(), "C1", slack.MsgOptionText("hi", false))
		return err
	}

	srv.FailNext(1, Failure{Status: 500})
	srv.FailNext(2, Failure{Status: 429, RetryAfter: "2"})
	srv.FailNext(1, Failure{SlackError: "invalid_auth"})

	var status slack.StatusCodeError
	require.ErrorAs(t, post(), &status)
	require.Equal(t, 500, status.Code)
	for range 2 {
		var rl *slack.RateLimitedError
		require.ErrorAs(t, post(), &rl)
		require.Equal(t, 2*time.Second, rl.RetryAfter)
	}
	var slackErr slack.SlackErrorResponse
	require.ErrorAs(t, post(), &slackErr)
	require.Equal(t, "invalid_auth", slackErr.Err)
	require.NoError(t, post(), "scripted failures are used up")

	srv.FailAlways(Failure{Status: 503})
	for range 3 {
		require.ErrorAs(t, post(), &status)
		require.Equal(t, 503, status.Code)
	}
	srv.FailNext(1, Failure{SlackError: "fatal_error"})
	require.ErrorAs(t, post(), &slackErr, "queued failures come before the standing one")
	require.Equal(t, "fatal_error", slackErr.Err)
	require.ErrorAs(t, post(), &status)

	srv.FailAlways(Failure{})
	require.NoError(t, post())

	require.Equal(t, 11, srv.Attempts())
	times := srv.AttemptTimes()
	require.Len(t, times, 11)
	for i := 1; i < len(times); i++ {
		require.False(t, times[i].Before(times[i-1]), "attempt times are in order")
	}
	require.Len(t, srv.Messages(), 2)
}

func TestFailureBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		failure     Failure
		status      int
		retryAfter  string
		contentType string
		error       string
	}{
		{"ok false", Failure{SlackError: "channel_not_found"}, 200, "", "application/json", "channel_not_found"},
		{"ok false default code", Failure{Status: 200}, 200, "", "application/json", "internal_error"},
		{"rate limited", Failure{Status: 429, RetryAfter: "2"}, 429, "2", "application/json", "ratelimited"},
		{"server error", Failure{Status: 502}, 502, "", "text/html", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := NewServer(t)
			srv.FailNext(1, tt.failure)
			resp, err := http.PostForm(srv.URL()+"chat.postMessage", url.Values{"token": {token}, "channel": {"C1"}, "text": {"hi"}})
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
			require.Contains(t, resp.Header.Get("Content-Type"), tt.contentType)
			if tt.error != "" {
				var body map[string]any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				require.Equal(t, map[string]any{"ok": false, "error": tt.error}, body)
			}
		})
	}
}

func TestWaitForMessages(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range 3 {
		wg.Go(func() {
			_, _, err := api.PostMessageContext(t.Context(), "C1", slack.MsgOptionText(fmt.Sprint(i), false))
			errs <- err
		})
	}
	msgs := srv.WaitForMessages(t, 3, 10*time.Second)
	require.Len(t, msgs, 3)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// fatalRecorder stands in for a test so the timeout path can be checked
// without failing this one.
type fatalRecorder struct {
	testing.TB
	failed string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestWaitForMessagesTimesOut(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	rec := &fatalRecorder{TB: t}
	start := time.Now()
	require.Nil(t, srv.WaitForMessages(rec, 1, 50*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	require.Equal(t, "slacktest: 0 messages after 50ms, want 1 (0 attempts)", rec.failed)
}

func TestClose(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	srv.Close()
	srv.Close() // and again from t.Cleanup
	_, err := http.PostForm(srv.URL()+"chat.postMessage", url.Values{"token": {token}})
	require.Error(t, err)
}

func postForm(t *testing.T, endpoint string, form url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) map[string]any {
	t.Helper()
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body
}
