package slacknotify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

func sampleNotice() Notice {
	return Notice{
		EventID:      "evt-0001",
		LearnerName:  "Bob Johnson",
		LearnerEmail: "bob.johnson@example.com",
		CourseTitle:  "New Student Orientation",
		CourseID:     "course-42",
		CompanyID:    "3aabdfb8-3891-5011-ad35-8e2351c5fdaf",
		CompletedAt:  time.Date(2019, 10, 17, 20, 50, 53, 0, time.UTC),
	}
}

func TestMessageSample(t *testing.T) {
	t.Parallel()
	text, blocks, meta := Message(sampleNotice())

	require.Equal(t, "Bob Johnson completed New Student Orientation (2019-10-17 20:50 UTC)", text)
	require.Len(t, blocks, 3)

	head, ok := blocks[0].(*slack.HeaderBlock)
	require.True(t, ok, "block 0 is %T", blocks[0])
	require.Equal(t, slack.PlainTextType, head.Text.Type)
	require.Equal(t, "Course completed", head.Text.Text)

	section, ok := blocks[1].(*slack.SectionBlock)
	require.True(t, ok, "block 1 is %T", blocks[1])
	require.Nil(t, section.Text)
	require.Equal(t, []string{
		"*Learner*\nBob Johnson",
		"*Email*\nbob.johnson@example.com",
		"*Course*\nNew Student Orientation",
		"*Company*\n3aabdfb8-3891-5011-ad35-8e2351c5fdaf",
		"*Completed at*\n2019-10-17 20:50 UTC",
	}, texts(section.Fields))
	for _, f := range section.Fields {
		require.Equal(t, slack.MarkdownType, f.Type)
		require.True(t, f.Verbatim, "user strings must not be auto-linked")
		require.Nil(t, f.Emoji, "Slack rejects emoji on mrkdwn")
	}

	ctxBlock, ok := blocks[2].(*slack.ContextBlock)
	require.True(t, ok, "block 2 is %T", blocks[2])
	var ctxTexts []string
	for _, el := range ctxBlock.ContextElements.Elements {
		obj, ok := el.(*slack.TextBlockObject)
		require.True(t, ok, "context element is %T", el)
		require.Equal(t, slack.MarkdownType, obj.Type)
		ctxTexts = append(ctxTexts, obj.Text)
	}
	require.Equal(t, []string{"Event ID: evt-0001", "Course ID: course-42"}, ctxTexts)

	require.Equal(t, slack.SlackMetadata{
		EventType:    "course_completion",
		EventPayload: map[string]any{"event_id": "evt-0001"},
	}, meta)
}

func TestMessageConvertsTimeToUTC(t *testing.T) {
	t.Parallel()
	n := sampleNotice()
	n.CompletedAt = time.Date(2019, 10, 17, 22, 50, 0, 0, time.FixedZone("CEST", 2*60*60))
	text, _, _ := Message(n)
	require.Contains(t, text, "2019-10-17 20:50 UTC")
}

func TestMessageBlanks(t *testing.T) {
	t.Parallel()
	text, blocks, _ := Message(Notice{EventID: "e"})
	require.Equal(t, "— completed — (—)", text)
	for _, s := range allTexts(t, blocks) {
		require.NotEmpty(t, s, "Slack rejects empty text objects")
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"<!channel>", "&lt;!channel&gt;"},
		{"<!here|here>", "&lt;!here|here&gt;"},
		{"<@U123>", "&lt;@U123&gt;"},
		{"<https://evil|click>", "&lt;https://evil|click&gt;"},
		{"a & b", "a &amp; b"},
		{"Tom's <b>", "Tom's &lt;b&gt;"},
		{"&amp;", "&amp;amp;"},
		{"*bold* _it_ ~s~ `c`", "*bold* _it_ ~s~ `c`"},
		{"Zoë 🎓", "Zoë 🎓"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Escape(tt.in))
		})
	}
}

func TestMessageNeutralisesUserStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"channel mention", "<!channel>", "&lt;!channel&gt;"},
		{"user mention", "<@U123>", "&lt;@U123&gt;"},
		{"link", "<https://evil|click>", "&lt;https://evil|click&gt;"},
		{"date", "<!date^1392734382^{date}|x>", "&lt;!date^1392734382^{date}|x&gt;"},
		{"ampersand", "a & b", "a &amp; b"},
		{"quote and tag", "Tom's <b>", "Tom's &lt;b&gt;"},
		{"fake line", "Bob\n*Company*\nEvil Corp", "Bob *Company* Evil Corp"},
		{"quote line", "x\n> quoted", "x &gt; quoted"},
		{"bidi override", "abc\u202edcb", "abcdcb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := Notice{
				EventID: tt.in, LearnerName: tt.in, LearnerEmail: tt.in,
				CourseTitle: tt.in, CourseID: tt.in, CompanyID: tt.in,
			}
			text, blocks, _ := Message(n)
			require.Contains(t, text, tt.want)
			require.NotContains(t, text, "<")

			section := blocks[1].(*slack.SectionBlock)
			for i, f := range texts(section.Fields[:4]) {
				_, v, _ := strings.Cut(f, "\n")
				require.Equal(t, tt.want, v, "field %d", i)
			}
			for _, s := range allTexts(t, blocks) {
				require.NotContains(t, s, "<", "raw < reached Slack")
				require.NotContains(t, s, ">", "raw > reached Slack")
			}
		})
	}
}

func TestMessageRespectsLimits(t *testing.T) {
	t.Parallel()
	long := func(unit string) string {
		var b strings.Builder
		for utf8.RuneCountInString(b.String()) < 10_000 {
			b.WriteString(unit)
		}
		return b.String()
	}
	tests := []struct{ name, unit string }{
		{"ascii", "x"},
		{"entities", "&"},
		{"mixed", "Tom & Jerry <b> "},
		{"astral", "🎓"},
		{"accented", "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := long(tt.unit)
			n := Notice{
				EventID: s, LearnerName: s, LearnerEmail: s, CourseTitle: s,
				CourseID: s, CompanyID: s, CompletedAt: time.Now(),
			}
			text, blocks, _ := Message(n)
			requireWithin(t, text, fallbackLimit)
			require.Contains(t, text, ellipsis, "fallback values were not cut")

			head := blocks[0].(*slack.HeaderBlock)
			requireWithin(t, head.Text.Text, headerLimit)

			section := blocks[1].(*slack.SectionBlock)
			require.LessOrEqual(t, len(section.Fields), 10)
			for _, f := range section.Fields[:4] {
				requireWithin(t, f.Text, fieldLimit)
				require.True(t, strings.HasSuffix(f.Text, ellipsis), "field not marked as cut: …%q", tail(f.Text))
			}
			for _, el := range blocks[2].(*slack.ContextBlock).ContextElements.Elements {
				obj := el.(*slack.TextBlockObject)
				requireWithin(t, obj.Text, contextLimit)
				require.True(t, strings.HasSuffix(obj.Text, ellipsis))
			}
		})
	}
}

// brokenEntity reports whether an & in s does not begin one of the three
// entities Escape writes, which is what a cut through an entity leaves.
func brokenEntity(s string) bool {
	for i := range s {
		if s[i] == '&' && !strings.HasPrefix(s[i:], "&amp;") && !strings.HasPrefix(s[i:], "&lt;") && !strings.HasPrefix(s[i:], "&gt;") {
			return true
		}
	}
	return false
}

// requireWithin checks s against a Slack limit under both readings of
// "character" and that no entity was split.
func requireWithin(t *testing.T, s string, limit int) {
	t.Helper()
	require.LessOrEqual(t, length(s), limit, "UTF-16 length")
	require.LessOrEqual(t, utf8.RuneCountInString(s), limit, "rune count")
	require.True(t, utf8.ValidString(s))
	require.False(t, brokenEntity(s), "broken entity near …%q", tail(s))
}

func TestBrokenEntity(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"a&", "a&am", "a&amp", "&l…", "&gt", "& b"} {
		require.True(t, brokenEntity(s), s)
	}
	for _, s := range []string{"", "a&amp;b", "&lt;&gt;", "no entities"} {
		require.False(t, brokenEntity(s), s)
	}
}

