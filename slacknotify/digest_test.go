package slacknotify

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/slacktest"
)

func sampleDigest() Digest {
	return Digest{
		CourseID:    "course-42",
		CourseTitle: "New Student Orientation",
		WindowID:    "course-42/1767348000",
		WindowStart: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC),
		WindowEnd:   time.Date(2026, 1, 2, 10, 15, 0, 0, time.UTC),
		Count:       243,
		Names:       []string{"Bob Johnson", "Ana <b>Silva</b>", "Zoë & Li"},
		ListHint:    "coursehookctl find --course course-42 --since 2026-01-02T10:00:00Z",
	}
}

// contextTexts returns the texts of a context block's elements.
func contextTexts(t *testing.T, b slack.Block) []string {
	t.Helper()
	ctx, ok := b.(*slack.ContextBlock)
	require.True(t, ok, "block is %T", b)
	var out []string
	for _, el := range ctx.ContextElements.Elements {
		obj, ok := el.(*slack.TextBlockObject)
		require.True(t, ok, "context element is %T", el)
		require.Equal(t, slack.MarkdownType, obj.Type)
		require.True(t, obj.Verbatim)
		out = append(out, obj.Text)
	}
	return out
}

func TestDigestMessageSample(t *testing.T) {
	t.Parallel()
	text, blocks, meta := DigestMessage(sampleDigest())

	require.Equal(t, "243 learners completed New Student Orientation (2026-01-02 10:00–10:15 UTC)", text)
	require.Len(t, blocks, 5)
	head := blocks[0].(*slack.HeaderBlock)
	require.Equal(t, slack.PlainTextType, head.Text.Type)
	require.Equal(t, "Course completions: 243 learners", head.Text.Text)
	require.Equal(t, []string{
		"*Course*\nNew Student Orientation",
		"*Window*\n2026-01-02 10:00–10:15 UTC",
	}, texts(blocks[1].(*slack.SectionBlock).Fields))
	names := blocks[2].(*slack.SectionBlock)
	require.Nil(t, names.Fields)
	require.Equal(t, slack.MarkdownType, names.Text.Type)
	require.True(t, names.Text.Verbatim)
	require.Equal(t, "*Learners*\n• Bob Johnson\n• Ana &lt;b&gt;Silva&lt;/b&gt;\n• Zoë &amp; Li\nand 240 more", names.Text.Text)
	require.Equal(t, []string{"List them all: `coursehookctl find --course course-42 --since 2026-01-02T10:00:00Z`"}, contextTexts(t, blocks[3]))
	require.Equal(t, []string{"Window ID: course-42/1767348000", "Course ID: course-42"}, contextTexts(t, blocks[4]))
	require.Equal(t, slack.SlackMetadata{
		EventType:    "course_completion_digest",
		EventPayload: map[string]any{"window_id": "course-42/1767348000"},
	}, meta)
	require.Equal(t, slacktest.DigestEventType, MetadataDigestEventType, "the stand-in looks for the same type")
}

