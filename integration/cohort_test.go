package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/workflows"
)

// The sample's course, and a second one; each has a channel of its own.
const (
	cohortCourse  = "7670fdbe-15ed-504b-a680-d404fa4b0eb4"
	otherCourse   = "b1d2e3f4-0000-4000-8000-000000000002"
	cohortChannel = "C0COHORTAA"
	otherChannel  = "C0OTHERBB1"
)

const cohortCourses = `
defaults:
  digest: {threshold: 5, window: 1m}
courses:
  ` + cohortCourse + `:
    name: New Student Orientation
    slack: {channel: ` + cohortChannel + `}
  ` + otherCourse + `:
    name: Safety Basics
    slack: {channel: ` + otherChannel + `}
`

// learner returns the sample as learner n of course, with a fresh event id.
func learner(t *testing.T, course string, n int) (id string, body []byte) {
	t.Helper()
	id, body = sample(t, "course-completion.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["notifiableId"] = course
	m["user"] = fmt.Sprintf("learner%d.%s@example.com", n, course[:4])
	d := m["userDetail"].(map[string]any)
	d["firstName"], d["lastName"] = "Learner", fmt.Sprintf("Number %d", n)
	body, err := json.Marshal(m)
	require.NoError(t, err)
	return id, body
}

// TestCohortIsDigested posts a cohort of 300 completions of one course and
// 5 of another, all at once, through the production path: routing from a
// courses file, the per-course digest, Slack at its 1/s and email at its
// rate.
func TestCohortIsDigested(t *testing.T) {
	t.Parallel()
	const cohort, others, threshold, window = 300, 5, 5, time.Minute
	s := newStack(t, stackOptions{Routing: true, Courses: cohortCourses})
	s.Slack.AddChannels(cohortChannel, otherChannel)
	// Slack's limit is about one message a second per channel, with short
	// bursts tolerated; the server's 1/s throttle lets a burst of two or
	// three through as it starts. A 429 here means the throttle failed.
	s.Slack.SetRateLimit(3)

	var ids, otherIDs []string
	var bodies [][]byte
	for i := range cohort {
		id, body := learner(t, cohortCourse, i)
		ids, bodies = append(ids, id), append(bodies, body)
	}
	for i := range others {
		id, body := learner(t, otherCourse, i)
		otherIDs, bodies = append(otherIDs, id), append(bodies, body)
	}
	start := time.Now()
	for i, st := range postMany(t, s.Server.URL, bodies) {
		require.Equal(t, http.StatusAccepted, st, "event %d", i)
	}
	burst := time.Since(start)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	results := map[string]workflows.CourseCompletionResult{}
	for _, id := range append(append([]string{}, ids...), otherIDs...) {
		var r workflows.CourseCompletionResult
		require.NoError(t, s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &r), id)
		require.Equal(t, workflows.StatusCompleted, r.Status, id)
		results[id] = r
	}

	// The other course's five arrive one by one, in their own channel.
	require.Len(t, s.Slack.MessagesIn(otherChannel), others)
	for _, id := range otherIDs {
		msgs := s.Slack.MessagesFor(id)
		require.Len(t, msgs, 1, id)
		require.Equal(t, otherChannel, msgs[0].ChannelID)
		require.Equal(t, workflows.AnnouncedMessage, results[id].Receipts[workflows.StepNameSlack].Via)
	}

	// The cohort's channel gets a handful of messages: the first few one
	// by one, then one digest a window for as long as completions reach
	// the digest. On a loaded machine they reach it over longer than the
	// posting took, so the burst is measured from the first completion
	// received to the last digest window's start (each window opens at an
	// arrival).
	inCohort := s.Slack.MessagesIn(cohortChannel)
	byTS := map[string]slacktest.Posted{}
	var lastWindow time.Time
	for _, m := range inCohort {
		byTS[m.TS] = m
		if meta, ok := m.Meta(); ok && meta.EventType == slacktest.DigestEventType {
			id := meta.EventPayload["window_id"].(string)
			start, err := time.Parse(time.RFC3339Nano, id[strings.LastIndex(id, "@")+1:])
			require.NoError(t, err, id)
			if start.After(lastWindow) {
				lastWindow = start
			}
		}
	}
	firstReceived := row(t, s, ids[0]).ReceivedAt
	for _, id := range ids {
		if r := row(t, s, id).ReceivedAt; r.Before(firstReceived) {
			firstReceived = r
		}
	}
	arrivals := max(burst, lastWindow.Sub(firstReceived))
	require.LessOrEqual(t, len(inCohort), threshold+int(arrivals/window)+2, "posted in %s, reaching the digest over %s", burst, arrivals)

	// Every learner is named or counted exactly once: by a message of its
	// own, or as one of the count of the digest whose ts its row holds.
	perDigest := map[string]int{}
	individual := 0
	for _, id := range ids {
		rec := row(t, s, id)
		require.NotEmpty(t, rec.Receipts[workflows.StepNameSlack].ID, "row %s has its announcing ts", id)
		require.Equal(t, results[id].Receipts[workflows.StepNameSlack].ID, rec.Receipts[workflows.StepNameSlack].ID)
		require.Equal(t, results[id].Receipts[workflows.StepNameSlack].Via, rec.Receipts[workflows.StepNameSlack].Via)
		require.Contains(t, byTS, rec.Receipts[workflows.StepNameSlack].ID, "%s's ts is a message in the cohort channel", id)
		require.Zero(t, versionEvents(t, id), "%s: a new run records no version marker, and so no TemporalChangeVersion upsert", id)
		switch rec.Receipts[workflows.StepNameSlack].Via {
		case workflows.AnnouncedMessage:
			individual++
			require.Len(t, s.Slack.MessagesFor(id), 1, id)
		case workflows.AnnouncedDigest:
			perDigest[rec.Receipts[workflows.StepNameSlack].ID]++
			require.Empty(t, s.Slack.MessagesFor(id), "%s was digested, not posted", id)
			require.Equal(t, []string{"AwaitDigest", "Deliver"}, scheduledActivities(t, id),
				"%s: the record step kept it in its window; the email, and the wait for the window's answer", id)
			require.Zero(t, waits(t, id), "%s: the answer completes the wait; no signal, no timer", id)
			require.Equal(t, 1, localActivities(t, id), "%s: the record step only; the last receipt, the email's or the digest's, completed the row", id)
		default:
			t.Fatalf("row %s: announcement %q", id, rec.Receipts[workflows.StepNameSlack].Via)
		}
	}
	counted := 0
	for ts, n := range perDigest {
		m := byTS[ts]
		meta, ok := m.Meta()
		require.True(t, ok)
		require.Equal(t, slacktest.DigestEventType, meta.EventType)
		require.Len(t, s.Slack.DigestsFor(meta.EventPayload["window_id"].(string)), 1, "one digest per window")
		require.Contains(t, m.Text, fmt.Sprint(n), "the digest says how many it announces")
		counted += n
	}
	require.Equal(t, cohort, individual+counted)
	require.Equal(t, threshold, individual, "the first %d of the cohort were posted one by one", threshold)
	require.Positive(t, len(perDigest))
	require.Zero(t, s.Slack.RateLimited(), "no 429 from Slack")

	// Email stays one per learner.
	require.Len(t, s.SendGrid.Messages(), cohort+others)
	for _, id := range append(ids, otherIDs...) {
		require.Len(t, s.SendGrid.MessagesFor(id), 1, id)
	}
	recordWorkflowHistory(t, workflows.DigestWorkflowID(s.TaskQueue, cohortCourse, cohortChannel), "history-course-digest-batched.json")
	t.Logf("burst posted in %s, reaching the digest over %s; %d messages in the cohort channel (%d individual, %d digests)",
		burst, arrivals, len(inCohort), individual, len(perDigest))
}

