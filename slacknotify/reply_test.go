package slacknotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/internal/slacktest"
)

const sampleCommand = `coursehookctl resend --event "evt-0001" --what email --to NEW@ADDRESS --reason "corrected address"`

func sampleReply() Reply {
	return Reply{
		Channel:      slacktest.ChannelID,
		ThreadTS:     "1767348000.000100",
		EventID:      "evt-0001",
		LearnerName:  "Ada Lovelace",
		LearnerEmail: "ada@example.com",
		CourseTitle:  "New Student Orientation",
		State:        "bounced",
		Reason:       "550 5.1.1 mailbox does not exist",
		At:           time.Date(2026, 1, 2, 10, 5, 0, 0, time.UTC),
		Command:      sampleCommand,
	}
}

// replyBlocks takes ReplyMessage's blocks apart: the headline, the fields,
// the command section's text ("" without one) and the context's texts.
func replyBlocks(t *testing.T, blocks []slack.Block) (headline string, fields []string, command string, ids []string) {
	t.Helper()
	require.GreaterOrEqual(t, len(blocks), 3)
	head, ok := blocks[0].(*slack.SectionBlock)
	require.True(t, ok, "block 0 is %T", blocks[0])
	require.True(t, head.Text.Verbatim)
	fieldBlock, ok := blocks[1].(*slack.SectionBlock)
	require.True(t, ok, "block 1 is %T", blocks[1])
	require.Nil(t, fieldBlock.Text)
	for _, f := range fieldBlock.Fields {
		require.Equal(t, slack.MarkdownType, f.Type)
		require.True(t, f.Verbatim, "user strings must not be auto-linked")
	}
	if len(blocks) == 4 {
		cmd, ok := blocks[2].(*slack.SectionBlock)
		require.True(t, ok, "block 2 is %T", blocks[2])
		require.True(t, cmd.Text.Verbatim)
		command = cmd.Text.Text
	}
	return head.Text.Text, texts(fieldBlock.Fields), command, contextTexts(t, blocks[len(blocks)-1])
}

func TestReplyMessageSample(t *testing.T) {
	t.Parallel()
	text, blocks, meta := ReplyMessage(sampleReply())

	require.Equal(t, ":warning: Certificate email bounced for Ada Lovelace (ada@example.com): 550 5.1.1 mailbox does not exist. "+
		"Resend to a corrected address: `"+sampleCommand+"`", text)
	require.Len(t, blocks, 4)
	headline, fields, command, ids := replyBlocks(t, blocks)
	require.Equal(t, ":warning: *Certificate email bounced*", headline)
	require.Equal(t, []string{
		"*Learner*\nAda Lovelace",
		"*Email*\nada@example.com",
		"*Course*\nNew Student Orientation",
		"*Reason*\n550 5.1.1 mailbox does not exist",
		"*Reported at*\n2026-01-02 10:05 UTC",
	}, fields)
	require.Equal(t, "*Resend to a corrected address*\n```"+sampleCommand+"```", command)
	require.Equal(t, []string{"Event ID: evt-0001"}, ids)
	require.Equal(t, slack.SlackMetadata{
		EventType:    "coursehook_delivery_problem",
		EventPayload: map[string]any{"event_id": "evt-0001", "state": "bounced"},
	}, meta)
	requireBlockLimits(t, blocks)
}

