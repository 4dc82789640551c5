package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// validityCourse's certificates last 40 s, with a reminder 20 s ahead:
// the whole cycle of a year, in under a minute.
const validityCourse = "e5a1c0de-0000-4000-8000-00000000a11d"

const validityCourses = `
courses:
  ` + validityCourse + `:
    name: Fire Safety
    url: https://learn.example.com/fire-safety
    certificate: {validFor: 40s, remind: [20s]}
    email:
      reminder: {subject: "Renew {{.CourseTitle}} before {{.ExpiresOn}}"}
`

// validityResult waits for a certificate's schedule to end.
func (s *stack) validityResult(t *testing.T, eventID string, within time.Duration) workflows.CertificateValidityResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var r workflows.CertificateValidityResult
	require.NoError(t, s.Temporal.GetWorkflow(ctx, workflows.ValidityWorkflowID(eventID), "").Get(ctx, &r))
	return r
}

// verification answers the certificate page's JSON for eventID's code.
func (s *stack) verification(t *testing.T, eventID string) map[string]any {
	t.Helper()
	rec := row(t, s, eventID)
	status, _, raw := get(t, s.URL()+verify.CertificatesPath+"/"+rec.VerificationCode, "application/json")
	require.Equal(t, http.StatusOK, status, "%s", raw)
	var facts map[string]any
	require.NoError(t, json.Unmarshal(raw, &facts))
	return facts
}

// TestACertificateIsRemindedThenExpires: on a real dev server, a
// certificate valid for 40 s gets its reminder email once, 20 s before,
// its expiry notice on Slack once, and its page and JSON turn expired:
// the acceptance's walk through, with the sample as it is.
func TestACertificateIsRemindedThenExpires(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{Routing: true, Verification: true, Courses: validityCourses, SlackPerSecond: 10, EmailsPerSecond: 10})
	id, body := learner(t, validityCourse, 1)
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	rec := row(t, s, id)
	// The sample is dated 2019: the validity counts from when coursehook
	// took the completion in and issued the certificate.
	require.Equal(t, rec.ReceivedAt.Add(40*time.Second), rec.ExpiresAt, "issued + validFor")
	require.Equal(t, "valid", s.verification(t, id)["status"])

	res := s.validityResult(t, id, 2*time.Minute)
	require.Equal(t, "expired", res.Ended, "%+v", res)
	require.Equal(t, map[string]string{"reminder-20s": "sent", "expiry": "sent"}, res.Outcomes)

	mails := s.SendGrid.MessagesFor(id)
	require.Len(t, mails, 2, "the certificate, then one reminder")
	reminder, err := mails[1].Mail()
	require.NoError(t, err)
	require.Equal(t, "Renew "+rec.CourseTitle+" before "+rec.ExpiresAt.Format("2 January 2006"), reminder.Subject)
	require.Empty(t, reminder.Attachments, "a reminder carries no certificate")
	require.Contains(t, reminder.Text, "https://learn.example.com/fire-safety", "it links the course to take again")
	require.False(t, mails[1].At.Before(rec.ExpiresAt.Add(-21*time.Second)), "not before it was due")

	slack := s.Slack.MessagesFor(id)
	require.Len(t, slack, 2, "the completion's notice, then one expiry notice")
	meta, ok := slack[1].Meta()
	require.True(t, ok)
	require.Equal(t, slacknotify.MetadataExpiryEventType, meta.EventType)
	require.Contains(t, slack[1].Text, "certificate for "+rec.CourseTitle+" expired")

	recordHistory(t, id, "history-expiring.json")
	recordWorkflowHistory(t, workflows.ValidityWorkflowID(id), "history-validity-expired.json")

	require.Equal(t, "expired", s.verification(t, id)["status"], "the page says expired once the date passed")
	status, _, html := get(t, s.URL()+verify.CertificatesPath+"/"+rec.VerificationCode, "text/html")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, strings.ToLower(string(html)), "expired")
}