// TestCoursesFileRoutesAndWords routes the sample course to its own
// channel with its own wording, and turns both notices off for another.
func TestCoursesFileRoutesAndWords(t *testing.T) {
	t.Parallel()
	quiet, direct := uuid.NewString(), uuid.NewString()
	s := newStack(t, stackOptions{Routing: true, Courses: `
courses:
  ` + cohortCourse + `:
    name: New Student Orientation
    slack: {channel: ` + cohortChannel + `}
    email: {subject: "Well done, {{.FirstName}}: {{.CourseTitle}}"}
    certificate:
      heading: Certificate of Excellence
      issuer: Acme Academy
      signatory: {name: Jane Doe, role: Head of Learning}
  ` + quiet + `:
    slack: {enabled: false}
    email: {enabled: false}
  ` + direct + `:
    digest: {enabled: false}
`})
	s.Slack.AddChannels(cohortChannel)

	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	r := s.result(t, id)
	require.Equal(t, workflows.StatusCompleted, r.Status)
	msgs := s.Slack.MessagesFor(id)
	require.Len(t, msgs, 1)
	require.Equal(t, cohortChannel, msgs[0].ChannelID)
	mails := s.SendGrid.MessagesFor(id)
	require.Len(t, mails, 1)
	m, err := mails[0].Mail()
	require.NoError(t, err)
	require.Equal(t, "Well done, Bob: New Student Orientation", m.Subject)
	require.Len(t, m.Attachments, 1)
	doc, err := pdftext.Read(m.Attachments[0].Content)
	require.NoError(t, err)
	for _, want := range []string{"Certificate of Excellence", "Acme Academy", "Jane Doe", "Head of Learning"} {
		require.Contains(t, doc.Text(), want, "the certificate has the course's wording")
	}
	recordHistory(t, id, "history-routed.json")
	// Its digest is on, but the course is quiet: the record step planned
	// the notice posted at once, so no digest was asked or started.
	require.Equal(t, workflows.AnnouncedMessage, r.Receipts[workflows.StepNameSlack].Via)
	require.Equal(t, []string{"Deliver", "Deliver"}, scheduledActivities(t, id), "the Slack notice and the email, and nothing else")
	_, err = s.Temporal.DescribeWorkflow(context.Background(), workflows.DigestWorkflowID(s.TaskQueue, cohortCourse, cohortChannel), "")
	require.Error(t, err, "no digest workflow for a quiet course")
	rec := row(t, s, id)
	require.Contains(t, rec.Route, cohortChannel, "the route is recorded with the row")
	require.Contains(t, rec.Route, "Certificate of Excellence")

	qid, qbody := learner(t, quiet, 1)
	require.Equal(t, http.StatusAccepted, s.post(t, qbody).Status)
	qr := s.result(t, qid)
	require.Equal(t, workflows.StatusCompleted, qr.Status)
	require.Empty(t, s.Slack.MessagesFor(qid))
	require.Empty(t, s.SendGrid.MessagesFor(qid))
	v, err := s.Temporal.QueryWorkflow(context.Background(), workflows.WorkflowID(qid), "", workflows.ProgressQuery)
	require.NoError(t, err)
	var p workflows.Progress
	require.NoError(t, v.Get(&p))
	require.True(t, strings.Contains(p.Channels[workflows.StepNameSlack].Detail, "off for this course") && strings.Contains(p.Channels[workflows.StepNameEmail].Detail, "off for this course"), "%+v", p)

	// A course whose digest is off posts at once without asking a digest,
	// and its database steps ran in the worker, not as scheduled activities.
	did, dbody := learner(t, direct, 1)
	require.Equal(t, http.StatusAccepted, s.post(t, dbody).Status)
	dr := s.result(t, did)
	require.Equal(t, workflows.StatusCompleted, dr.Status)
	require.Equal(t, "message", dr.Receipts[workflows.StepNameSlack].Via)
	dmsgs := s.Slack.MessagesFor(did)
	require.Len(t, dmsgs, 1)
	require.Len(t, s.SendGrid.MessagesFor(did), 1)
	require.Equal(t, []string{"Deliver", "Deliver"}, scheduledActivities(t, did), "the Slack notice and the email, and nothing else")
	_, err = s.Temporal.DescribeWorkflow(context.Background(), workflows.DigestWorkflowID(s.TaskQueue, direct, dmsgs[0].ChannelID), "")
	require.Error(t, err, "no digest workflow for a course whose digest is off")
	recordHistory(t, did, "history-digest-off.json")
}