func TestReplyMessageVariants(t *testing.T) {
	t.Parallel()
	const resend = " Resend to a corrected address: `" + sampleCommand + "`"
	tests := []struct {
		name     string
		change   func(r *Reply)
		text     string
		headline string
		fields   []string // the labels
		command  bool
		ids      []string
		payload  map[string]any
	}{
		{
			name:     "dropped",
			change:   func(r *Reply) { r.State, r.Reason = "dropped", "Bounced Address" },
			text:     ":warning: Certificate email for Ada Lovelace (ada@example.com) was dropped by SendGrid: Bounced Address." + resend,
			headline: ":warning: *Certificate email dropped by SendGrid*",
			fields:   []string{"Learner", "Email", "Course", "Reason", "Reported at"},
			command:  true,
			ids:      []string{"Event ID: evt-0001"},
			payload:  map[string]any{"event_id": "evt-0001", "state": "dropped"},
		},
		{
			name:     "spam, which SendGrid gives no reason for",
			change:   func(r *Reply) { r.State, r.Reason = "spam", "" },
			text:     ":warning: Certificate email for Ada Lovelace (ada@example.com) was reported as spam." + resend,
			headline: ":warning: *Certificate email reported as spam*",
			fields:   []string{"Learner", "Email", "Course", "Reported at"},
			command:  true,
			ids:      []string{"Event ID: evt-0001"},
			payload:  map[string]any{"event_id": "evt-0001", "state": "spam"},
		},
		{
			name:     "a resend's email",
			change:   func(r *Reply) { r.ResendID = "20261129-abc" },
			text:     ":warning: Certificate email bounced for Ada Lovelace (ada@example.com): 550 5.1.1 mailbox does not exist." + resend,
			headline: ":warning: *Certificate email bounced*",
			fields:   []string{"Learner", "Email", "Course", "Reason", "Reported at"},
			command:  true,
			ids:      []string{"Event ID: evt-0001", "Resend ID: 20261129-abc"},
			payload:  map[string]any{"event_id": "evt-0001", "resend_id": "20261129-abc", "state": "bounced"},
		},
		{
			name:     "a state of another kind, no time, no command",
			change:   func(r *Reply) { r.State, r.At, r.Command = "blocked", time.Time{}, " " },
			text:     ":warning: Certificate email for Ada Lovelace (ada@example.com) was not delivered (blocked): 550 5.1.1 mailbox does not exist.",
			headline: ":warning: *Certificate email not delivered*",
			fields:   []string{"Learner", "Email", "Course", "State", "Reason"},
			ids:      []string{"Event ID: evt-0001"},
			payload:  map[string]any{"event_id": "evt-0001", "state": "blocked"},
		},
		{
			name:     "a reason ending its own sentence",
			change:   func(r *Reply) { r.Reason = "Mailbox full." },
			text:     ":warning: Certificate email bounced for Ada Lovelace (ada@example.com): Mailbox full." + resend,
			headline: ":warning: *Certificate email bounced*",
			fields:   []string{"Learner", "Email", "Course", "Reason", "Reported at"},
			command:  true,
			ids:      []string{"Event ID: evt-0001"},
			payload:  map[string]any{"event_id": "evt-0001", "state": "bounced"},
		},
		{
			name:     "no name",
			change:   func(r *Reply) { r.LearnerName = " \n" },
			text:     ":warning: Certificate email bounced for ada@example.com: 550 5.1.1 mailbox does not exist." + resend,
			headline: ":warning: *Certificate email bounced*",
			fields:   []string{"Learner", "Email", "Course", "Reason", "Reported at"},
			command:  true,
			ids:      []string{"Event ID: evt-0001"},
			payload:  map[string]any{"event_id": "evt-0001", "state": "bounced"},
		},
		{
			name:     "no name, no address",
			change:   func(r *Reply) { r.LearnerName, r.LearnerEmail = "", "" },
			text:     ":warning: Certificate email bounced for the learner: 550 5.1.1 mailbox does not exist." + resend,
			headline: ":warning: *Certificate email bounced*",
			fields:   []string{"Learner", "Email", "Course", "Reason", "Reported at"},
			command:  true,
			ids:      []string{"Event ID: evt-0001"},
			payload:  map[string]any{"event_id": "evt-0001", "state": "bounced"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sampleReply()
			tt.change(&r)
			text, blocks, meta := ReplyMessage(r)
			require.Equal(t, tt.text, text)
			requireBlockLimits(t, blocks)
			headline, fields, command, ids := replyBlocks(t, blocks)
			require.Equal(t, tt.headline, headline)
			var labels []string
			for _, f := range fields {
				label, _, _ := strings.Cut(f, "\n")
				labels = append(labels, strings.Trim(label, "*"))
			}
			require.Equal(t, tt.fields, labels)
			require.Equal(t, tt.command, command != "")
			require.Equal(t, tt.ids, ids)
			require.Equal(t, slack.SlackMetadata{EventType: MetadataReplyEventType, EventPayload: tt.payload}, meta)
		})
	}
}

func TestReplyMessageNeutralisesUserStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"channel mention", "<!channel>", "&lt;!channel&gt;"},
		{"here with label", "<!here|here>", "&lt;!here|here&gt;"},
		{"user mention", "<@U123>", "&lt;@U123&gt;"},
		{"link", "<https://evil|x>", "&lt;https://evil|x&gt;"},
		{"mailto link", "<mailto:eve@evil.example|ada@example.com>", "&lt;mailto:eve@evil.example|ada@example.com&gt;"},
		{"ampersand", "Tom & Jerry", "Tom &amp; Jerry"},
		{"an entity already", "&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"},
		{"fake line", "Ada\n*Reason*\nnone", "Ada *Reason* none"},
		{"quote line", "x\n> quoted", "x &gt; quoted"},
		{"line separators", "a\u2028b\r\nc", "a b  c"},
		{"bidi override", "abc\u202edcb", "abcdcb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Reply{
				Channel: "C0123", ThreadTS: "1.000001",
				EventID: tt.in, ResendID: tt.in,
				LearnerName: tt.in, LearnerEmail: tt.in, CourseTitle: tt.in,
				State: "bounced", Reason: tt.in, Command: tt.in,
			}
			text, blocks, meta := ReplyMessage(r)
			require.Contains(t, text, "bounced for "+tt.want+" ("+tt.want+"): "+tt.want+".")
			require.Contains(t, text, "`"+tt.want+"`")
			require.NotContains(t, text, "<")
			require.NotContains(t, text, ">")
			require.NotContains(t, text, "\n", "the fallback is one line")
			requireBlockLimits(t, blocks)

			_, fields, command, ids := replyBlocks(t, blocks)
			for i, f := range fields[:4] {
				_, v, _ := strings.Cut(f, "\n")
				require.Equal(t, tt.want, v, "field %d", i)
			}
			require.Equal(t, "*Resend to a corrected address*\n```"+tt.want+"```", command)
			require.Equal(t, []string{"Event ID: " + tt.want, "Resend ID: " + tt.want}, ids)

			// Metadata is data, never shown: it keeps the ids as they are,
			// so FindReply compares what it was given.
			require.Equal(t, tt.in, meta.EventPayload["event_id"])
			require.Equal(t, tt.in, meta.EventPayload["resend_id"])
		})
	}
}

func TestReplyCommandStaysCode(t *testing.T) {
	t.Parallel()
	r := sampleReply()
	r.Command = "coursehookctl resend --event `rm -rf ~` --to <!channel> && echo ```done```\nsecond line"
	text, blocks, _ := ReplyMessage(r)
	want := "coursehookctl resend --event \u02cbrm -rf ~\u02cb --to &lt;!channel&gt; &amp;&amp; echo \u02cb\u02cb\u02cbdone\u02cb\u02cb\u02cb second line"
	require.True(t, strings.HasSuffix(text, " Resend to a corrected address: `"+want+"`"), "text: %s", text)
	require.Equal(t, 2, strings.Count(text, "`"), "only the span's own backticks")
	_, _, command, _ := replyBlocks(t, blocks)
	require.Equal(t, "*Resend to a corrected address*\n```"+want+"```", command)
	require.Equal(t, 6, strings.Count(command, "`"), "only the block's own fences")
}

func TestReplyMessageRespectsLimits(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, unit string }{
		{"ascii", "x"},
		{"entities", "&"},
		{"mixed", "Tom & Jerry <b>\n"},
		{"astral", "🎓"},
		{"backticks", "`"},
	}
	for _, tt := range tests {
		for _, state := range []string{"bounced", "dropped", "spam", "x"} {
			t.Run(tt.name+" "+state, func(t *testing.T) {
				t.Parallel()
				s := strings.Repeat(tt.unit, 10_000)
				if state == "x" {
					state = s
				}
				r := Reply{
					EventID: s, ResendID: s, LearnerName: s, LearnerEmail: s, CourseTitle: s,
					State: state, Reason: s, At: time.Now(), Command: s,
				}
				text, blocks, _ := ReplyMessage(r)
				requireWithin(t, text, fallbackLimit)
				require.NotContains(t, text, "\n")
				require.Contains(t, text, ellipsis+")", "the address was not cut")
				require.True(t, strings.HasSuffix(text, ellipsis+"`"), "the command was not cut: …%q", tail(text))
				requireBlockLimits(t, blocks)
				_, fields, command, ids := replyBlocks(t, blocks)
				for _, f := range fields {
					if !strings.HasPrefix(f, "*Reported at*") {
						require.True(t, strings.HasSuffix(f, ellipsis), "field not marked as cut: …%q", tail(f))
					}
				}
				requireWithin(t, command, sectionLimit)
				require.True(t, strings.HasSuffix(command, ellipsis+"```"))
				for _, id := range ids {
					require.True(t, strings.HasSuffix(id, ellipsis))
				}
			})
		}
	}
}

