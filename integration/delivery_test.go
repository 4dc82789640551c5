package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deliverystate "github.com/coursehook/coursehook/delivery"
	"github.com/coursehook/coursehook/internal/faultproxy"
	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/coursehook/coursehook/internal/pgtest"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/sgevents"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/workflows"
)

// sgEvent is one event as SendGrid's Event Webhook posts it: its own
// fields, and coursehook's custom args copied as top-level keys.
func sgEvent(typ, eventID, resendID, messageID, email string, at time.Time, extra map[string]any) map[string]any {
	e := map[string]any{
		"email": email, "timestamp": at.Unix(), "event": typ,
		"sg_event_id":   uuid.NewString(),
		"sg_message_id": messageID + ".filterdrecv-5645d9c87f-6r8h9-1-6752F0F1-2E.0",
		"smtp-id":       "<" + messageID + "@ismtpd0001p1iad2.sendgrid.net>",
		"category":      []string{"certificate"},
	}
	if eventID != "" {
		e[sgevents.ArgEventID] = eventID
	}
	if resendID != "" {
		e[sgevents.ArgResendID] = resendID
	}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

// postEvents signs the batch as SendGrid does and posts it to the stack.
func (s *stack) postEvents(t testing.TB, events []map[string]any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(events)
	require.NoError(t, err)
	return s.postSigned(t, body, time.Now())
}

func (s *stack) postSigned(t testing.TB, body []byte, at time.Time) (int, map[string]any) {
	t.Helper()
	sig, ts, err := sgevents.SignNow(s.SendGridKey, body, at)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.Server.URL+sgevents.Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sgevents.SignatureHeader, sig)
	req.Header.Set(sgevents.TimestampHeader, ts)
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var answer map[string]any
	require.NoError(t, json.Unmarshal(raw, &answer), "answer is not JSON: %s", raw)
	return resp.StatusCode, answer
}

// waitForDelivery polls the store until the event's latest email is in
// state want.
func (s *stack) waitForDelivery(t testing.TB, eventID string, want deliverystate.State) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		rec, err := s.Store.Get(context.Background(), eventID)
		assert.NoError(c, err)
		assert.Equal(c, want, rec.Delivery)
	}, time.Minute, 50*time.Millisecond)
}

