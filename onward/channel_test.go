package onward

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/workflows"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func testChannel(t *testing.T) Channel {
	t.Helper()
	return Channel{
		Sender:    NewSender(Options{AllowPrivate: true}),
		Getenv:    func(name string) string { return map[string]string{"HOOK": testSecret, "WEAK": "whsec_c2hvcnQ="}[name] },
		OutboxDir: t.TempDir(),
	}
}

// TestSectionIsCheckedAsTheFileLoads: every mistake in a webhook: section
// stops the file with its line, and the secret never sits in the file.
func TestSectionIsCheckedAsTheFileLoads(t *testing.T) {
	sec := *testChannel(t).Spec().Section
	cases := []struct{ yaml, want string }{
		{`webhook: {url: "ftp://crm.example.com", secret: "env:HOOK"}`, "url"},
		{`webhook: {url: "http://crm.example.com/in", secret: "env:HOOK"}`, "https"},
		{`webhook: {url: "https://crm.example.com/in", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, "want env:NAME"},
		{`webhook: {url: "https://crm.example.com/in", secret: "env:MISSING"}`, "MISSING is not set"},
		{`webhook: {url: "https://crm.example.com/in", secret: "env:WEAK"}`, "WEAK"},
		{`webhook: {url: "https://crm.example.com/in"}`, "a url needs its secret"},
		{`webhook: {enabled: yes}`, "want true or false"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "courses.yaml")
		require.NoError(t, os.WriteFile(path, []byte("courses:\n  c1:\n    "+c.yaml+"\n"), 0o600))
		_, err := courses.Load(path, courses.Route{}, sec)
		require.ErrorContains(t, err, c.want, c.yaml)
		require.ErrorContains(t, err, "courses.yaml:3:", "the problem has its line")
		require.NotContains(t, err.Error(), "MfKQ9r8", "errors never show a secret")
	}
	path := filepath.Join(t.TempDir(), "courses.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`defaults:
  webhook: {url: "https://crm.example.com/in", secret: "env:HOOK"}
courses:
  quiet: {webhook: {enabled: false}}
  local: {webhook: {url: "http://127.0.0.1:9999/in"}}
`), 0o600))
	table, err := courses.Load(path, courses.Route{}, sec)
	require.NoError(t, err)
	ch := testChannel(t)
	require.True(t, ch.Enabled(table.Route("any")))
	require.False(t, ch.Enabled(table.Route("quiet")))
	require.True(t, ch.Enabled(table.Route("local")))
	require.Equal(t, "env:HOOK", table.Route("local").Channels[Name]["secret"], "the secret comes from the defaults")
	require.False(t, ch.Enabled(courses.Route{}), "no section, no webhook")
}

func TestMessageIDIsStableAndSafe(t *testing.T) {
	id := MessageID("32ed16df-27cb-5f72-90ff-4eaf39346f86", "")
	require.Equal(t, id, MessageID("32ed16df-27cb-5f72-90ff-4eaf39346f86", ""))
	require.NotEqual(t, id, MessageID("32ed16df-27cb-5f72-90ff-4eaf39346f86", "r1"), "a resend is a delivery of its own")
	require.Regexp(t, `^msg_[0-9a-f]{32}$`, id)
	require.NoError(t, checkMsgID(MessageID("a.b\x00évènement", "")))
}

// TestWithoutAURLTheEventGoesToTheOutbox: make run's courses may name no
// url; the event is written where a developer can read it.
func TestWithoutAURLTheEventGoesToTheOutbox(t *testing.T) {
	ch := testChannel(t)
	in := notice(t)
	in.Route.Channels = map[string]map[string]string{Name: {}}
	r, err := ch.Send(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, workflows.Receipt{ID: MessageID(in.Event.ID, ""), Where: "outbox"}, r)
	b, err := os.ReadFile(filepath.Join(ch.OutboxDir, Name, in.Event.ID+".json"))
	require.NoError(t, err)
	var got struct {
		WebhookID string `json:"webhook-id"`
		Body      Event  `json:"body"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, r.ID, got.WebhookID)
	require.Equal(t, EventType, got.Body.Type)
	require.Equal(t, "Orientation", got.Body.Data.Course.Name)
}

// TestEventCarriesTheCertificateAndTheRoute: the verification code and page
// where there are some, a re-completion's earlier event, the route.
func TestEventCarriesTheCertificateAndTheRoute(t *testing.T) {
	in := notice(t)
	in.VerificationCode = "7KQ2M-X4D9R-0ZPV3-TNW8H"
	in.Previous = &workflows.Previous{EventID: "earlier"}
	e := NewEvent("msg_1", in.Event, in, "https://certs.example.com/certificates/7KQ2M-X4D9R-0ZPV3-TNW8H")
	require.Equal(t, &Certificate{VerificationCode: in.VerificationCode, VerificationURL: "https://certs.example.com/certificates/7KQ2M-X4D9R-0ZPV3-TNW8H"}, e.Data.Certificate)
	require.Equal(t, "earlier", e.Data.PreviousEventID)
	require.Equal(t, Route{Slack: true, Email: false, Webhook: true, SlackChannel: "C0456EFGH"}, e.Data.Route)
	require.Equal(t, time.Date(2019, 10, 17, 20, 50, 53, 103000000, time.UTC), e.Timestamp)
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.NotContains(t, string(b), "env:", "the route's secret reference stays home")

	e = NewEvent("msg_1", in.Event, workflows.NoticeInput{Event: in.Event, ReceivedAt: in.ReceivedAt}, "")
	require.Nil(t, e.Data.Certificate, "no verification, no certificate block")
}

// TestSendClassifiesForTheActivities: a refusal from the receiver becomes a
// permanent channel failure, a 5xx a retryable one.
func TestSendClassifiesForTheActivities(t *testing.T) {
	ch := testChannel(t)
	in := notice(t)
	in.Route.Channels = map[string]map[string]string{Name: {"url": "http://127.0.0.1:1/in", "secret": "env:HOOK"}}
	_, err := ch.Send(context.Background(), in)
	var f *channel.Failure
	require.ErrorAs(t, err, &f)
	require.False(t, f.Permanent, "a refused connection is retried")
	require.True(t, strings.HasPrefix(f.Message, "webhook: "))

	in.Route.Channels[Name]["secret"] = "env:MISSING"
	_, err = ch.Send(context.Background(), in)
	require.ErrorAs(t, err, &f)
	require.Contains(t, f.Message, "MISSING is not set")
}

func notice(t *testing.T) workflows.NoticeInput {
	t.Helper()
	b, err := os.ReadFile("../testdata/course-completion.json")
	require.NoError(t, err)
	var e event.Event
	require.NoError(t, json.Unmarshal(b, &e))
	return workflows.NoticeInput{Event: e, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Route: &courses.Route{
		CourseName: "Orientation", Slack: courses.SlackRoute{Enabled: true, Channel: "C0456EFGH"}, Email: courses.EmailRoute{Enabled: false},
	}}
}
