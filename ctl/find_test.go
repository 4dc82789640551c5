package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// seeded is a database with three events, and the environment that points
// coursehookctl at it.
func seeded(t *testing.T) map[string]string {
	t.Helper()
	dbURL := filepath.Join(t.TempDir(), "coursehook.db")
	st, err := store.Open(context.Background(), dbURL)
	require.NoError(t, err)
	defer st.Close()
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	for i, c := range []store.Completion{
		{EventID: "e1", EventType: "courseCompletion", LearnerEmail: "bob@example.com", CourseID: "c-1", CompanyID: "acme", CourseTitle: "Safety"},
		{EventID: "e2", EventType: "courseCompletion", LearnerEmail: "ana@example.org", CourseID: "c-1", CompanyID: "globex", CourseTitle: "Safety"},
		{EventID: "e3", EventType: "courseCompletion", LearnerEmail: "Bob@Example.com", CourseID: "c-2", CompanyID: "acme", CourseTitle: "Ethics"},
	} {
		c.CompletedAt, c.ReceivedAt = at.Add(time.Duration(i)*time.Hour), at.Add(time.Duration(i)*time.Hour)
		c.Payload = []byte(`{}`)
		_, _, err := st.Insert(context.Background(), c, store.StatusRecorded)
		require.NoError(t, err)
	}
	require.NoError(t, st.RecordOutcome(context.Background(), store.Outcome{EventID: "e1", Status: store.StatusCompleted,
		Receipts: workflows.Receipts{"slack": {ID: "1.2", Where: "C1", Via: "digest"}, "email": {ID: "m-1", SHA256: "abc"}}}))
	require.NoError(t, st.RecordOutcome(context.Background(), store.Outcome{EventID: "e3", Status: store.StatusPartial, FailedStep: "slack", Error: "slack: invalid_auth"}))
	return map[string]string{"DATABASE_URL": dbURL, "LEARNER_HASH_KEY": "a-long-deployment-secret"}
}

func ctl(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	err := find(context.Background(), args, func(k string) string { return env[k] }, &out, &bytes.Buffer{}, now)
	return out.String(), err
}

func TestFindPrintsATableAndTheTemporalFilter(t *testing.T) {
	env := seeded(t)
	out, err := ctl(t, env, "--email", "BOB@example.com")
	require.NoError(t, err)
	lines := strings.Split(out, "\n")
	require.Regexp(t, `^EVENT ID\s+STATUS\s+COMPLETED \(UTC\)\s+COURSE\s+COMPANY\s+LEARNER\s+DELIVERED\s+EMAIL\s+FAILED`, lines[0])
	require.Regexp(t, `^e1\s+completed\s+2026-11-28 09:00:00\s+c-1\s+acme\s+bob@example.com\s+email, slack \(digest\)\s+-\s`, lines[1])
	require.Regexp(t, `^e3\s+partial\s+2026-11-28 11:00:00\s+c-2\s+acme\s+Bob@Example.com\s+-\s+-\s+slack`, lines[2])
	require.Contains(t, out, "2 events")
	hash := event.LearnerHash([]byte("a-long-deployment-secret"), "bob@example.com")
	require.Contains(t, out, `Temporal filter: WorkflowType = "CourseCompletion" AND LearnerHash = "`+hash+`"`)

	out, err = ctl(t, env, "--course", "c-1", "--status", "recorded", "--since", "24h")
	require.NoError(t, err)
	require.Contains(t, out, "\ne2 ")
	require.Contains(t, out, "1 events")
	require.Contains(t, out, `CourseId = "c-1" AND CompletionStatus IN ("recording", "notifying") AND StartTime >= "2026-11-28T09:00:00Z"`)
	inDays, err := ctl(t, env, "--course", "c-1", "--status", "recorded", "--since", "1d")
	require.NoError(t, err)
	require.Equal(t, out, inDays, "--since takes days as --expires-before does")
}

