package slacknotify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/slacktest"
)

func TestClientPostToCourseChannel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, clientChannel, noticeChannel string
		wantChannel, wantID                string
	}{
		{"default by id", "C0123", "", "C0123", "C0123"},
		{"default by name", "#business", "", "#business", slacktest.ChannelID},
		{"course channel by id", "#business", "C0COURSE", "C0COURSE", "C0COURSE"},
		{"private course channel", "C0123", "G0COURSE", "G0COURSE", "G0COURSE"},
		{"course channel by name", "C0123", "#course-42", "#course-42", slacktest.ChannelID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			n := sampleNotice()
			n.Channel = tt.noticeChannel
			got, err := New(testToken, tt.clientChannel, srv.URL(), nil).Post(t.Context(), n)
			require.NoError(t, err)
			msgs := srv.MessagesIn(tt.wantID)
			require.Len(t, msgs, 1)
			require.Equal(t, tt.wantChannel, msgs[0].Channel, "the channel as sent")
			require.Equal(t, Receipt{Channel: tt.wantID, TS: msgs[0].TS}, got, "the receipt names the channel Slack used")
			require.Equal(t, map[string]int{tt.wantID: 1}, srv.MessagesPerChannel())
		})
	}
}

func TestClientFindIn(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	since := time.Now()
	n := sampleNotice()
	n.Channel = "C0COURSE"
	posted, err := c.Post(t.Context(), n)
	require.NoError(t, err)
	inDefault, err := c.Post(t.Context(), noticeFor("evt-0002"))
	require.NoError(t, err)

	tests := []struct {
		name, channel, eventID string
		want                   Receipt
		found                  bool
	}{
		{"the course channel", "C0COURSE", "evt-0001", posted, true},
		{"not in the course channel", "C0COURSE", "evt-0002", Receipt{}, false},
		{"empty means the client's channel", "", "evt-0002", inDefault, true},
		{"the client's channel by id", slacktest.ChannelID, "evt-0002", inDefault, true},
		{"not in the client's channel", "", "evt-0001", Receipt{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, found, err := c.FindIn(t.Context(), tt.channel, tt.eventID, since)
			require.NoError(t, err)
			require.Equal(t, tt.found, found)
			require.Equal(t, tt.want, got)
		})
	}
	t.Run("Find stays on the client's channel", func(t *testing.T) {
		t.Parallel()
		_, found, err := c.Find(t.Context(), "evt-0001", since)
		require.NoError(t, err)
		require.False(t, found)
	})
	t.Run("a channel name", func(t *testing.T) {
		t.Parallel()
		_, found, err := c.FindIn(t.Context(), "#course-42", "evt-0001", since)
		require.Equal(t, ErrChannelNotID, err)
		require.False(t, found)
	})
	t.Run("failures name the event", func(t *testing.T) {
		t.Parallel()
		_, _, err := c.FindIn(t.Context(), "C0999", "evt-0001", since)
		requireSlackError(t, err, "channel_not_found", true, 0)
		require.ErrorContains(t, err, "find notice for event evt-0001")
	})
}

func TestIsChannelIDAndCanFindIn(t *testing.T) {
	t.Parallel()
	byName := New(testToken, "#business", "", nil)
	byID := New(testToken, "C0123", "", nil)
	tests := []struct {
		channel        string
		name, id, isID bool
	}{
		{"", false, true, false},
		{"C0COURSE", true, true, true},
		{"G0COURSE", true, true, true},
		{"#course-42", false, false, false},
		{"course-42", false, false, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.isID, IsChannelID(tt.channel), "IsChannelID(%q)", tt.channel)
		require.Equal(t, tt.name, byName.CanFindIn(tt.channel), "client by name, channel %q", tt.channel)
		require.Equal(t, tt.id, byID.CanFindIn(tt.channel), "client by id, channel %q", tt.channel)
	}
}