func TestIsReply(t *testing.T) {
	t.Parallel()
	meta := func(payload map[string]any) slack.SlackMetadata {
		return slack.SlackMetadata{EventType: MetadataReplyEventType, EventPayload: payload}
	}
	tests := []struct {
		name            string
		meta            slack.SlackMetadata
		eventID, resend string
		want            bool
	}{
		{"the first email's", meta(map[string]any{"event_id": "e1", "state": "bounced"}), "e1", "", true},
		{"a resend's", meta(map[string]any{"event_id": "e1", "resend_id": "r1"}), "e1", "r1", true},
		{"another state of the same email", meta(map[string]any{"event_id": "e1", "state": "spam"}), "e1", "", true},
		{"the resend's, asked for the first", meta(map[string]any{"event_id": "e1", "resend_id": "r1"}), "e1", "", false},
		{"the first's, asked for a resend", meta(map[string]any{"event_id": "e1"}), "e1", "r1", false},
		{"another resend", meta(map[string]any{"event_id": "e1", "resend_id": "r2"}), "e1", "r1", false},
		{"another event", meta(map[string]any{"event_id": "e2"}), "e1", "", false},
		{"a resend id that is not a string", meta(map[string]any{"event_id": "e1", "resend_id": 1.0}), "e1", "", false},
		{"no payload", meta(nil), "e1", "", false},
		{"the event's notice", slack.SlackMetadata{EventType: MetadataEventType, EventPayload: map[string]any{"event_id": "e1"}}, "e1", "", false},
		{"another app's", slack.SlackMetadata{EventType: "deploy", EventPayload: map[string]any{"event_id": "e1"}}, "e1", "", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, isReply(tt.meta, tt.eventID, tt.resend), tt.name)
	}
}

// postNoticeTo posts the notice of eventID to the stand-in, the thread's
// parent, and returns its receipt.
func postNoticeTo(t *testing.T, c *Client, eventID string) Receipt {
	t.Helper()
	r, err := c.Post(t.Context(), noticeFor(eventID))
	require.NoError(t, err)
	return r
}

// replyIn is sampleReply in the thread of notice, about the email of
// eventID and resendID.
func replyIn(notice Receipt, eventID, resendID string) Reply {
	r := sampleReply()
	r.Channel, r.ThreadTS, r.EventID, r.ResendID = notice.Channel, notice.TS, eventID, resendID
	return r
}

func TestClientPostReply(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, "C0456", srv.URL(), nil)
	notice := postNoticeTo(t, c, "evt-0001")
	r := replyIn(notice, "evt-0001", "")
	r.LearnerName = "<!channel> Ada & Co"

	got, err := c.PostReply(t.Context(), r)
	require.NoError(t, err)

	msgs := srv.Messages()
	require.Len(t, msgs, 2)
	m := msgs[1]
	require.Equal(t, Receipt{Channel: "C0456", TS: m.TS}, got)
	require.Equal(t, "C0456", m.Channel)
	require.Equal(t, notice.TS, m.ThreadTS, "the reply is in the notice's thread")
	require.Empty(t, msgs[0].ThreadTS, "the notice is not")
	require.Equal(t, testToken, m.Token)
	require.JSONEq(t, `{"event_type":"coursehook_delivery_problem","event_payload":{"event_id":"evt-0001","state":"bounced"}}`, string(m.Metadata))
	text, blocks, _ := ReplyMessage(r)
	require.Equal(t, text, m.Text)
	require.True(t, strings.HasPrefix(m.Text, ":warning: Certificate email bounced for &lt;!channel&gt; Ada &amp; Co (ada@example.com)"), m.Text)
	want, err := json.Marshal(blocks)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(m.Blocks))

	t.Run("the client's channel", func(t *testing.T) {
		r := r
		r.Channel = ""
		got, err := c.PostReply(t.Context(), r)
		require.NoError(t, err)
		require.Equal(t, "C0456", got.Channel)
		require.Equal(t, notice.TS, srv.Messages()[2].ThreadTS)
	})
	t.Run("no thread: a message of its own", func(t *testing.T) {
		r := r
		r.ThreadTS = ""
		_, err := c.PostReply(t.Context(), r)
		require.NoError(t, err)
		msgs := srv.Messages()
		require.Empty(t, msgs[len(msgs)-1].ThreadTS)
	})
}

func TestClientPostReplyFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		failure    slacktest.Failure
		code       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"invalid_auth", slacktest.Failure{SlackError: "invalid_auth"}, "invalid_auth", true, 0},
		{"channel_not_found", slacktest.Failure{SlackError: "channel_not_found"}, "channel_not_found", true, 0},
		{"rate limited", slacktest.Failure{Status: 429, RetryAfter: "3"}, "rate_limited", false, 3 * time.Second},
		{"server error", slacktest.Failure{Status: 500}, "http_500", false, 0},
		{"unavailable", slacktest.Failure{Status: 503}, "http_503", false, 0},
		{"internal_error", slacktest.Failure{SlackError: "internal_error"}, "internal_error", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
			r := replyIn(postNoticeTo(t, c, "evt-0001"), "evt-0001", "r1")
			srv.FailNext(1, tt.failure)

			_, err := c.PostReply(t.Context(), r)
			requireSlackError(t, err, tt.code, tt.permanent, tt.retryAfter)
			require.Contains(t, err.Error(), "reply for event evt-0001 resend r1")
			require.Len(t, srv.Messages(), 1, "only the notice")

			// The failure was scripted once: the retry goes through.
			_, err = c.PostReply(t.Context(), r)
			require.NoError(t, err)
			require.Len(t, srv.Messages(), 2)
			require.Equal(t, 3, srv.Attempts())
			require.Len(t, srv.RepliesTo(r.ThreadTS), 1)
		})
	}
	t.Run("not a slack token", func(t *testing.T) {
		t.Parallel()
		srv := slacktest.NewServer(t)
		_, err := New("hunter2", slacktest.ChannelID, srv.URL(), nil).PostReply(t.Context(), sampleReply())
		requireSlackError(t, err, "invalid_auth", true, 0)
	})
}

func TestClientFindReply(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	start := time.Now()
	notice := postNoticeTo(t, c, "evt-0001")
	other := postNoticeTo(t, c, "evt-0009")
	post := func(r Reply) Receipt {
		t.Helper()
		got, err := c.PostReply(t.Context(), r)
		require.NoError(t, err)
		return got
	}

	early := post(replyIn(notice, "evt-0001", "r-early"))
	since := time.Now()
	// The thread's other messages, before the one looked for: a person's
	// reply, another app's with the same event id, the reply about another
	// event (a digest's thread has many) and about a resend of this one.
	api := slack.New(testToken, slack.OptionAPIURL(srv.URL()))
	_, _, err := api.PostMessageContext(t.Context(), notice.Channel, slack.MsgOptionText("on it", false), slack.MsgOptionTS(notice.TS))
	require.NoError(t, err)
	_, _, err = api.PostMessageContext(t.Context(), notice.Channel, slack.MsgOptionText("deploy", false), slack.MsgOptionTS(notice.TS),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "deploy", EventPayload: map[string]any{"event_id": "evt-0001"}}))
	require.NoError(t, err)
	post(replyIn(notice, "evt-0002", ""))
	resent := post(replyIn(notice, "evt-0001", "r1"))
	own := post(replyIn(notice, "evt-0001", ""))

	tests := []struct {
		name  string
		r     Reply
		since time.Time
		want  Receipt
		found bool
	}{
		{"the reply about the email", replyIn(notice, "evt-0001", ""), since, own, true},
		{"the reply about the resend's email", replyIn(notice, "evt-0001", "r1"), since, resent, true},
		{"another resend's email", replyIn(notice, "evt-0001", "r2"), since, Receipt{}, false},
		{"another event's email", replyIn(notice, "evt-0003", ""), since, Receipt{}, false},
		{"a reply older than since", replyIn(notice, "evt-0001", "r-early"), since, Receipt{}, false},
		{"the same reply searched from earlier", replyIn(notice, "evt-0001", "r-early"), start, early, true},
		{"zero since searches the whole thread", replyIn(notice, "evt-0001", "r-early"), time.Time{}, early, true},
		{"another thread", replyIn(other, "evt-0001", ""), time.Time{}, Receipt{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := c.FindReply(t.Context(), tt.r, tt.since)
			require.NoError(t, err)
			require.Equal(t, tt.found, found)
			require.Equal(t, tt.want, got)
		})
	}

	forms := srv.RepliesRequests()
	require.Len(t, forms, len(tests), "one page each")
	for i, f := range forms {
		require.Equal(t, slacktest.ChannelID, f.Get("channel"))
		require.Equal(t, tests[i].r.ThreadTS, f.Get("ts"))
		require.Equal(t, "1", f.Get("include_all_metadata"))
		require.Equal(t, "200", f.Get("limit"))
		require.Equal(t, slackTS(tests[i].since), f.Get("oldest"))
		require.Empty(t, f.Get("cursor"))
	}
}