func tail(s string) string {
	r := []rune(s)
	return string(r[max(0, len(r)-12):])
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		limit  int
		escape bool
		want   string
	}{
		{"fits", "Bob", 3, false, "Bob"},
		{"empty", "", 5, false, ""},
		{"zero limit", "Bob", 0, false, ""},
		{"negative limit", "Bob", -1, false, ""},
		{"cut", "Bob Johnson", 6, false, "Bob J…"},
		{"cut drops trailing space", "Bob Johnson", 5, false, "Bob…"},
		{"only room for ellipsis", "Bob", 1, false, "…"},
		{"two-byte runes", "ééééé", 4, false, "ééé…"},
		{"astral runes count two", "🎓🎓🎓", 6, false, "🎓🎓🎓"},
		{"astral rune never split", "🎓🎓🎓", 5, false, "🎓🎓…"},
		{"astral rune that does not fit whole", "🎓🎓🎓", 4, false, "🎓…"},
		{"invalid utf-8 becomes replacement", "a\xffb", 3, false, "a\uFFFDb"},
		{"escape fits", "a&b", 7, true, "a&amp;b"},
		{"escape counts entity length", "a&b", 6, true, "a…"},
		{"entity never split", "a&b", 5, true, "a…"},
		{"entity kept when it fits", "a&bc", 7, true, "a&amp;…"},
		{"lt and gt", "<!channel>", 100, true, "&lt;!channel&gt;"},
		{"cut after lt", "<!channel>", 6, true, "&lt;!…"},
		{"without escape ampersand is one", "a&b", 3, false, "a&b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := truncate(tt.in, tt.limit, tt.escape)
			require.Equal(t, tt.want, got)
			require.LessOrEqual(t, length(got), max(tt.limit, 0))
		})
	}
}

func texts(objs []*slack.TextBlockObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Text)
	}
	return out
}

// allTexts returns every "text" string in the blocks as Slack receives them.
func allTexts(t *testing.T, blocks []slack.Block) []string {
	t.Helper()
	data, err := json.Marshal(blocks)
	require.NoError(t, err)
	var raw any
	require.NoError(t, json.Unmarshal(data, &raw))
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if s, ok := child.(string); ok && k == "text" {
					out = append(out, s)
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(raw)
	return out
}

func TestMessageRecompletion(t *testing.T) {
	t.Parallel()
	earlier := time.Date(2026, 1, 2, 11, 0, 0, 0, time.FixedZone("CET", 60*60))
	tests := []struct {
		name        string
		previousID  string
		previousAt  time.Time
		line        string
		recompleted bool
	}{
		{"id and time", "evt-0000", earlier, "Re-completion: earlier completed 2026-01-02 10:00 UTC (event evt-0000)", true},
		{"time only", "", earlier, "Re-completion: earlier completed 2026-01-02 10:00 UTC", true},
		{"id only", "evt-0000", time.Time{}, "Re-completion: earlier completed (event evt-0000)", true},
		{"hostile id", "<!channel>\n*x*", earlier, "Re-completion: earlier completed 2026-01-02 10:00 UTC (event &lt;!channel&gt; *x*)", true},
		{"blank id, no time", " \u200e\n", time.Time{}, "", false},
		{"neither", "", time.Time{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := sampleNotice()
			n.PreviousEventID, n.PreviousCompletedAt = tt.previousID, tt.previousAt
			require.Equal(t, tt.recompleted, n.Recompletion())
			text, blocks, meta := Message(n)
			require.Equal(t, "evt-0001", meta.EventPayload["event_id"], "the notice is still found by its own event")

			if !tt.recompleted {
				first, firstBlocks, _ := Message(sampleNotice())
				require.Equal(t, first, text)
				require.Equal(t, firstBlocks, blocks)
				return
			}
			require.Equal(t, "Bob Johnson completed New Student Orientation (2019-10-17 20:50 UTC). "+tt.line, text)
			require.Len(t, blocks, 4)
			require.Equal(t, "Course completed again", blocks[0].(*slack.HeaderBlock).Text.Text)
			require.IsType(t, &slack.SectionBlock{}, blocks[1])
			again := blocks[2].(*slack.ContextBlock).ContextElements.Elements
			require.Len(t, again, 1)
			obj := again[0].(*slack.TextBlockObject)
			require.Equal(t, tt.line, obj.Text)
			require.True(t, obj.Verbatim)
			ids := blocks[3].(*slack.ContextBlock).ContextElements.Elements
			require.Equal(t, "Event ID: evt-0001", ids[0].(*slack.TextBlockObject).Text)
		})
	}
}

func TestMessageCourseName(t *testing.T) {
	t.Parallel()
	n := sampleNotice()
	n.CourseName = "Onboarding <EMEA> & co"
	_, blocks, _ := Message(n)
	require.Equal(t, []string{
		"*Learner*\nBob Johnson",
		"*Email*\nbob.johnson@example.com",
		"*Course*\nNew Student Orientation",
		"*Course name*\nOnboarding &lt;EMEA&gt; &amp; co",
		"*Company*\n3aabdfb8-3891-5011-ad35-8e2351c5fdaf",
		"*Completed at*\n2019-10-17 20:50 UTC",
	}, texts(blocks[1].(*slack.SectionBlock).Fields))

	n.CourseName = " \t"
	_, blocks, _ = Message(n)
	require.Len(t, blocks[1].(*slack.SectionBlock).Fields, 5, "a blank name adds no field")
}

// TestNoticeJSONUnchanged keeps the JSON of a notice without the new fields
// as it was, so histories and files written before them read the same.
func TestNoticeJSONUnchanged(t *testing.T) {
	t.Parallel()
	data, err := json.Marshal(sampleNotice())
	require.NoError(t, err)
	require.JSONEq(t, `{"event_id":"evt-0001","learner_name":"Bob Johnson","learner_email":"bob.johnson@example.com",
		"course_title":"New Student Orientation","course_id":"course-42","company_id":"3aabdfb8-3891-5011-ad35-8e2351c5fdaf",
		"completed_at":"2019-10-17T20:50:53Z"}`, string(data))

	n := sampleNotice()
	n.Channel, n.CourseName, n.PreviousEventID = "C0COURSE", "Onboarding", "evt-0000"
	n.PreviousCompletedAt = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	data, err = json.Marshal(n)
	require.NoError(t, err)
	var back Notice
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, n, back)
}