// localActivities counts the local activities the event's workflow ran.
func localActivities(t *testing.T, eventID string) int {
	t.Helper()
	n := 0
	for _, e := range rawHistory(t, eventID) {
		if m := e.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "LocalActivity" {
			n++
		}
	}
	return n
}

// scheduledActivities lists the activity types the event's workflow
// scheduled through the server, sorted; local activities are not among them.
func scheduledActivities(t *testing.T, eventID string) []string {
	t.Helper()
	var types []string
	for _, e := range rawHistory(t, eventID) {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			types = append(types, a.GetActivityType().GetName())
		}
	}
	slices.Sort(types)
	return types
}

// waits counts the timers and signals in the event's history.
func waits(t *testing.T, eventID string) int {
	t.Helper()
	n := 0
	for _, e := range rawHistory(t, eventID) {
		if e.GetTimerStartedEventAttributes() != nil || e.GetWorkflowExecutionSignaledEventAttributes() != nil {
			n++
		}
	}
	return n
}

// versionEvents counts the version markers in the event's history, and
// the TemporalChangeVersion upserts the Go SDK adds to them.
func versionEvents(t *testing.T, eventID string) int {
	t.Helper()
	n := 0
	for _, e := range rawHistory(t, eventID) {
		if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version" ||
			e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"] != nil {
			n++
		}
	}
	return n
}