// TestClientFindReplyAfterLostAnswer is the crash window FindReply exists
// for: Slack took the reply, the client never heard, the retry finds it.
func TestClientFindReplyAfterLostAnswer(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	r := replyIn(postNoticeTo(t, c, "evt-0001"), "evt-0001", "")
	since := time.Now()
	srv.FailNext(1, slacktest.Failure{Status: 502})
	_, err := c.PostReply(t.Context(), r)
	require.Error(t, err)
	_, found, err := c.FindReply(t.Context(), r, since)
	require.NoError(t, err)
	require.False(t, found, "a failed post left nothing to find")

	// Slack's answer lost on the way: the message is there.
	_, _, err = slack.New(testToken, slack.OptionAPIURL(srv.URL())).PostMessageContext(t.Context(), r.Channel,
		slack.MsgOptionText("lost", false), slack.MsgOptionTS(r.ThreadTS), slack.MsgOptionMetadata(func() slack.SlackMetadata {
			_, _, meta := ReplyMessage(r)
			return meta
		}()))
	require.NoError(t, err)
	got, found, err := c.FindReply(t.Context(), r, since)
	require.NoError(t, err)
	require.True(t, found)
	msgs := srv.Messages()
	require.Equal(t, Receipt{Channel: slacktest.ChannelID, TS: msgs[len(msgs)-1].TS}, got)
}

func TestClientFindReplyPages(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	c.pageSize, c.maxPages = 2, 3
	digest := postNoticeTo(t, c, "digest")
	posted := map[string]Receipt{}
	for i := range 6 {
		id := fmt.Sprint("evt-", i)
		r, err := c.PostReply(t.Context(), replyIn(digest, id, ""))
		require.NoError(t, err)
		posted[id] = r
	}
	calls := srv.RepliesCalls

	// Pages: the parent and evt-0, evt-1 and evt-2, evt-3 and evt-4, evt-5.
	got, found, err := c.FindReply(t.Context(), replyIn(digest, "evt-0", ""), time.Time{})
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, posted["evt-0"], got)
	require.Equal(t, 1, calls())

	got, found, err = c.FindReply(t.Context(), replyIn(digest, "evt-4", ""), time.Time{})
	require.NoError(t, err)
	require.True(t, found, "on the third page")
	require.Equal(t, posted["evt-4"], got)
	require.Equal(t, 4, calls())
	forms := srv.RepliesRequests()
	require.Empty(t, forms[1].Get("cursor"))
	require.NotEmpty(t, forms[2].Get("cursor"), "the second page follows the cursor")
	require.NotEqual(t, forms[2].Get("cursor"), forms[3].Get("cursor"))

	_, found, err = c.FindReply(t.Context(), replyIn(digest, "evt-5", ""), time.Time{})
	requireSlackError(t, err, CodeHistoryTruncated, true, 0)
	require.False(t, found)
	require.Contains(t, err.Error(), "evt-5")
	require.Equal(t, 7, calls(), "no more than the cap")

	c.maxPages = 4
	_, found, err = c.FindReply(t.Context(), replyIn(digest, "evt-9", ""), time.Time{})
	require.NoError(t, err)
	require.False(t, found, "the whole thread read: not there")
	require.Equal(t, 11, calls())
}

