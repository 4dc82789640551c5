package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// countingChannel is a notice channel that counts what it is asked to
// send, by kind.
type countingChannel struct {
	name string
	mu   sync.Mutex
	sent []workflows.NoticeInput
}

func (c *countingChannel) Spec() channel.Spec {
	// Slack's notices go through the course's digest, as the real
	// channel's do.
	return channel.Spec{Name: c.name, Provider: c.name, Queue: channel.Queue{Suffix: "-" + c.name}, Digest: c.name == workflows.StepNameSlack}
}
func (c *countingChannel) Enabled(r courses.Route) bool {
	if c.name == workflows.StepNameSlack {
		return r.Slack.Enabled
	}
	return r.Email.Enabled
}
func (c *countingChannel) Send(_ context.Context, n workflows.NoticeInput) (workflows.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, n)
	return workflows.Receipt{ID: c.name + "-" + n.Kind}, nil
}
func (c *countingChannel) Find(context.Context, workflows.NoticeInput, time.Time) (workflows.Receipt, bool, error) {
	return workflows.Receipt{}, false, nil
}
func (c *countingChannel) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// starts records the expiry digests signalled with their start.
type starts struct {
	mu      sync.Mutex
	ids     []string
	in      []workflows.DigestStart
	signals []any
}

func (s *starts) SignalWithStartWorkflow(_ context.Context, id, _ string, signal any, _ client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, id)
	s.in = append(s.in, args[0].(workflows.DigestStart))
	s.signals = append(s.signals, signal)
	return nil, nil
}
func (s *starts) SignalWorkflow(context.Context, string, string, string, any) error { return nil }
func (s *starts) CompleteActivityByID(context.Context, string, string, string, string, any, error) error {
	return nil
}

// validityFixture is a worker's activities over a real SQLite store, with
// a course whose certificates last a year and are reminded of 30 and 7
// days ahead.
type validityFixture struct {
	a            *Activities
	st           *store.Store
	slack, email *countingChannel
	digests      *starts
	env          *testsuite.TestActivityEnvironment
}

const yearlyCourses = `
courses:
  c-yearly:
    name: Safety
    url: https://learn.example.com/safety
    certificate: {validFor: 12mo, remind: [7d, 30d]}
  c-quiet:
    certificate: {validFor: 12mo}
    slack: {enabled: false}
    digest: {enabled: false}
`

func newValidityFixture(t *testing.T) *validityFixture {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "coursehook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	path := filepath.Join(t.TempDir(), "courses.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yearlyCourses), 0o600))
	base := courses.Route{Slack: courses.SlackRoute{Channel: "C0123ABCD", Enabled: true}, Email: courses.EmailRoute{Enabled: true},
		Digest: courses.DigestRoute{Threshold: 5, Window: time.Minute}}
	table, err := courses.Load(path, base)
	require.NoError(t, err)
	f := &validityFixture{st: st, slack: &countingChannel{name: "slack"}, email: &countingChannel{name: "email"}, digests: &starts{}}
	f.a = &Activities{Store: st, Channels: []channel.Channel{f.slack, f.email}, Routes: courses.NewRoutes(table), Digests: f.digests}
	f.env = (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	f.env.RegisterActivity(f.a)
	return f
}

// record runs the record step for learner's completion of course, received
// at received and dated 2019, as the platform's sample is.
func (f *validityFixture) record(t *testing.T, id, course, learner string, received time.Time, recordOnly bool) workflows.RecordResult {
	t.Helper()
	return f.recordPlanned(t, id, course, learner, received, recordOnly, false)
}

// recordPlanned is record, asking for the notice's plan when planned, as
// a planned run does.
func (f *validityFixture) recordPlanned(t *testing.T, id, course, learner string, received time.Time, recordOnly, planned bool) workflows.RecordResult {
	t.Helper()
	body, err := json.Marshal(map[string]any{"id": id, "event": "courseCompletion", "user": learner,
		"notifiableId": course, "title": "Safety Basics", "timestamp": "2019-10-17T20:50:53.103Z"})
	require.NoError(t, err)
	in := workflows.RecordInput{Payload: body, ReceivedAt: received, RecordOnly: recordOnly, PlanNotice: planned}
	require.NoError(t, json.Unmarshal(body, &in.Event))
	v, err := f.env.ExecuteActivity(workflows.ActivityRecordCompletion, in)
	require.NoError(t, err)
	var res workflows.RecordResult
	require.NoError(t, v.Get(&res))
	return res
}