func TestFindKnowsCourseNames(t *testing.T) {
	env := seeded(t)
	env["COURSES_FILE"] = filepath.Join(t.TempDir(), "courses.yaml")
	require.NoError(t, os.WriteFile(env["COURSES_FILE"], []byte("courses:\n  c-2:\n    name: Business Ethics\n"), 0o600))

	out, err := ctl(t, env, "--course", "business ethics")
	require.NoError(t, err)
	lines := strings.Split(out, "\n")
	require.Regexp(t, `^e3\s+partial\s+2026-11-28 11:00:00\s+Business Ethics \(c-2\)\s+acme`, lines[1])
	require.Contains(t, out, "1 events")
	require.Contains(t, out, `CourseId = "c-2"`, "the name becomes the id in the Temporal filter")

	out, err = ctl(t, env, "--course", "c-2", "--json")
	require.NoError(t, err)
	require.Contains(t, out, `"courseName": "Business Ethics"`)

	env["COURSES_FILE"] = filepath.Join(t.TempDir(), "missing.yaml")
	_, err = ctl(t, env, "--course", "c-2")
	require.ErrorContains(t, err, "COURSES_FILE")
}

func TestFindJSON(t *testing.T) {
	out, err := ctl(t, seeded(t), "--company", "acme", "--status", "partial", "--json")
	require.NoError(t, err)
	var got struct {
		Events []struct {
			EventID, WorkflowID, Status, FailedStep, Error string
		}
		TemporalFilter string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Events, 1)
	require.Equal(t, "e3", got.Events[0].EventID)
	require.Equal(t, "course-completion-e3", got.Events[0].WorkflowID)
	require.Equal(t, "slack", got.Events[0].FailedStep)
	require.Equal(t, "slack: invalid_auth", got.Events[0].Error)
	require.Equal(t, `WorkflowType = "CourseCompletion" AND CompanyId = "acme" AND CompletionStatus = "partial"`, got.TemporalFilter)
}