func TestClientFindReplyChannelName(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	for _, thread := range []string{"1767348000.000100", ""} {
		r := sampleReply()
		r.ThreadTS, r.Channel = thread, ""
		_, found, err := New(testToken, "#business", srv.URL(), nil).FindReply(t.Context(), r, time.Time{})
		require.ErrorIs(t, err, ErrChannelNotID)
		require.False(t, found)
		r.Channel = "#course-42"
		_, found, err = New(testToken, slacktest.ChannelID, srv.URL(), nil).FindReply(t.Context(), r, time.Time{})
		require.ErrorIs(t, err, ErrChannelNotID)
		require.False(t, found)
	}
	require.Zero(t, srv.RepliesCalls(), "no API call for a name")
	require.Zero(t, srv.HistoryCalls())
}

func TestClientFindReplyFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(srv *slacktest.Server, r *Reply)
		token      string
		code       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"no history scope", func(srv *slacktest.Server, _ *Reply) { srv.SetScopes("chat:write") }, testToken, "missing_scope", true, 0},
		{"the notice was deleted", func(_ *slacktest.Server, r *Reply) { r.ThreadTS = "1000000000.000001" }, testToken, "thread_not_found", true, 0},
		{"invalid_auth", func(*slacktest.Server, *Reply) {}, "hunter2", "invalid_auth", true, 0},
		{"rate limited", func(srv *slacktest.Server, _ *Reply) {
			srv.FailRepliesNext(1, slacktest.Failure{Status: 429, RetryAfter: "2"})
		}, testToken, "rate_limited", false, 2 * time.Second},
		{"server error", func(srv *slacktest.Server, _ *Reply) { srv.FailRepliesNext(1, slacktest.Failure{Status: 500}) }, testToken, "http_500", false, 0},
		{"internal_error", func(srv *slacktest.Server, _ *Reply) {
			srv.FailRepliesNext(1, slacktest.Failure{SlackError: "internal_error"})
		}, testToken, "internal_error", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t)
			r := replyIn(postNoticeTo(t, New(testToken, slacktest.ChannelID, srv.URL(), nil), "evt-0001"), "evt-0001", "")
			tt.setup(srv, &r)
			_, found, err := New(tt.token, slacktest.ChannelID, srv.URL(), nil).FindReply(t.Context(), r, time.Time{})
			requireSlackError(t, err, tt.code, tt.permanent, tt.retryAfter)
			require.False(t, found)
			require.Contains(t, err.Error(), "reply for event evt-0001")
			require.Equal(t, 1, srv.RepliesCalls())
			// The activity's reading: a look that cannot be made lets it
			// post; Slack unreachable is a failure to retry.
			require.Equal(t, tt.permanent, errors.Is(FindError(err), channel.ErrCannotLook))
		})
	}
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		srv := slacktest.NewServer(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).FindReply(ctx, sampleReply(), time.Time{})
		requireSlackError(t, err, "network", false, 0)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, srv.RepliesCalls())
	})
}

// TestClientReplyWithoutThread covers a reply with no notice to thread it
// under: a message of its own in the channel, found in its history, where
// it does not pass for the event's notice.
func TestClientReplyWithoutThread(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	c := New(testToken, slacktest.ChannelID, srv.URL(), nil)
	start := time.Now()
	notice := postNoticeTo(t, c, "evt-0001")
	r := sampleReply()
	r.Channel, r.ThreadTS = "", ""
	since := time.Now()

	posted, err := c.PostReply(t.Context(), r)
	require.NoError(t, err)
	msgs := srv.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, Receipt{Channel: slacktest.ChannelID, TS: msgs[1].TS}, posted)
	meta, ok := msgs[1].Meta()
	require.True(t, ok)
	require.Equal(t, slacktest.Metadata{EventType: MetadataReplyEventType, EventPayload: map[string]any{"event_id": "evt-0001", "state": "bounced"}}, meta)

	got, found, err := c.FindReply(t.Context(), r, since)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, posted, got)
	require.Equal(t, 1, srv.HistoryCalls())

	resend := r
	resend.ResendID = "r1"
	_, found, err = c.FindReply(t.Context(), resend, time.Time{})
	require.NoError(t, err)
	require.False(t, found)

	got, found, err = c.Find(t.Context(), "evt-0001", start)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, notice, got, "the newer reply is not the notice")
}