func (f *validityFixture) notice(t *testing.T, in workflows.CertificateNoticeInput) workflows.CertificateNoticeResult {
	t.Helper()
	v, err := f.env.ExecuteActivity(workflows.ActivityCertificateNotice, in)
	require.NoError(t, err)
	var res workflows.CertificateNoticeResult
	require.NoError(t, v.Get(&res))
	return res
}

func TestTheRecordStepSchedulesTheCertificate(t *testing.T) {
	f := newValidityFixture(t)
	received := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	res := f.record(t, "e1", "c-yearly", "Ada@Example.org", received, false)
	expires := time.Date(2027, 12, 6, 10, 0, 0, 0, time.UTC)
	require.Equal(t, expires, res.ExpiresAt, "a year from when the certificate was issued, not from the 2019 timestamp")
	require.Equal(t, &workflows.CertificateValidityInput{EventID: "e1", ExpiresAt: expires, Reminders: []workflows.DueReminder{
		{Before: "30d", At: expires.AddDate(0, 0, -30)}, {Before: "7d", At: expires.AddDate(0, 0, -7)},
	}}, res.Validity)
	rec, err := f.st.Get(t.Context(), "e1")
	require.NoError(t, err)
	require.Equal(t, expires, rec.ExpiresAt, "stored with the row")

	// Its retry finds the same row and the same schedule.
	again := f.record(t, "e1", "c-yearly", "Ada@Example.org", received.Add(time.Hour), false)
	require.Equal(t, res.Validity, again.Validity)

	// History imported with --record-only counts from its own date, and
	// gets no schedule: nobody is told about it.
	old := f.record(t, "e0", "c-yearly", "grace@example.org", received, true)
	require.Equal(t, time.Date(2020, 10, 17, 20, 50, 53, 103000000, time.UTC), old.ExpiresAt)
	require.Nil(t, old.Validity)

	// A course without validFor: no expiry, no schedule.
	plain := f.record(t, "e2", "c-other", "ada@example.org", received, false)
	require.True(t, plain.ExpiresAt.IsZero())
	require.Nil(t, plain.Validity)
}

func TestARecompletionSupersedesTheEarlierCertificate(t *testing.T) {
	f := newValidityFixture(t)
	received := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f.record(t, "first", "c-yearly", "ada@example.org", received, false)
	res := f.record(t, "renewal", "c-yearly", "ADA@example.org", received.Add(24*time.Hour), false)
	require.Equal(t, &workflows.Previous{EventID: "first", CompletedAt: time.Date(2019, 10, 17, 20, 50, 53, 103000000, time.UTC), Renewed: true}, res.Previous,
		"the same learner, by the email's key, renews the certificate")
	rec, err := f.st.Get(t.Context(), "first")
	require.NoError(t, err)
	require.Equal(t, "renewal", rec.SupersededBy)

	// The old certificate's notices end its schedule; nothing is sent.
	got := f.notice(t, workflows.CertificateNoticeInput{EventID: "first", Notice: "reminder-30d"})
	require.True(t, got.Superseded)
	v, err := f.env.ExecuteActivity(workflows.ActivityEnqueueExpiry, workflows.EnqueueExpiryInput{EventID: "first", WorkflowID: "w", TaskQueue: "q"})
	require.NoError(t, err)
	var plan workflows.ExpiryPlan
	require.NoError(t, v.Get(&plan))
	require.True(t, plan.Superseded)
	require.Zero(t, f.email.count()+f.slack.count())
}

func TestANoticeIsSentOnce(t *testing.T) {
	f := newValidityFixture(t)
	res := f.record(t, "e1", "c-yearly", "ada@example.org", time.Now(), false)
	in := workflows.CertificateNoticeInput{EventID: "e1", Notice: "reminder-30d", ExpiresAt: res.ExpiresAt}
	first := f.notice(t, in)
	require.Equal(t, workflows.Receipt{ID: "email-reminder-30d"}, first.Receipt)
	require.False(t, first.Again)
	// A retry after a crash, or a reset run: found, not sent again.
	again := f.notice(t, in)
	require.True(t, again.Again)
	require.Equal(t, first.Receipt, again.Receipt)
	require.Equal(t, 1, f.email.count())

	sent := f.email.sent[0]
	require.Equal(t, "reminder-30d", sent.Kind)
	require.Equal(t, res.ExpiresAt, sent.ExpiresAt)
	require.Equal(t, "https://learn.example.com/safety", sent.Route.URL, "the reminder has the course's link")

	notices, err := f.st.Notices(t.Context(), "e1")
	require.NoError(t, err)
	require.Len(t, notices, 1)
	require.Equal(t, "email", notices[0].Channel)
}