func TestDigestMessageVariants(t *testing.T) {
	t.Parallel()
	const sampleNames = "*Learners*\n• Bob Johnson\n• Ana &lt;b&gt;Silva&lt;/b&gt;\n• Zoë &amp; Li\nand 240 more"
	tests := []struct {
		name   string
		change func(d *Digest)
		header string
		names  string // the names section's text, "" when there is none
		fields []string
		hint   bool
	}{
		{"one learner", func(d *Digest) { d.Count, d.Names = 1, []string{"Bob"} }, "Course completions: 1 learner", "*Learners*\n• Bob", nil, true},
		{"all names shown", func(d *Digest) { d.Count = 3 }, "Course completions: 3 learners",
			"*Learners*\n• Bob Johnson\n• Ana &lt;b&gt;Silva&lt;/b&gt;\n• Zoë &amp; Li", nil, true},
		{"count below the names given", func(d *Digest) { d.Count = 1 }, "Course completions: 3 learners",
			"*Learners*\n• Bob Johnson\n• Ana &lt;b&gt;Silva&lt;/b&gt;\n• Zoë &amp; Li", nil, true},
		{"no names", func(d *Digest) { d.Names = nil }, "Course completions: 243 learners", "", nil, true},
		{"millions", func(d *Digest) { d.Count, d.Names = 1_234_567, []string{"Bob"} }, "Course completions: 1,234,567 learners",
			"*Learners*\n• Bob\nand 1,234,566 more", nil, true},
		{"blank name", func(d *Digest) { d.Count, d.Names = 2, []string{"", "\u200f"} }, "Course completions: 2 learners", "*Learners*\n• —\n• —", nil, true},
		{"course name", func(d *Digest) { d.CourseName = "Onboarding *EMEA*" }, "Course completions: 243 learners", sampleNames,
			[]string{"*Course*\nNew Student Orientation", "*Course name*\nOnboarding *EMEA*", "*Window*\n2026-01-02 10:00–10:15 UTC"}, true},
		{"no hint", func(d *Digest) { d.ListHint = " \n" }, "Course completions: 243 learners", sampleNames, nil, false},
		{"window across days", func(d *Digest) { d.WindowEnd = d.WindowStart.Add(20 * time.Hour) }, "Course completions: 243 learners", sampleNames,
			[]string{"*Course*\nNew Student Orientation", "*Window*\n2026-01-02 10:00 UTC – 2026-01-03 06:00 UTC"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := sampleDigest()
			tt.change(&d)
			_, blocks, _ := DigestMessage(d)
			requireBlockLimits(t, blocks)
			require.Equal(t, tt.header, blocks[0].(*slack.HeaderBlock).Text.Text)
			if tt.fields != nil {
				require.Equal(t, tt.fields, texts(blocks[1].(*slack.SectionBlock).Fields))
			}
			i := 2
			if names, ok := blocks[i].(*slack.SectionBlock); ok {
				require.Equal(t, tt.names, names.Text.Text)
				i++
			} else {
				require.Empty(t, tt.names, "no names section")
			}
			if tt.hint {
				require.True(t, strings.HasPrefix(contextTexts(t, blocks[i])[0], "List them all: `"))
				i++
			}
			require.Len(t, blocks, i+1, "the ids close the message")
			require.Equal(t, "Window ID: course-42/1767348000", contextTexts(t, blocks[i])[0])
		})
	}
}

func TestDigestMessageNamesBeyondTen(t *testing.T) {
	t.Parallel()
	d := sampleDigest()
	d.Names = nil
	for i := range 25 {
		d.Names = append(d.Names, fmt.Sprint("learner ", i))
	}
	d.Count = 30
	_, blocks, _ := DigestMessage(d)
	names := blocks[2].(*slack.SectionBlock).Text.Text
	require.Equal(t, MaxDigestNames+2, strings.Count(names, "\n")+1, "label, ten names and the rest")
	require.Contains(t, names, "• learner 9\nand 20 more")
	require.NotContains(t, names, "learner 10")
}

func TestDigestListHintIsCode(t *testing.T) {
	t.Parallel()
	tests := []struct{ hint, want string }{
		{"coursehookctl find --course x", "List them all: `coursehookctl find --course x`"},
		{"https://admin.example/completions?course=x&since=1", "List them all: `https://admin.example/completions?course=x&amp;since=1`"},
		{"x` *bold* <!channel> `y", "List them all: `xˋ *bold* &lt;!channel&gt; ˋy`"},
		{"a\n> quote", "List them all: `a &gt; quote`"},
	}
	for _, tt := range tests {
		t.Run(tt.hint, func(t *testing.T) {
			t.Parallel()
			d := sampleDigest()
			d.ListHint = tt.hint
			_, blocks, _ := DigestMessage(d)
			got := contextTexts(t, blocks[3])
			require.Equal(t, []string{tt.want}, got)
			require.Equal(t, 2, strings.Count(got[0], "`"), "only the code span's own backticks")
		})
	}
}

