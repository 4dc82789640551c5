package slacknotify

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/slacktest"
)

func noticeFor(eventID string) Notice {
	n := sampleNotice()
	n.EventID = eventID
	return n
}

func TestCanFind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		channel string
		want    bool
	}{
		{"C0123", true},
		{"C024BE91L", true},
		{"G0ABC", true},
		{"D0123", true},
		{"#business", false},
		{"business", false},
		{"c0123", false},
		{"C", false},
		{"X0123", false},
		{"C01 23", false},
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, New(testToken, tt.channel, "", nil).CanFind(), "channel %q", tt.channel)
	}
}

func TestClientFind(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	start := time.Now()

	old, err := c.Post(t.Context(), noticeFor("evt-old"))
	require.NoError(t, err)
	since := time.Now()
	posted, err := c.Post(t.Context(), noticeFor("evt-0001"))
	require.NoError(t, err)
	// Another app's message in the channel, with metadata of its own.
	_, _, err = slack.New(testToken, slack.OptionAPIURL(srv.URL())).PostMessageContext(t.Context(), slacktest.ChannelID,
		slack.MsgOptionText("deploy finished", false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "deploy", EventPayload: map[string]any{"event_id": "evt-0002"}}))
	require.NoError(t, err)

	tests := []struct {
		name    string
		eventID string
		since   time.Time
		want    Receipt
		found   bool
	}{
		{"the notice posted for the event", "evt-0001", since, posted, true},
		{"another event's notice", "evt-0003", since, Receipt{}, false},
		{"another app's message with the same id", "evt-0002", since, Receipt{}, false},
		{"a notice older than since", "evt-old", since, Receipt{}, false},
		{"the same notice searched from earlier", "evt-old", start, old, true},
		{"zero since searches everything", "evt-old", time.Time{}, old, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, found, err := c.Find(t.Context(), tt.eventID, tt.since)
			require.NoError(t, err)
			require.Equal(t, tt.found, found)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestClientFindAfterLostAnswer is the crash window Find exists for: Slack
// took the message, the client never heard, and the retry finds it.
func TestClientFindAfterLostAnswer(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	srv.SetResponseDelay(time.Hour)
	since := time.Now()
	impatient := New(testToken, slacktest.ChannelID, srv.URL(), &http.Client{Timeout: 100 * time.Millisecond})

	_, err := impatient.Post(t.Context(), sampleNotice())
	requireSlackError(t, err, "network", false, 0)
	posted := srv.MessagesFor("evt-0001")
	require.Len(t, posted, 1)

	got, found, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).Find(t.Context(), "evt-0001", since)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, Receipt{Channel: slacktest.ChannelID, TS: posted[0].TS}, got)
}

func TestClientFindPages(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	since := time.Now()
	var first Receipt
	for i := range historyPageSize + 50 {
		r, err := c.Post(t.Context(), noticeFor(fmt.Sprintf("evt-%03d", i)))
		require.NoError(t, err)
		if i == 0 {
			first = r
		}
	}

	got, found, err := c.Find(t.Context(), "evt-000", since)
	require.NoError(t, err)
	require.True(t, found, "the oldest notice is on the second page")
	require.Equal(t, first, got)
	require.Equal(t, 2, srv.HistoryCalls())

	_, found, err = c.Find(t.Context(), "evt-999", since)
	require.NoError(t, err)
	require.False(t, found)
	require.Equal(t, 4, srv.HistoryCalls())

	_, found, err = c.Find(t.Context(), "evt-249", since)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, 5, srv.HistoryCalls(), "the newest notice is on the first page")
}