// TestClientPostReplyExtremes posts the longest, most hostile reply to the
// stand-in that checks Block Kit's limits as Slack does.
func TestClientPostReplyExtremes(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t)
	s := strings.Repeat("<!channel> & `x` 🎓\n", 1000)
	r := Reply{EventID: s, LearnerName: s, LearnerEmail: s, CourseTitle: s, State: s, Reason: s, At: time.Now(), Command: s}
	_, err := New(testToken, slacktest.ChannelID, srv.URL(), nil).PostReply(t.Context(), r)
	require.NoError(t, err)
	require.Len(t, srv.Messages(), 1)
}

func TestOutboxReply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir, Channel: "C0456"}
	notice, err := o.Post(t.Context(), sampleNotice())
	require.NoError(t, err)
	r := sampleReply()
	r.Channel, r.ThreadTS = "", notice.TS

	// A retried activity writes the same email's reply again.
	got, data := requireRewritten(t, filepath.Join(dir, "slack-reply", "evt-0001.json"), "C0456",
		func() (Receipt, error) { return o.PostReply(t.Context(), r) },
		func() { r.LearnerName = "Ada <b>Lovelace</b>" })
	var msg struct {
		outboxFile
		ThreadTS string `json:"thread_ts"`
	}
	require.NoError(t, json.Unmarshal(data, &msg))
	require.Equal(t, "C0456", msg.Channel)
	require.Equal(t, notice.TS, msg.ThreadTS)
	text, blocks, meta := ReplyMessage(r)
	require.Equal(t, text, msg.Text)
	require.Contains(t, string(data), "Ada &lt;b&gt;Lovelace&lt;/b&gt;", "entities are not hidden behind \\u0026")
	require.Len(t, msg.Blocks.BlockSet, len(blocks))
	require.Equal(t, meta, msg.Metadata)
	noticeFile, err := os.ReadFile(notice.TS)
	require.NoError(t, err)
	require.NotContains(t, string(noticeFile), "thread_ts", "a notice is in no thread")

	resend := r
	resend.ResendID = "20261129-abc"
	resent, err := o.PostReply(t.Context(), resend)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "slack-reply", "evt-0001-resend-20261129-abc.json"), resent.TS)
	require.FileExists(t, got.TS, "a resend's reply does not replace the first email's")

	tests := []struct {
		name  string
		o     Outbox
		r     func(r Reply) Reply
		want  Receipt
		found bool
	}{
		{"the email's reply", o, func(r Reply) Reply { return r }, got, true},
		{"in whatever thread", o, func(r Reply) Reply { r.ThreadTS = ""; return r }, got, true},
		{"the resend's", o, func(r Reply) Reply { r.ResendID = "20261129-abc"; return r }, resent, true},
		{"another resend's", o, func(r Reply) Reply { r.ResendID = "other"; return r }, Receipt{}, false},
		{"another event's", o, func(r Reply) Reply { r.EventID = "evt-0002"; return r }, Receipt{}, false},
		{"an id sharing the file name", o, func(r Reply) Reply { r.EventID = "evt.0001"; return r }, Receipt{}, false},
		{"another channel", o, func(r Reply) Reply { r.Channel = "C0999"; return r }, Receipt{}, false},
		{"no outbox folder yet", Outbox{Dir: t.TempDir()}, func(r Reply) Reply { return r }, Receipt{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, found, err := tt.o.FindReply(t.Context(), tt.r(r), time.Now())
			require.NoError(t, err)
			require.Equal(t, tt.found, found)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestOutboxReplyErrors(t *testing.T) {
	t.Parallel()
	r := sampleReply()
	r.EventID = "broken"
	requireOutboxErrors(t, "slack-reply", "broken.json",
		func(ctx context.Context, o Outbox) error { _, err := o.PostReply(ctx, sampleReply()); return err },
		func(ctx context.Context, o Outbox) error { _, _, err := o.FindReply(ctx, r, time.Time{}); return err },
		"write reply for event evt-0001", "find reply for event broken")
}