// TestDigestMessageExtremes holds the digest to Block Kit's limits at the
// far end of every input: any count, names and strings far past their
// limits, of every width, and more names than the caller should pass.
func TestDigestMessageExtremes(t *testing.T) {
	t.Parallel()
	counts := []int{math.MinInt, -1, 0, 1, 10, 11, 243, 1_000_000, 999_999_999_999, math.MaxInt}
	units := []string{"x", "&", "<>", "🎓", "é", "`", "Tom & Jerry <b> `code` "}
	for _, unit := range units {
		s := strings.Repeat(unit, 10_000/len(unit)+1)
		for _, count := range counts {
			t.Run(fmt.Sprintf("%q/%d", unit, count), func(t *testing.T) {
				t.Parallel()
				d := Digest{
					Channel: s, CourseID: s, CourseTitle: s, CourseName: s, WindowID: s,
					WindowStart: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), WindowEnd: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
					Count: count, ListHint: s,
				}
				for range 2 * MaxDigestNames {
					d.Names = append(d.Names, s)
				}
				text, blocks, meta := DigestMessage(d)
				requireWithin(t, text, fallbackLimit)
				requireBlockLimits(t, blocks)
				require.Len(t, blocks, 5)
				head := blocks[0].(*slack.HeaderBlock).Text.Text
				names := blocks[2].(*slack.SectionBlock).Text.Text
				require.Equal(t, MaxDigestNames, strings.Count(names, bullet))
				if count > MaxDigestNames {
					require.Contains(t, names, "\nand "+formatCount(count-MaxDigestNames)+" more")
					require.Equal(t, "Course completions: "+formatCount(count)+" learners", head)
				} else {
					require.NotContains(t, names, " more")
					require.Equal(t, "Course completions: 10 learners", head)
				}
				require.Equal(t, s, meta.EventPayload["window_id"], "the metadata keeps the exact id to match")
			})
		}
	}
}

func TestFormatCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {12_345, "12,345"}, {999_999, "999,999"},
		{1_000_000, "1,000,000"}, {math.MaxInt64, "9,223,372,036,854,775,807"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, formatCount(tt.n), "%d", tt.n)
	}
}

func TestFormatWindow(t *testing.T) {
	t.Parallel()
	cest := time.FixedZone("CEST", 2*60*60)
	start := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		start, end time.Time
		want       string
	}{
		{"same day", start, start.Add(15 * time.Minute), "2026-01-02 10:00–10:15 UTC"},
		{"same UTC day in another zone", start.In(cest), start.Add(time.Hour).In(cest), "2026-01-02 10:00–11:00 UTC"},
		{"across midnight", start.Add(13 * time.Hour), start.Add(15 * time.Hour), "2026-01-02 23:00 UTC – 2026-01-03 01:00 UTC"},
		{"no end", start, time.Time{}, "from 2026-01-02 10:00 UTC"},
		{"no start", time.Time{}, start, "until 2026-01-02 10:00 UTC"},
		{"neither", time.Time{}, time.Time{}, "—"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, formatWindow(tt.start, tt.end), tt.name)
	}
}