// TestFindJSONReceipts: the receipts by channel, and the Slack and email
// ones under the names scripts read before.
func TestFindJSONReceipts(t *testing.T) {
	out, err := ctl(t, seeded(t), "--company", "acme", "--status", "completed", "--json")
	require.NoError(t, err)
	var got struct {
		Events []struct {
			Receipts                              workflows.Receipts
			SlackTS, EmailMessageID, Announcement string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Events, 1)
	e := got.Events[0]
	require.Equal(t, workflows.Receipts{"slack": {ID: "1.2", Where: "C1", Via: "digest"}, "email": {ID: "m-1", SHA256: "abc"}}, e.Receipts)
	require.Equal(t, "1.2", e.SlackTS)
	require.Equal(t, "m-1", e.EmailMessageID)
	require.Equal(t, "digest", e.Announcement)
}

func TestFindRefusesBadInput(t *testing.T) {
	env := seeded(t)
	for _, args := range [][]string{
		{"--status", "stuck"}, {"--since", "yesterday"}, {"--limit", "0"}, {"--colour"}, {"e1"},
	} {
		_, err := ctl(t, env, args...)
		require.True(t, errors.Is(err, errUsage), "%v: %v", args, err)
	}
	_, err := ctl(t, env, "--status", "stuck")
	require.ErrorContains(t, err, "recorded, completed, partial, ignored", "the valid values are listed")
}

// TestFindWhoIsDue: --expires-before lists the certificates expiring
// within the period, soonest first, and --expired those whose date has
// passed; renewed and revoked certificates are not due. The table and the
// JSON say until when, and which notices went out.
func TestFindWhoIsDue(t *testing.T) {
	dbURL := filepath.Join(t.TempDir(), "coursehook.db")
	st, err := store.Open(context.Background(), dbURL)
	require.NoError(t, err)
	defer st.Close()
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	for i, c := range []struct {
		id, course, email string
		expires           time.Time
	}{
		{"soon", "c-1", "a@example.org", now.AddDate(0, 0, 25)},
		{"sooner", "c-1", "b@example.org", now.AddDate(0, 0, 3)},
		{"later", "c-1", "c@example.org", now.AddDate(0, 2, 0)},
		{"lapsed", "c-1", "d@example.org", now.AddDate(0, 0, -1)},
		{"forever", "c-1", "e@example.org", time.Time{}},
		{"elsewhere", "c-2", "f@example.org", now.AddDate(0, 0, 10)},
		// c@example.org completes c-1 again: "later" is renewed.
		{"renewal", "c-1", "c@example.org", now.AddDate(1, 0, 0)},
	} {
		at := now.AddDate(-1, 0, i)
		_, _, err := st.Insert(context.Background(), store.Completion{EventID: c.id, EventType: "courseCompletion", LearnerEmail: c.email,
			CourseID: c.course, CourseTitle: "Safety", CompletedAt: at, ReceivedAt: at, Payload: []byte(`{}`), ExpiresAt: c.expires}, store.StatusRecorded)
		require.NoError(t, err)
	}
	sent := []store.CertificateNotice{
		{EventID: "sooner", Notice: "reminder-30d", Channel: "email", Receipt: workflows.Receipt{ID: "m-30"}, SentAt: now.AddDate(0, 0, -27)},
		{EventID: "sooner", Notice: "reminder-7d", Channel: "email", Receipt: workflows.Receipt{ID: "m-7"}, SentAt: now.AddDate(0, 0, -4)},
	}
	// Kept latest first, so the listing's order is the sending order and
	// not the order they were kept in.
	for _, n := range slices.Backward(sent) {
		_, err = st.NoticeSent(context.Background(), n)
		require.NoError(t, err)
	}
	env := map[string]string{"DATABASE_URL": dbURL, "LEARNER_HASH_KEY": "a-long-deployment-secret"}

	out, err := ctl(t, env, "--expires-before", "30d", "--course", "c-1")
	require.NoError(t, err)
	lines := strings.Split(out, "\n")
	require.Regexp(t, `EXPIRES \(UTC\)$`, strings.TrimSpace(lines[0]))
	require.Regexp(t, `^sooner\s.*2026-12-02 09:00; sent reminder-30d, reminder-7d\s*$`, lines[1])
	require.Regexp(t, `^soon\s.*2026-12-24 09:00\s*$`, lines[2])
	require.Contains(t, out, "2 events")
	require.Contains(t, out, `Temporal filter: WorkflowType = "CertificateValidity" AND ExecutionStatus = "Running"`)
	out, err = ctl(t, env, "--expires-before", "30d")
	require.NoError(t, err)
	require.Contains(t, out, "\nelsewhere ")
	require.Contains(t, out, "3 events", "every course's without --course")

	out, err = ctl(t, env, "--email", "c@example.org")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^later\s.*2027-01-29 09:00 \(renewed by renewal\)\s*$`, out, "the usual listing shows the renewed")
	require.Regexp(t, `(?m)^renewal\s.*2027-11-29 09:00\s*$`, out)

	out, err = ctl(t, env, "--expired", "--json")
	require.NoError(t, err)
	var got struct {
		Events []findRow `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Events, 1)
	require.Equal(t, "lapsed", got.Events[0].EventID)
	require.Equal(t, now.AddDate(0, 0, -1), *got.Events[0].ExpiresAt)

	out, err = ctl(t, env, "--expires-before", "7d", "--json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Events, 1)
	require.Equal(t, []noticeRow{
		{Notice: "reminder-30d", Channel: "email", Receipt: workflows.Receipt{ID: "m-30"}, SentAt: now.AddDate(0, 0, -27)},
		{Notice: "reminder-7d", Channel: "email", Receipt: workflows.Receipt{ID: "m-7"}, SentAt: now.AddDate(0, 0, -4)},
	}, got.Events[0].Notices)

	for _, args := range [][]string{{"--expired", "--expires-before", "30d"}, {"--expires-before", "soon"}, {"--expires-before", "2020-01-01T00:00:00Z"}} {
		_, err := ctl(t, env, args...)
		require.ErrorIs(t, err, errUsage, args)
	}
}