// TestARecompletionRenewsTheCertificate: the learner completes the course
// again before the first certificate expires: a new certificate with its
// own schedule, and the old one superseded, its schedule ended with
// nothing more sent.
func TestARecompletionRenewsTheCertificate(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{Routing: true, Verification: true, Courses: validityCourses, SlackPerSecond: 10, EmailsPerSecond: 10})
	first, body := learner(t, validityCourse, 2)
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, first).Status)

	again, body := learner(t, validityCourse, 2)
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, again).Status)

	res := s.validityResult(t, first, time.Minute)
	require.Equal(t, "superseded", res.Ended, "%+v", res)
	recordHistory(t, again, "history-renewal.json")
	recordWorkflowHistory(t, workflows.ValidityWorkflowID(first), "history-validity-superseded.json")
	require.Equal(t, again, row(t, s, first).SupersededBy)
	require.Len(t, s.SendGrid.MessagesFor(first), 1, "the old certificate gets no reminder")
	require.Len(t, s.Slack.MessagesFor(first), 1, "nor an expiry notice")

	// Who is due: the renewal, not the certificate it renewed.
	gauge, err := testutil.GatherAndCount(s.WorkerMetrics, "coursehook_certificates_expiring")
	require.NoError(t, err)
	require.Equal(t, 1, gauge)
	require.NoError(t, testutil.GatherAndCompare(s.WorkerMetrics, strings.NewReader(`
# HELP coursehook_certificates_expiring Certificates expiring in the next 30 days, by course id (notifiableId), not renewed and not revoked: the learners due to renew.
# TYPE coursehook_certificates_expiring gauge
coursehook_certificates_expiring{course="`+validityCourse+`"} 1
`), "coursehook_certificates_expiring"))

	facts := s.verification(t, first)
	require.Equal(t, "superseded", facts["status"])
	require.Equal(t, "valid", s.verification(t, again)["status"])
	require.NotEmpty(t, row(t, s, again).ExpiresAt)
}

// TestAnOutageDelaysAReminderButLosesNothing: the worker process is killed
// while a certificate's schedule sleeps and stays down past the reminder's
// time. The next worker sends the missed reminder, late and once, and the
// expiry notice on its date.
func TestAnOutageDelaysAReminderButLosesNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{NoWorker: true})
	coursesFile := filepath.Join(t.TempDir(), "courses.yaml")
	require.NoError(t, os.WriteFile(coursesFile, []byte(`
courses:
  `+validityCourse+`:
    certificate: {validFor: 30s, remind: [20s]}
`), 0o600))
	dbPath := filepath.Join(t.TempDir(), "worker.db")
	env := s.workerEnv(dbPath, "COURSES_FILE="+coursesFile, "SLACK_MESSAGES_PER_SECOND=10")
	first := startWorkerProcess(t, env, "worker-1.log")

	id, body := learner(t, validityCourse, 3)
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	st, err := store.Open(t.Context(), dbPath)
	require.NoError(t, err)
	defer st.Close()
	rec, err := st.Get(t.Context(), id)
	require.NoError(t, err)
	due := rec.ExpiresAt.Add(-20 * time.Second)

	// The outage itself: no worker until 3 s after the reminder was due.
	time.Sleep(time.Until(due.Add(3 * time.Second)))
	startWorkerProcess(t, env, "worker-2.log")

	res := s.validityResult(t, id, 2*time.Minute)
	require.Equal(t, map[string]string{"reminder-20s": "sent", "expiry": "sent"}, res.Outcomes)
	mails := s.SendGrid.MessagesFor(id)
	require.Len(t, mails, 2, "the certificate and one reminder")
	require.True(t, mails[1].At.After(due.Add(3*time.Second)), "sent late, when a worker was back")
	require.Len(t, s.Slack.MessagesFor(id), 2, "the completion's notice and one expiry notice")
	notices, err := st.Notices(t.Context(), id)
	require.NoError(t, err)
	require.Len(t, notices, 2)
}