func TestClientPostDigest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, clientChannel, digestChannel string
		wantChannel, wantID                string
	}{
		{"the client's channel", slacktest.ChannelID, "", slacktest.ChannelID, slacktest.ChannelID},
		{"a course channel by id", slacktest.ChannelID, "C0COURSE", "C0COURSE", "C0COURSE"},
		{"a course channel by name", slacktest.ChannelID, "#course-42", "#course-42", slacktest.ChannelID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			d := sampleDigest()
			d.Channel = tt.digestChannel
			got, err := New(testToken, tt.clientChannel, srv.URL(), nil).PostDigest(t.Context(), d)
			require.NoError(t, err)

			posted := srv.DigestsFor(d.WindowID)
			require.Len(t, posted, 1)
			m := posted[0]
			require.Equal(t, Receipt{Channel: tt.wantID, TS: m.TS}, got)
			require.Equal(t, tt.wantChannel, m.Channel)
			require.Equal(t, map[string]int{tt.wantID: 1}, srv.MessagesPerChannel())
			text, blocks, _ := DigestMessage(d)
			require.Equal(t, text, m.Text)
			var sent slack.Blocks
			require.NoError(t, sent.UnmarshalJSON(m.Blocks))
			require.Len(t, sent.BlockSet, len(blocks))
			meta, ok := m.Meta()
			require.True(t, ok)
			require.Equal(t, slacktest.Metadata{EventType: MetadataDigestEventType, EventPayload: map[string]any{"window_id": d.WindowID}}, meta)
		})
	}
}

// TestClientPostDigestExtremes sends the largest digests to the stand-in,
// which refuses blocks past Block Kit's limits as Slack does.
func TestClientPostDigestExtremes(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	for i, unit := range []string{"&", "🎓", "Tom & Jerry <b> `code` "} {
		s := strings.Repeat(unit, 10_000)
		d := Digest{
			CourseID: s, CourseTitle: s, CourseName: s, WindowID: fmt.Sprint("w", i),
			WindowStart: time.Now(), WindowEnd: time.Now(), Count: math.MaxInt, ListHint: s,
		}
		for range MaxDigestNames + 1 {
			d.Names = append(d.Names, s)
		}
		_, err := c.PostDigest(t.Context(), d)
		require.NoError(t, err, unit)
	}
	require.Len(t, srv.Messages(), 3)
}

func TestClientPostDigestFailure(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	srv.FailNext(1, slacktest.Failure{SlackError: "channel_not_found"})
	_, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).PostDigest(t.Context(), sampleDigest())
	requireSlackError(t, err, "channel_not_found", true, 0)
	require.ErrorContains(t, err, "post digest for window course-42/1767348000")
	require.Empty(t, srv.Messages())
}

func TestClientFindDigest(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, "#business", srv.URL(), nil)
	start := time.Now()

	old := sampleDigest()
	old.Channel, old.WindowID = "C0COURSE", "course-42/1767347100"
	oldReceipt, err := c.PostDigest(t.Context(), old)
	require.NoError(t, err)
	since := time.Now()
	d := sampleDigest()
	d.Channel = "C0COURSE"
	posted, err := c.PostDigest(t.Context(), d)
	require.NoError(t, err)
	// A notice whose event id is the window id, and the same window's digest
	// in another channel: neither is this channel's digest.
	n := noticeFor(d.WindowID)
	n.Channel = "C0COURSE"
	_, err = c.Post(t.Context(), n)
	require.NoError(t, err)
	other := d
	other.Channel = "C0OTHER"
	_, err = c.PostDigest(t.Context(), other)
	require.NoError(t, err)

	tests := []struct {
		name, channel, windowID string
		since                   time.Time
		want                    Receipt
		found                   bool
	}{
		{"the digest of the window", "C0COURSE", d.WindowID, since, posted, true},
		{"another window", "C0COURSE", "course-42/1767348900", since, Receipt{}, false},
		{"a digest older than since", "C0COURSE", old.WindowID, since, Receipt{}, false},
		{"the same digest searched from earlier", "C0COURSE", old.WindowID, start, oldReceipt, true},
		{"the window in the client's channel", "", d.WindowID, time.Time{}, Receipt{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, found, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).FindDigest(t.Context(), tt.channel, tt.windowID, tt.since)
			require.NoError(t, err)
			require.Equal(t, tt.found, found)
			require.Equal(t, tt.want, got)
		})
	}
	t.Run("a channel name", func(t *testing.T) {
		t.Parallel()
		require.False(t, c.CanFindIn(""))
		require.False(t, c.CanFindIn("#course-42"))
		require.True(t, c.CanFindIn("C0COURSE"))
		_, found, err := c.FindDigest(t.Context(), "", d.WindowID, time.Time{})
		require.ErrorIs(t, err, ErrChannelNotID)
		require.Equal(t, ErrChannelNotID, err, "returned as it is, as Find does")
		require.False(t, found)
		_, _, err = c.FindDigest(t.Context(), "#course-42", d.WindowID, time.Time{})
		require.ErrorIs(t, err, ErrChannelNotID)
	})
}