func TestMessageRecompletionRespectsLimits(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("&🎓", 5000)
	n := Notice{
		EventID: s, LearnerName: s, LearnerEmail: s, CourseTitle: s, CourseID: s, CompanyID: s,
		CourseName: s, PreviousEventID: s, CompletedAt: time.Now(), PreviousCompletedAt: time.Now(),
	}
	text, blocks, _ := Message(n)
	requireWithin(t, text, fallbackLimit)
	requireBlockLimits(t, blocks)
	section := blocks[1].(*slack.SectionBlock)
	require.Len(t, section.Fields, 6)
	for _, f := range section.Fields[:5] {
		require.True(t, strings.HasSuffix(f.Text, ellipsis))
	}
	line := blocks[2].(*slack.ContextBlock).ContextElements.Elements[0].(*slack.TextBlockObject).Text
	require.True(t, strings.HasSuffix(line, ellipsis+")"), "the id was cut inside its parentheses: …%q", tail(line))
}

// requireBlockLimits checks every Block Kit limit the messages can reach:
// the number of blocks, the header, section texts and fields, and context
// elements; and that no text object is empty or carries a raw < or >.
func requireBlockLimits(t *testing.T, blocks []slack.Block) {
	t.Helper()
	require.LessOrEqual(t, len(blocks), 50)
	for i, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			require.Equal(t, slack.PlainTextType, b.Text.Type)
			requireWithin(t, b.Text.Text, headerLimit)
		case *slack.SectionBlock:
			require.True(t, b.Text != nil || len(b.Fields) > 0, "block %d: a section needs text or fields", i)
			if b.Text != nil {
				requireWithin(t, b.Text.Text, sectionLimit)
			}
			require.LessOrEqual(t, len(b.Fields), 10)
			for _, f := range b.Fields {
				requireWithin(t, f.Text, fieldLimit)
			}
		case *slack.ContextBlock:
			els := b.ContextElements.Elements
			require.NotEmpty(t, els)
			require.LessOrEqual(t, len(els), 10)
			for _, el := range els {
				requireWithin(t, el.(*slack.TextBlockObject).Text, contextLimit)
			}
		default:
			t.Fatalf("block %d: unexpected %T", i, b)
		}
	}
	for _, s := range allTexts(t, blocks) {
		require.NotEmpty(t, s, "Slack rejects empty text objects")
		require.NotContains(t, s, "<", "raw < reached Slack")
		require.NotContains(t, s, ">", "raw > reached Slack")
	}
}