// TestDeliveryEvents is the scenario: three completions, then a
// signed batch out of order and with repeats (delivered for one, a bounce
// for another, a drop for the third), which SendGrid posts twice; the
// states land in the database, one Slack reply each goes into the
// bounce's and the drop's threads, find lists the bounced learner, and a
// resend to a corrected address sends the same certificate to it.
func TestDeliveryEvents(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SendGridEvents: true, SlackPerSecond: 50, Verification: true})
	var ids []string
	for range 3 {
		ids = append(ids, completed(t, s, workflows.StatusCompleted))
	}
	msg := func(id string) string {
		m := s.SendGrid.MessagesFor(id)
		require.Len(t, m, 1)
		return m[0].MessageID
	}
	now := time.Now()
	processed := sgEvent("processed", ids[0], "", msg(ids[0]), "learner@example.com", now.Add(-3*time.Second), nil)
	delivered := sgEvent("delivered", ids[0], "", msg(ids[0]), "learner@example.com", now.Add(-time.Second), map[string]any{"response": "250 2.0.0 OK"})
	bounce := sgEvent("bounce", ids[1], "", msg(ids[1]), "learner@example.com", now.Add(-2*time.Second), map[string]any{
		"reason": "550 5.1.1 The email account that you tried to reach does not exist", "type": "bounce",
		"bounce_classification": "Invalid Address", "status": "5.1.1"})
	dropped := sgEvent("dropped", ids[2], "", msg(ids[2]), "learner@example.com", now.Add(-2*time.Second), map[string]any{"reason": "Bounced Address"})
	// Delivered first, processed last, the bounce twice.
	batch := []map[string]any{delivered, bounce, dropped, bounce, processed}
	status, answer := s.postEvents(t, batch)
	require.Equal(t, http.StatusOK, status, answer)
	require.EqualValues(t, 4, answer["stored"], answer)

	s.waitForDelivery(t, ids[0], deliverystate.Delivered)
	s.waitForDelivery(t, ids[1], deliverystate.Bounced)
	s.waitForDelivery(t, ids[2], deliverystate.Dropped)

	// One reply in each failed email's thread.
	threads := map[string]string{}
	for _, id := range ids[1:] {
		rec, err := s.Store.Get(context.Background(), id)
		require.NoError(t, err)
		threads[id] = rec.Receipts[workflows.StepNameSlack].ID
		require.NotEmpty(t, threads[id])
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, id := range ids[1:] {
			assert.Len(c, s.Slack.RepliesTo(threads[id]), 1, id)
		}
	}, time.Minute, 50*time.Millisecond)
	var sgIDs []string
	for _, e := range batch {
		sgIDs = append(sgIDs, e["sg_event_id"].(string))
	}
	batchWorkflow := workflows.DeliveryEventsWorkflowID(sgIDs)
	var applied workflows.DeliveryEventsResult
	require.NoError(t, s.Temporal.GetWorkflow(context.Background(), batchWorkflow, "").Get(context.Background(), &applied))
	require.Equal(t, 4, applied.Applied)
	require.ElementsMatch(t, ids[1:], applied.Replied)
	recordWorkflowHistory(t, batchWorkflow, "history-delivery-events.json")
	reply := s.Slack.RepliesTo(threads[ids[1]])[0]
	require.Contains(t, reply.Text, "bounced")
	require.Contains(t, reply.Text, "550 5.1.1")
	require.Contains(t, reply.Text, "coursehookctl resend --event")
	meta, ok := reply.Meta()
	require.True(t, ok)
	require.Equal(t, slacknotify.MetadataReplyEventType, meta.EventType)
	require.Contains(t, s.Slack.RepliesTo(threads[ids[2]])[0].Text, "dropped")
	emails, err := s.Store.Emails(context.Background(), ids[1])
	require.NoError(t, err)
	require.Len(t, emails, 1)
	require.Equal(t, "Invalid Address", emails[0].Classification)
	require.NotEmpty(t, emails[0].AlertTS)

	// SendGrid posts the batch again, and a late deferral: nothing is
	// stored twice, no state goes back, and no second reply is posted.
	late := sgEvent("deferred", ids[0], "", msg(ids[0]), "learner@example.com", now, map[string]any{"response": "421 try later", "attempt": "1"})
	status, answer = s.postEvents(t, append(batch, late))
	require.Equal(t, http.StatusOK, status, answer)
	require.EqualValues(t, 1, answer["stored"], answer)
	require.EqualValues(t, 4, answer["repeated"], answer)
	s.waitForAppliedAll(t)
	rec, err := s.Store.Get(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, deliverystate.Delivered, rec.Delivery)
	for _, id := range ids[1:] {
		require.Len(t, s.Slack.RepliesTo(threads[id]), 1, id)
	}

	out, code := s.coursehookctl(t, "find", "--delivery", "bounced")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, ids[1])
	require.NotContains(t, out, ids[0])
	require.NotContains(t, out, ids[2])
	require.Contains(t, out, "bounced (550 5.1.1")
	out, code = s.coursehookctl(t, "find", "--delivery", "lost")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, `"lost"`)

	// The resend to a corrected address: a new email to it, the same
	// certificate, and an audit row with both addresses.
	first := s.SendGrid.MessagesFor(ids[1])[0]
	out, code = s.coursehookctl(t, "resend", "--event", ids[1], "--what", "email", "--to", "not an address", "--reason", "typo")
	require.Equal(t, 2, code, out)
	require.Len(t, s.SendGrid.MessagesFor(ids[1]), 1, "a bad address sends nothing")
	out, code = s.coursehookctl(t, "resend", "--event", ids[1], "--what", "email", "--to", "fixed@example.com",
		"--reason", "the learner's address had a typo", "--by", "ops-anna")
	require.Equal(t, 0, code, out)
	sent := s.SendGrid.MessagesFor(ids[1])
	require.Len(t, sent, 2)
	firstMail, err := first.Mail()
	require.NoError(t, err)
	secondMail, err := sent[1].Mail()
	require.NoError(t, err)
	require.Equal(t, []string{"fixed@example.com"}, secondMail.To)
	require.Len(t, secondMail.Attachments, 1)
	require.Equal(t, firstMail.Attachments[0].Content, secondMail.Attachments[0].Content, "the same certificate, byte for byte")
	_, err = pdftext.Read(secondMail.Attachments[0].Content)
	require.NoError(t, err)
	rs, err := s.Store.Resends(context.Background(), ids[1])
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.NotEqual(t, "fixed@example.com", rs[0].OldAddress)
	require.NotEmpty(t, rs[0].OldAddress)
	require.Equal(t, "fixed@example.com", rs[0].NewAddress)
	out, code = s.coursehookctl(t, "find", "--json", "--delivery", "sent")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"correctedEmail": "fixed@example.com"`)

	// A later resend goes to the corrected address by itself.
	out, code = s.coursehookctl(t, "resend", "--event", ids[1], "--what", "email", "--request-id", "again")
	require.Equal(t, 0, code, out)
	sent = s.SendGrid.MessagesFor(ids[1])
	require.Len(t, sent, 3)
	thirdMail, err := sent[2].Mail()
	require.NoError(t, err)
	require.Equal(t, []string{"fixed@example.com"}, thirdMail.To)
}

// waitForAppliedAll waits until every stored delivery event is applied.
func (s *stack) waitForAppliedAll(t testing.TB) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, pending, err := s.Store.DeliveryEventsReceived(context.Background())
		assert.NoError(c, err)
		assert.Zero(c, pending)
	}, time.Minute, 50*time.Millisecond)
}

// TestDeliveryEventsRefused: a batch that is unsigned, signed by another
// key, stale or re-encoded gets 401 and stores nothing.
func TestDeliveryEventsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SendGridEvents: true, NoWorker: true})
	body := []byte(`[{"event":"delivered","sg_event_id":"x1","email":"a@example.com","timestamp":1,"event_id":"e1"}]`)

	resp, err := testHTTP.Post(s.Server.URL+sgevents.Path, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	status, answer := s.postSigned(t, body, time.Now().Add(-10*time.Minute))
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, answer["error"], "replay window")

	var decoded any
	require.NoError(t, json.Unmarshal(body, &decoded))
	reencoded, err := json.Marshal(decoded)
	require.NoError(t, err)
	sig, ts, err := sgevents.SignNow(s.SendGridKey, body, time.Now())
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.Server.URL+sgevents.Path, bytes.NewReader(reencoded))
	require.NoError(t, err)
	req.Header.Set(sgevents.SignatureHeader, sig)
	req.Header.Set(sgevents.TimestampHeader, ts)
	resp, err = testHTTP.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the signature covers the bytes as sent")

	status, answer = s.postSigned(t, []byte(`{"not":"an array"}`), time.Now())
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, answer["error"], "JSON array")

	total, _, err := s.Store.DeliveryEventsReceived(context.Background())
	require.NoError(t, err)
	require.Zero(t, total)
}

// TestDeliveryEventsDatabaseOutage: while PostgreSQL refuses connections a
// batch gets 503 and nothing; SendGrid's retry after it is back is stored
// and applied once.
func TestDeliveryEventsDatabaseOutage(t *testing.T) {
	t.Parallel()
	dbURL, err := url.Parse(pgtest.URL(t))
	require.NoError(t, err)
	proxy := faultproxy.Start(t, dbURL.Host)
	dbURL.Host = proxy.Addr()
	s := newStack(t, stackOptions{SendGridEvents: true, DatabaseURL: dbURL.String(), SlackPerSecond: 50})
	id := completed(t, s, workflows.StatusCompleted)
	m := s.SendGrid.MessagesFor(id)
	require.Len(t, m, 1)
	batch := []map[string]any{
		sgEvent("processed", id, "", m[0].MessageID, "learner@example.com", time.Now(), nil),
		sgEvent("bounce", id, "", m[0].MessageID, "learner@example.com", time.Now(), map[string]any{"reason": "550 no such user"}),
	}

	proxy.Cut()
	status, answer := s.postEvents(t, batch)
	require.Equal(t, http.StatusServiceUnavailable, status, answer)
	require.Contains(t, answer["error"], "not stored")

	proxy.Restore()
	// As SendGrid does: post again until it is stored. A post in the
	// first second may still meet a pooled connection the outage killed
	// (pgx checks a connection idle for over a second before reusing it),
	// and gets 503 like the outage itself.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, answer = s.postEvents(t, batch)
		if status == http.StatusServiceUnavailable {
			assert.Contains(c, answer["error"], "not stored")
		}
		require.Equal(c, http.StatusOK, status, answer)
	}, 10*time.Second, 200*time.Millisecond)
	require.EqualValues(t, 2, answer["stored"], answer)
	s.waitForDelivery(t, id, deliverystate.Bounced)
	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	total, pending, err := s.Store.DeliveryEventsReceived(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, total, "stored once")
	require.Zero(t, pending)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Len(c, s.Slack.RepliesTo(rec.Receipts[workflows.StepNameSlack].ID), 1)
	}, time.Minute, 50*time.Millisecond)
}

// TestLostEmailAnswersAreFoundInDeliveryEvents measures what the delivery
// events close of the email's crash window: SendGrid takes each email in,
// but its answer comes after the client gave up, so the activity retries.
// Without delivery events each lost answer is an email sent twice; with
// them (the stand-in reports each email a second after taking it in), the
// retry finds the first send and records it instead. Both run here, one
// after the other, on the same scenario.
func TestLostEmailAnswersAreFoundInDeliveryEvents(t *testing.T) {
	t.Parallel()
	twice := map[bool]int{}
	for _, events := range []bool{false, true} {
		slack, sg := slacktest.NewServer(t), sendgridtest.NewServer(t)
		// The client gives up after a second; SendGrid answers after three.
		sender := mail.NewSendGrid("SG.test-key", sg.URL(), mail.From{Email: "certificates@coursehook.example"}, &http.Client{Timeout: time.Second})
		s := build(t, slacknotify.New("xoxb-test-token", slacktest.ChannelID, slack.URL(), nil), sender,
			stackOptions{SendGridEvents: events, SlackPerSecond: 50, EmailsPerSecond: 50})
		s.Slack, s.SendGrid = slack, sg
		if events {
			sg.ReportEvents(s.Server.URL+sgevents.Path, s.SendGridKey, time.Second)
		}
		const n = 10
		sg.SetResponseDelay(3 * time.Second)
		var ids []string
		for range n {
			id, body := sample(t, "course-completion.json")
			require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
			ids = append(ids, id)
		}
		sg.WaitForMessages(t, n, time.Minute)
		sg.SetResponseDelay(0)
		for _, id := range ids {
			require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
			require.NotEmpty(t, s.SendGrid.MessagesFor(id), id)
		}
		twice[events] = len(sg.Messages()) - n
		if events {
			posted, refused := sg.EventsPosted()
			require.Equal(t, n, posted, "each email reported once")
			require.Zero(t, refused)
			// The receipt the retry recorded is the first send's.
			rec, err := s.Store.Get(context.Background(), ids[0])
			require.NoError(t, err)
			require.Equal(t, sg.MessagesFor(ids[0])[0].MessageID, rec.Receipts[workflows.StepNameEmail].ID)
		}
	}
	t.Logf("emails sent twice after a lost SendGrid answer, of 10: %d without delivery events, %d with", twice[false], twice[true])
	require.Positive(t, twice[false], "the scenario loses answers")
	require.Zero(t, twice[true], "a retry finds the first send in SendGrid's events")
}