// TestDigestLostAnswerIsFoundNotReposted: Slack takes the digest but its
// answer never arrives (the client times out); the retry finds the digest
// by the window id in its metadata instead of posting a second one.
func TestDigestLostAnswerIsFoundNotReposted(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{Routing: true, DigestThreshold: 1, DigestWindow: 20 * time.Second, SlackPerSecond: 10})
	first, body := learner(t, cohortCourse, 1)
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	s.Slack.WaitForMessages(t, 1, time.Minute)

	// The next completion within the window is digested; Slack stores the
	// digest and then holds its answer past the client's timeout.
	s.Slack.SetResponseDelay(time.Minute)
	second, body := learner(t, cohortCourse, 2)
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	msgs := s.Slack.WaitForMessages(t, 2, 2*time.Minute)
	s.Slack.SetResponseDelay(0)
	require.Equal(t, workflows.AnnouncedMessage, s.result(t, first).Receipts[workflows.StepNameSlack].Via)
	meta, ok := msgs[1].Meta()
	require.True(t, ok)
	require.Equal(t, slacktest.DigestEventType, meta.EventType)

	r := s.result(t, second)
	require.Equal(t, workflows.StatusCompleted, r.Status)
	require.Equal(t, workflows.AnnouncedDigest, r.Receipts[workflows.StepNameSlack].Via)
	require.Equal(t, msgs[1].TS, r.Receipts[workflows.StepNameSlack].ID, "the retry found the digest Slack had")
	require.Len(t, s.Slack.DigestsFor(meta.EventPayload["window_id"].(string)), 1, "no second digest")
	require.Len(t, s.Slack.Messages(), 2)
	require.GreaterOrEqual(t, s.Slack.Attempts(), 2)
	require.Positive(t, s.Slack.HistoryCalls(), "the retry looked before posting")
	recordHistory(t, second, "history-digested.json")
	recordWorkflowHistory(t, workflows.DigestWorkflowID(s.TaskQueue, cohortCourse, slacktest.ChannelID), "history-course-digest.json")
}
