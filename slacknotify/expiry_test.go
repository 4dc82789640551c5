package slacknotify

import (
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/workflows"
)

func TestExpiryMessage(t *testing.T) {
	t.Parallel()
	n := sampleNotice()
	n.Expiry, n.ExpiresAt = true, time.Date(2027, 12, 6, 10, 0, 0, 0, time.UTC)
	n.LearnerName = "<!channel> Bob *Johnson*"
	text, blocks, meta := Message(n)

	require.Equal(t, "&lt;!channel&gt; Bob *Johnson*'s certificate for New Student Orientation expired (2027-12-06 10:00 UTC)", text,
		"untrusted strings are escaped as in every notice")
	require.Equal(t, "Certificate expired", blocks[0].(*slack.HeaderBlock).Text.Text)
	fields := texts(blocks[1].(*slack.SectionBlock).Fields)
	require.Contains(t, fields, "*Expired at*\n2027-12-06 10:00 UTC")
	require.Contains(t, fields, "*Completed at*\n2019-10-17 20:50 UTC")
	require.Equal(t, slack.SlackMetadata{EventType: "certificate_expiry", EventPayload: map[string]any{"event_id": "evt-0001"}}, meta,
		"never taken for the completion's own notice")
}

func TestExpiryNoticeFromTheInput(t *testing.T) {
	t.Parallel()
	in := workflows.NoticeInput{Kind: workflows.ExpiryNotice, ExpiresAt: time.Date(2027, 12, 6, 10, 0, 0, 0, time.UTC)}
	n := notice(in)
	require.True(t, n.Expiry)
	require.Equal(t, in.ExpiresAt, n.ExpiresAt)
	require.False(t, notice(workflows.NoticeInput{}).Expiry, "a completion's notice stays one")
}

func TestExpiryDigestWording(t *testing.T) {
	t.Parallel()
	d := sampleDigest()
	d.Kind = workflows.DigestExpiry
	text, blocks, _ := DigestMessage(d)
	require.True(t, strings.HasPrefix(text, "243 learners' certificates expired for New Student Orientation"), text)
	require.Equal(t, "Certificates expired: 243 learners", blocks[0].(*slack.HeaderBlock).Text.Text)
	d.Count, d.Names = 1, d.Names[:1]
	text, _, _ = DigestMessage(d)
	require.True(t, strings.HasPrefix(text, "1 learner's certificate expired for"), text)
}

func TestOutboxKeepsTheExpiryBesideTheNotice(t *testing.T) {
	t.Parallel()
	o := Outbox{Dir: t.TempDir()}
	first, err := o.Post(t.Context(), sampleNotice())
	require.NoError(t, err)
	n := sampleNotice()
	n.Expiry = true
	second, err := o.Post(t.Context(), n)
	require.NoError(t, err)
	require.NotEqual(t, first.TS, second.TS, "the expiry notice does not replace the completion's file")
	require.True(t, strings.HasSuffix(second.TS, "evt-0001-expiry.json"), second.TS)
}