func TestClientFindPageCap(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	c.pageSize, c.maxPages = 2, 2
	for i := range 5 {
		_, err := c.Post(t.Context(), noticeFor(fmt.Sprint("evt-", i)))
		require.NoError(t, err)
	}

	_, found, err := c.Find(t.Context(), "evt-1", time.Time{})
	require.NoError(t, err)
	require.True(t, found, "the fourth newest is on the second page")

	_, found, err = c.Find(t.Context(), "evt-0", time.Time{})
	requireSlackError(t, err, CodeHistoryTruncated, true, 0)
	require.False(t, found)
	require.Contains(t, err.Error(), "evt-0")
	require.Equal(t, 4, srv.HistoryCalls())
}

func TestClientFindChannelName(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, "#business", srv.URL(), nil)
	require.False(t, c.CanFind())
	_, found, err := c.Find(t.Context(), "evt-0001", time.Time{})
	require.ErrorIs(t, err, ErrChannelNotID)
	require.False(t, found)
	require.Zero(t, srv.HistoryCalls(), "no API call for a name")
}

func TestClientFindFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		channel    string
		setup      func(srv *slacktest.Server)
		code       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"no history scope", slacktest.ChannelID, func(srv *slacktest.Server) { srv.SetScopes("chat:write") }, "missing_scope", true, 0},
		{"unknown channel", "C0999", func(*slacktest.Server) {}, "channel_not_found", true, 0},
		{"rate limited", slacktest.ChannelID, func(srv *slacktest.Server) {
			srv.FailHistoryNext(1, slacktest.Failure{Status: 429, RetryAfter: "3"})
		}, "rate_limited", false, 3 * time.Second},
		{"server error", slacktest.ChannelID, func(srv *slacktest.Server) {
			srv.FailHistoryNext(1, slacktest.Failure{Status: 500})
		}, "http_500", false, 0},
		{"internal_error", slacktest.ChannelID, func(srv *slacktest.Server) {
			srv.FailHistoryNext(1, slacktest.Failure{SlackError: "internal_error"})
		}, "internal_error", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			tt.setup(srv)
			_, found, err := New(testToken, tt.channel, srv.URL(), nil).Find(t.Context(), "evt-0001", time.Time{})
			requireSlackError(t, err, tt.code, tt.permanent, tt.retryAfter)
			require.False(t, found)
			require.Contains(t, err.Error(), "evt-0001")
			require.Equal(t, 1, srv.HistoryCalls())
		})
	}
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		srv := slacktest.NewServer(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).Find(ctx, "evt-0001", time.Time{})
		requireSlackError(t, err, "network", false, 0)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestSlackTS(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1571345453.123456", slackTS(time.Date(2019, 10, 17, 20, 50, 53, 123456789, time.UTC)))
	require.Equal(t, "1571345453.000000", slackTS(time.Date(2019, 10, 17, 22, 50, 53, 0, time.FixedZone("CEST", 2*60*60))))
	require.Empty(t, slackTS(time.Time{}))
	require.Empty(t, slackTS(time.Unix(0, 0)))
}

func TestOutboxFind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir, Channel: "C0456"}
	posted, err := o.Post(t.Context(), sampleNotice())
	require.NoError(t, err)

	got, found, err := o.Find(t.Context(), "evt-0001", time.Now())
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, posted, got)

	_, found, err = o.Find(t.Context(), "evt-0002", time.Time{})
	require.NoError(t, err)
	require.False(t, found)

	// "evt.0001" shares the file name of "evt_0001" but is another event.
	_, err = o.Post(t.Context(), noticeFor("evt_0001"))
	require.NoError(t, err)
	_, found, err = o.Find(t.Context(), "evt.0001", time.Time{})
	require.NoError(t, err)
	require.False(t, found)

	_, found, err = Outbox{Dir: t.TempDir()}.Find(t.Context(), "evt-0001", time.Time{})
	require.NoError(t, err)
	require.False(t, found, "no outbox folder yet")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err = o.Find(ctx, "evt-0001", time.Time{})
	require.ErrorIs(t, err, context.Canceled)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "slack", "broken.json"), []byte("{"), 0o600))
	_, _, err = o.Find(t.Context(), "broken", time.Time{})
	require.ErrorContains(t, err, "find notice for event broken")
}