// TestTheRowKeepsItsRenderer: the record step stores the worker's
// renderer version with a new row and hands it to the notices; a row
// recorded earlier by another version keeps its own, and its reminders
// and resends draw with it.
func TestTheRowKeepsItsRenderer(t *testing.T) {
	f := newValidityFixture(t)
	res := f.record(t, "e-new", "c-yearly", "ada@example.org", time.Now(), false)
	require.Equal(t, certificate.CurrentRenderer, res.Renderer)
	rec, err := f.st.Get(t.Context(), "e-new")
	require.NoError(t, err)
	require.Equal(t, certificate.CurrentRenderer, rec.Renderer)

	// A row from before version 2, as an older worker left it.
	f.a.Renderer = certificate.Renderer1
	res = f.record(t, "e-old", "c-yearly", "bob@example.org", time.Now(), false)
	require.Equal(t, certificate.Renderer1, res.Renderer)
	f.a.Renderer = 0
	again := f.record(t, "e-old", "c-yearly", "bob@example.org", time.Now(), false)
	require.Equal(t, certificate.Renderer1, again.Renderer, "a retry by this worker keeps the row's version")

	f.notice(t, workflows.CertificateNoticeInput{EventID: "e-old", Notice: "reminder-30d", ExpiresAt: res.ExpiresAt})
	require.Equal(t, certificate.Renderer1, f.email.sent[0].Renderer, "the reminder is the row's")
	v, err := f.env.ExecuteActivity(workflows.ActivityLoadEvent, workflows.LoadInput{EventID: "e-old"})
	require.NoError(t, err)
	var loaded workflows.LoadedEvent
	require.NoError(t, v.Get(&loaded))
	require.Equal(t, certificate.Renderer1, loaded.Renderer, "a resend is the row's")
}

func TestARevokedCertificateGetsNothing(t *testing.T) {
	f := newValidityFixture(t)
	f.record(t, "e1", "c-yearly", "ada@example.org", time.Now(), false)
	require.NoError(t, f.st.RecordOutcome(t.Context(), store.Outcome{EventID: "e1", Status: store.StatusCompleted,
		Receipts: workflows.Receipts{"email": {ID: "m1", SHA256: "ab"}}}))
	_, _, err := f.st.Revoke(t.Context(), "e1", "other", "", "ops", time.Now())
	require.NoError(t, err)
	require.True(t, f.notice(t, workflows.CertificateNoticeInput{EventID: "e1", Notice: "reminder-7d"}).Revoked)
	require.Zero(t, f.email.count())
}

func TestTheExpiryGoesThroughTheCoursesDigest(t *testing.T) {
	f := newValidityFixture(t)
	f.record(t, "e1", "c-yearly", "ada@example.org", time.Now(), false)
	v, err := f.env.ExecuteActivity(workflows.ActivityEnqueueExpiry, workflows.EnqueueExpiryInput{EventID: "e1", WorkflowID: "wf-e1", TaskQueue: "q"})
	require.NoError(t, err)
	var plan workflows.ExpiryPlan
	require.NoError(t, v.Get(&plan))
	require.Equal(t, workflows.ExpiryPlan{Gather: true, Wait: time.Minute + workflows.DefaultNoticeDeadline}, plan)
	require.Equal(t, []string{workflows.ExpiryDigestWorkflowID("q", "c-yearly", "C0123ABCD")}, f.digests.ids)
	require.Equal(t, workflows.DigestExpiry, f.digests.in[0].Kind, "the expiry digest, not the completions'")

	// A course without Slack notices: nothing to post.
	f.record(t, "e2", "c-quiet", "ada@example.org", time.Now(), false)
	v, err = f.env.ExecuteActivity(workflows.ActivityEnqueueExpiry, workflows.EnqueueExpiryInput{EventID: "e2", WorkflowID: "wf-e2", TaskQueue: "q"})
	require.NoError(t, err)
	require.NoError(t, v.Get(&plan))
	require.Equal(t, "slack is off for this course (COURSES_FILE)", plan.Skipped)
}

