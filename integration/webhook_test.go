package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

func TestSampleBecomesOneNoticeOneCertificateOneRow(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion.json")

	first := s.post(t, body)
	require.Equal(t, http.StatusAccepted, first.Status, "%v", first.Body)
	require.Equal(t, "accepted", first.Body["status"])
	require.Equal(t, id, first.Body["eventId"])
	require.Equal(t, workflows.WorkflowID(id), first.Body["workflowId"])
	require.NotEmpty(t, first.Body["runId"])

	r := s.result(t, id)
	require.Equal(t, workflows.StatusCompleted, r.Status)
	recordHistory(t, id, "history-completed.json")

	msgs := s.Slack.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, 1, s.Slack.Attempts())
	require.Contains(t, msgs[0].Text, "Bob Johnson")
	require.Contains(t, string(msgs[0].Metadata), id, "the message is tagged with the event id")

	sent := s.SendGrid.Messages()
	require.Len(t, sent, 1)
	m, err := sent[0].Mail()
	require.NoError(t, err)
	require.Equal(t, []string{"bob.johnson@example.com"}, m.To)
	require.Contains(t, m.Subject, "New Student Orientation")
	require.Equal(t, id, m.CustomArgs["event_id"])
	require.Len(t, m.Attachments, 1)
	pdf := m.Attachments[0]
	require.Equal(t, "application/pdf", pdf.Type)
	doc, err := pdftext.Read(pdf.Content)
	require.NoError(t, err, "the attachment is a PDF a reader can parse")
	require.Len(t, doc.Pages, 1)
	require.Contains(t, doc.Text(), "Bob Johnson")
	require.Contains(t, doc.Text(), "New Student Orientation")
	sum := sha256.Sum256(pdf.Content)

	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, rec.Status)
	require.Equal(t, "bob.johnson@example.com", rec.LearnerEmail)
	require.Equal(t, "New Student Orientation", rec.CourseTitle)
	require.Equal(t, string(body), string(rec.Payload), "the raw payload is kept byte for byte")
	require.Equal(t, slacktest.ChannelID, rec.Receipts[workflows.StepNameSlack].Where, "the channel id Slack answered, not the name we sent")
	require.NotEmpty(t, rec.Receipts[workflows.StepNameSlack].ID)
	require.Equal(t, sent[0].MessageID, rec.Receipts[workflows.StepNameEmail].ID)
	require.Equal(t, hex.EncodeToString(sum[:]), rec.CertificateSHA256())
	require.Equal(t, r.Receipts[workflows.StepNameSlack].ID, rec.Receipts[workflows.StepNameSlack].ID)

	// The platform re-delivers: same id, same body.
	again := s.post(t, body)
	require.Equal(t, http.StatusOK, again.Status, "%v", again.Body)
	require.Equal(t, "duplicate", again.Body["status"])
	require.Equal(t, first.Body["runId"], again.Body["runId"])
	require.Equal(t, 1, s.Slack.Attempts(), "no second Slack notice")
	require.Equal(t, 1, s.SendGrid.Attempts(), "no second email")
	n, err := s.Store.Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// The UI lists the workflow with a summary an operator can scan.
	d, err := s.Temporal.DescribeWorkflow(context.Background(), workflows.WorkflowID(id), "")
	require.NoError(t, err)
	summary, err := d.GetStaticSummary()
	require.NoError(t, err)
	require.Equal(t, "Course completion, course 7670fdbe-15ed-504b-a680-d404fa4b0eb4", summary)

	// Operators can still ask a finished workflow how each step went.
	v, err := temporal.QueryWorkflow(context.Background(), workflows.WorkflowID(id), "", workflows.ProgressQuery)
	require.NoError(t, err)
	var p workflows.Progress
	require.NoError(t, v.Get(&p))
	require.Equal(t, workflows.StatusCompleted, p.Status)
	require.Equal(t, workflows.StepDone, p.Channels[workflows.StepNameEmail].State)
}

func TestUnicodeSampleReachesEveryChannelIntact(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion-unicode.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)

	sent := s.SendGrid.Messages()
	require.Len(t, sent, 1)
	m, err := sent[0].Mail()
	require.NoError(t, err)
	require.Equal(t, []string{"zoe.mueller+training@example.de"}, m.To)
	doc, err := pdftext.Read(m.Attachments[0].Content)
	require.NoError(t, err)
	require.Contains(t, doc.Text(), "Zoë Müller-Łukasiewicz")
	require.Contains(t, s.Slack.Messages()[0].Text, "Zoë Müller-Łukasiewicz")
}

func TestOtherEventTypesAreRecordedButNotAnnounced(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion-minimal.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["event"] = "courseStarted"
	body, err := json.Marshal(m)
	require.NoError(t, err)

	a := s.post(t, body)
	require.Equal(t, http.StatusAccepted, a.Status)
	require.Equal(t, "ignored", a.Body["status"])
	require.Equal(t, workflows.StatusIgnored, s.result(t, id).Status)
	recordHistory(t, id, "history-ignored.json")

	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, store.StatusIgnored, rec.Status)
	require.Equal(t, string(body), string(rec.Payload))
	require.Zero(t, s.Slack.Attempts())
	require.Zero(t, s.SendGrid.Attempts())
}

func TestRefusedEventStartsNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["user"] = "not an email"
	delete(m, "title")
	body, err := json.Marshal(m)
	require.NoError(t, err)

	a := s.post(t, body)
	require.Equal(t, http.StatusBadRequest, a.Status)
	problems, _ := json.Marshal(a.Body["problems"])
	require.Contains(t, string(problems), `"field":"user"`)
	require.Contains(t, string(problems), `"field":"title"`)

	_, err = temporal.DescribeWorkflow(context.Background(), workflows.WorkflowID(id), "")
	var notFound *serviceerror.NotFound
	require.ErrorAs(t, err, &notFound, "a refused event must not start a workflow")
}

func TestReadyWhenTemporalAnswers(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Server.URL+path, nil)
		require.NoError(t, err)
		resp, err := testHTTP.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		cancel()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
}