// TestClientFindDigestAfterLostAnswer is the crash window: Slack took the
// digest, the client never heard, and the retry finds it.
func TestClientFindDigestAfterLostAnswer(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	srv.SetResponseDelay(time.Hour)
	since := time.Now()
	d := sampleDigest()
	d.Channel = "C0COURSE"
	impatient := New(testToken, slacktest.ChannelID, srv.URL(), &http.Client{Timeout: 100 * time.Millisecond})

	_, err := impatient.PostDigest(t.Context(), d)
	requireSlackError(t, err, "network", false, 0)
	posted := srv.DigestsFor(d.WindowID)
	require.Len(t, posted, 1)

	got, found, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).FindDigest(t.Context(), "C0COURSE", d.WindowID, since)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, Receipt{Channel: "C0COURSE", TS: posted[0].TS}, got)
}

func TestClientFindDigestPages(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	c.pageSize, c.maxPages = 3, 2
	var first Receipt
	for i := range 6 {
		d := sampleDigest()
		d.Channel, d.WindowID = "C0COURSE", fmt.Sprint("w", i)
		r, err := c.PostDigest(t.Context(), d)
		require.NoError(t, err)
		if i == 0 {
			first = r
		}
	}
	got, found, err := c.FindDigest(t.Context(), "C0COURSE", "w0", time.Time{})
	require.NoError(t, err)
	require.True(t, found, "the oldest digest is on the second page")
	require.Equal(t, first, got)
	require.Equal(t, 2, srv.HistoryCalls())

	_, err = c.PostDigest(t.Context(), Digest{Channel: "C0COURSE", WindowID: "w6"})
	require.NoError(t, err)
	_, found, err = c.FindDigest(t.Context(), "C0COURSE", "w0", time.Time{})
	requireSlackError(t, err, CodeHistoryTruncated, true, 0)
	require.ErrorContains(t, err, "find digest for window w0")
	require.False(t, found)
}

func TestClientFindDigestFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		channel    string
		setup      func(srv *slacktest.Server)
		code       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"no history scope", "C0COURSE", func(srv *slacktest.Server) { srv.SetScopes("chat:write") }, "missing_scope", true, 0},
		{"private channel without groups:history", "G0COURSE", func(srv *slacktest.Server) {
			srv.SetScopes("chat:write", "channels:history")
		}, "missing_scope", true, 0},
		{"unknown channel", "C0999", func(*slacktest.Server) {}, "channel_not_found", true, 0},
		{"rate limited", "C0COURSE", func(srv *slacktest.Server) {
			srv.FailHistoryNext(1, slacktest.Failure{Status: 429, RetryAfter: "3"})
		}, "rate_limited", false, 3 * time.Second},
		{"server error", "C0COURSE", func(srv *slacktest.Server) {
			srv.FailHistoryNext(1, slacktest.Failure{Status: 500})
		}, "http_500", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			srv.AddChannels("C0COURSE", "G0COURSE")
			tt.setup(srv)
			_, found, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).FindDigest(t.Context(), tt.channel, "course-42/1767348000", time.Time{})
			requireSlackError(t, err, tt.code, tt.permanent, tt.retryAfter)
			require.False(t, found)
			require.Contains(t, err.Error(), "course-42/1767348000")
			require.Equal(t, 1, srv.HistoryCalls())
		})
	}
}