// TestDeliverKeepsItsReceipt: in a lean run each Deliver keeps its receipt
// in the row and the last one completes it; a resend's never does, and a
// database that fails after the send costs the notice nothing: the run
// records the outcome itself.
func TestDeliverKeepsItsReceipt(t *testing.T) {
	f := newValidityFixture(t)
	f.record(t, "e1", "c-yearly", "ada@example.org", time.Now(), false)
	deliver := func(channel, resendID string) workflows.DeliverResult {
		t.Helper()
		in := workflows.DeliverInput{Channel: channel, Notice: workflows.NoticeInput{ResendID: resendID}, Expect: []string{"slack", "email"}}
		in.Notice.Event.ID = "e1"
		v, err := f.env.ExecuteActivity(workflows.ActivityDeliver, in)
		require.NoError(t, err)
		var r workflows.DeliverResult
		require.NoError(t, v.Get(&r))
		return r
	}
	require.False(t, deliver("slack", "").Completed)
	rec, err := f.st.Get(t.Context(), "e1")
	require.NoError(t, err)
	require.Equal(t, store.StatusRecorded, rec.Status)
	require.Equal(t, "slack-", rec.Receipts["slack"].ID)

	require.False(t, deliver("email", "r-1").Completed, "a resend keeps nothing")
	rec, err = f.st.Get(t.Context(), "e1")
	require.NoError(t, err)
	require.NotContains(t, rec.Receipts, "email")

	r := deliver("email", "")
	require.True(t, r.Completed)
	require.Equal(t, "email-", r.ID)
	rec, err = f.st.Get(t.Context(), "e1")
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, rec.Status)

	require.NoError(t, f.st.Close())
	r = deliver("email", "")
	require.False(t, r.Completed, "the database is gone: the run records the outcome")
	require.Equal(t, "email-", r.ID, "the notice went all the same")
}

// TestTheRecordStepPlansTheNotice: asked by a planned run, the record step
// plans a digest-on notice by the course's rule (threshold 5 here): the
// first five post at once, the next is gathered; a retry gets its plan
// again and counts nothing. A course whose Slack notice skips the digest,
// an import, and a run that did not ask get no plan, and count nothing.
// The record step hands each gathered notice to the course's digest.
func TestTheRecordStepPlansTheNotice(t *testing.T) {
	f := newValidityFixture(t)
	record := func(id, course string, planned, recordOnly bool) workflows.RecordResult {
		t.Helper()
		return f.recordPlanned(t, id, course, id+"@example.org", time.Now(), recordOnly, planned)
	}
	require.Empty(t, record("unasked", "c-yearly", false, false).Notice, "a run from before plans asks the digest itself")
	require.Empty(t, record("quiet", "c-quiet", true, false).Notice, "no digest, no plan")
	require.Empty(t, record("old", "c-yearly", true, true).Notice, "an import notifies nobody")
	for i := range 5 {
		require.Equal(t, workflows.NoticePost, record(fmt.Sprint("y", i), "c-yearly", true, false).Notice, "completion %d", i+1)
	}
	require.Equal(t, workflows.NoticePost, record("y0", "c-yearly", true, false).Notice, "a retry gets its plan again")
	require.Empty(t, f.digests.ids, "nothing posted at once reaches the digest")

	sixth := record("y5", "c-yearly", true, false)
	require.Equal(t, workflows.NoticeGather, sixth.Notice, "the sixth within a minute")
	require.True(t, sixth.Enqueued, "handed to the digest by the record step")
	require.Equal(t, workflows.NoticeGather, record("y6", "c-yearly", true, false).Notice, "the window is open")
	require.True(t, record("y5", "c-yearly", true, false).Enqueued, "a retry hands it over again; the digest counts it once")
	require.Len(t, f.digests.ids, 3)
	entry, ok := f.digests.signals[0].(workflows.DigestEntry)
	require.True(t, ok, "%T", f.digests.signals[0])
	require.Equal(t, "y5", entry.EventID)
	require.True(t, entry.Gather)
	require.Equal(t, 5, entry.Threshold)
	require.Equal(t, workflows.DigestWorkflowID(f.digests.in[0].TaskQueue, "c-yearly", "C0123ABCD"), f.digests.ids[0])
}
