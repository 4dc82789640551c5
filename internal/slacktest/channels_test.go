package slacktest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

// postDigest posts a message carrying a digest's metadata, as slacknotify
// does, and returns its timestamp.
func postDigest(t *testing.T, api *slack.Client, channel, windowID string) string {
	t.Helper()
	return postWithMetadata(t, api, channel, "digest "+windowID, DigestEventType, "window_id", windowID)
}

// postAll posts one notice per event id to each channel, all at once, and
// returns every post's error joined.
func postAll(ctx context.Context, api *slack.Client, posts map[string][]string) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for ch, ids := range posts {
		for _, id := range ids {
			wg.Go(func() {
				_, _, err := api.PostMessageContext(ctx, ch,
					slack.MsgOptionText("notice "+id, false),
					slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "course_completion", EventPayload: map[string]any{"event_id": id}}),
				)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("post %s to %s: %w", id, ch, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestManyChannels(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	channels := []string{"#business", "C0AAA", "G0BBB", "C0CCC"}
	// More posts per channel than Slack's one a second, all at once: the
	// stand-in takes them all, since no rate limit was set.
	const perChannel = 12
	posts := map[string][]string{}
	for _, ch := range channels {
		for i := range perChannel {
			posts[ch] = append(posts[ch], fmt.Sprintf("%s-%d", ch, i))
		}
	}
	require.NoError(t, postAll(t.Context(), api, posts))

	require.Zero(t, srv.RateLimited())
	require.Equal(t, map[string]int{ChannelID: perChannel, "C0AAA": perChannel, "G0BBB": perChannel, "C0CCC": perChannel}, srv.MessagesPerChannel())
	for _, ch := range channels {
		in := srv.MessagesIn(ch)
		require.Len(t, in, perChannel, ch)
		for _, p := range in {
			require.Equal(t, ch, p.Channel)
		}
	}
	require.Equal(t, srv.MessagesIn("#business"), srv.MessagesIn(ChannelID), "a name stands for ChannelID")
	require.Empty(t, srv.MessagesIn("C0NONE"))

	// Each channel pages through its own history, metadata included.
	for _, ch := range []string{"C0AAA", "G0BBB"} {
		var got []string
		params := slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 5, IncludeAllMetadata: true}
		for {
			resp, err := api.GetConversationHistoryContext(t.Context(), &params)
			require.NoError(t, err)
			for _, m := range resp.Messages {
				require.Equal(t, "course_completion", m.Metadata.EventType)
				id, _ := m.Metadata.EventPayload["event_id"].(string)
				got = append(got, id)
			}
			if !resp.HasMore {
				break
			}
			params.Cursor = resp.ResponseMetaData.NextCursor
		}
		require.Len(t, got, perChannel, ch)
		require.ElementsMatch(t, eventIDsOf(srv.MessagesIn(ch)), got, ch)
	}
}

func eventIDsOf(msgs []Posted) []string {
	var out []string
	for _, p := range msgs {
		id, _ := metadataEventID(p.Metadata)
		out = append(out, id)
	}
	return out
}

func TestRateLimitPerChannelOnlyWhenSet(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	for range 5 {
		for _, ch := range []string{"C0AAA", "C0BBB"} {
			status, _, _ := rawPost(t, srv, ch)
			require.Equal(t, http.StatusOK, status)
		}
	}
	srv.SetRateLimit(5)
	status, _, _ := rawPost(t, srv, "C0AAA")
	require.Equal(t, http.StatusTooManyRequests, status, "the five posts of the last second count")
	status, _, _ = rawPost(t, srv, "C0CCC")
	require.Equal(t, http.StatusOK, status, "another channel has a window of its own")
	require.Equal(t, map[string]int{"C0AAA": 5, "C0BBB": 5, "C0CCC": 1}, srv.MessagesPerChannel())
}

func TestDigestsFor(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	first := postDigest(t, api, "C0AAA", "course-1/1767348000")
	postDigest(t, api, "C0AAA", "course-1/1767348900")
	postNotice(t, api, "C0AAA", "course-1/1767348000") // a notice whose event id looks like a window id
	_, _, err := api.PostMessageContext(t.Context(), "C0AAA", slack.MsgOptionText("digest", false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "other_app", EventPayload: map[string]any{"window_id": "course-1/1767348000"}}))
	require.NoError(t, err)
	second := postDigest(t, api, "C0BBB", "course-1/1767348000")

	got := srv.DigestsFor("course-1/1767348000")
	require.Len(t, got, 2, "the digests of the window, in any channel, and nothing else")
	require.Equal(t, first, got[0].TS)
	require.Equal(t, "C0AAA", got[0].ChannelID)
	require.Equal(t, second, got[1].TS)
	require.Equal(t, "C0BBB", got[1].ChannelID)
	require.Len(t, srv.DigestsFor("course-1/1767348900"), 1)
	require.Empty(t, srv.DigestsFor("course-2/1767348000"))

	meta, ok := got[0].Meta()
	require.True(t, ok)
	require.Equal(t, Metadata{EventType: DigestEventType, EventPayload: map[string]any{"window_id": "course-1/1767348000"}}, meta)
}

func TestMeta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		want Metadata
		ok   bool
	}{
		{"notice", `{"event_type":"course_completion","event_payload":{"event_id":"e1"}}`, Metadata{EventType: "course_completion", EventPayload: map[string]any{"event_id": "e1"}}, true},
		{"no payload", `{"event_type":"x"}`, Metadata{EventType: "x"}, true},
		{"none", ``, Metadata{}, false},
		{"not an object", `[1]`, Metadata{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p Posted
			if tt.raw != "" {
				p.Metadata = []byte(tt.raw)
			}
			got, ok := p.Meta()
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAddChannels(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))
	params := &slack.GetConversationHistoryParameters{ChannelID: "C0COURSE"}

	_, err := api.GetConversationHistoryContext(t.Context(), params)
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	require.Equal(t, "channel_not_found", se.Err)

	srv.AddChannels("C0COURSE", "G0COURSE")
	resp, err := api.GetConversationHistoryContext(t.Context(), params)
	require.NoError(t, err)
	require.True(t, resp.Ok)
	require.Empty(t, resp.Messages)

	postNotice(t, api, "C0COURSE", "e1")
	resp, err = api.GetConversationHistoryContext(t.Context(), params)
	require.NoError(t, err)
	require.Len(t, resp.Messages, 1)
}

func TestWaitForMessagesIn(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	api := slack.New(token, slack.OptionAPIURL(srv.URL()))

	done := make(chan error, 1)
	go func() {
		done <- postAll(t.Context(), api, map[string][]string{"C0AAA": {"e0", "e2", "e4"}, "#business": {"e1", "e3", "e5"}})
	}()
	in := srv.WaitForMessagesIn(t, "C0AAA", 3, 10*time.Second)
	require.Len(t, in, 3)
	for _, p := range in {
		require.Equal(t, "C0AAA", p.ChannelID)
	}
	require.Len(t, srv.WaitForMessagesIn(t, "#business", 3, 10*time.Second), 3)
	require.NoError(t, <-done)

	rec := &fatalRecorder{TB: t}
	start := time.Now()
	require.Nil(t, srv.WaitForMessagesIn(rec, "C0AAA", 4, 50*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	require.Equal(t, "slacktest: 3 messages in C0AAA after 50ms, want 4 (6 attempts)", rec.failed)
}
