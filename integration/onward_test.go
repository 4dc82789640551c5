package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/onward"
	"github.com/coursehook/coursehook/workflows"
)

// hookSecret is the receiver's secret, in the spec's whsec_ form.
const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a customer's endpoint: it checks every delivery with the
// Standard Webhooks reference library, as a customer's code would, and
// answers with the statuses it was given, then 200.
type receiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	answers []int
	got     []delivery
}

type delivery struct {
	id       string
	verified error
	status   int
	event    onward.Event
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(hookSecret)
	require.NoError(t, err)
	r := &receiver{answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{id: req.Header.Get("webhook-id"), verified: wh.Verify(body, req.Header), status: http.StatusOK}
		if err := json.Unmarshal(body, &d.event); err != nil {
			d.verified = err
		}
		r.mu.Lock()
		if len(r.answers) > 0 {
			d.status, r.answers = r.answers[0], r.answers[1:]
		}
		r.got = append(r.got, d)
		r.mu.Unlock()
		w.WriteHeader(d.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// webhookStack is a deployment whose worker has the webhook channel, and
// whose every course posts to the receiver: a local one, so the address
// guard lets private addresses through, as make run does.
func webhookStack(t *testing.T, r *receiver) *stack {
	t.Helper()
	var s *stack
	ch := onward.Channel{
		Sender: onward.NewSender(onward.Options{AllowPrivate: true}),
		Getenv: func(name string) string { return map[string]string{"HOOK_SECRET": hookSecret}[name] },
		Event: func(ctx context.Context, id string) (event.Event, error) {
			rec, err := s.Store.Get(ctx, id)
			if err != nil {
				return event.Event{}, err
			}
			return rec.Event()
		},
	}
	s = newStack(t, stackOptions{
		Routing:        true,
		SlackPerSecond: 10,
		Courses:        "defaults:\n  webhook: {url: \"" + r.srv.URL + "/hooks/coursehook\", secret: \"env:HOOK_SECRET\"}\n",
		Channels:       []channel.Channel{ch},
	})
	return s
}

// TestWebhookDeliveredOnceThroughRetries: the receiver fails twice, then
// takes the event. The event is delivered three times with one webhook-id,
// every one signed as the specification says, and accepted once; the Slack
// notice and the email go as well.
func TestWebhookDeliveredOnceThroughRetries(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusInternalServerError, http.StatusInternalServerError)
	s := webhookStack(t, r)
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	res := s.result(t, id)
	require.Equal(t, workflows.StatusCompleted, res.Status, "%+v", res)
	got := r.deliveries()
	require.Len(t, got, 3, "two failures and the accepted delivery")
	for i, d := range got {
		require.NoError(t, d.verified, "delivery %d verifies with the reference library", i)
		require.Equal(t, got[0].id, d.id, "the webhook-id is stable across retries")
	}
	require.Equal(t, []int{500, 500, 200}, []int{got[0].status, got[1].status, got[2].status})
	require.Equal(t, onward.MessageID(id, ""), got[2].id)

	e := got[2].event
	require.Equal(t, "course.completed", e.Type)
	require.Equal(t, 1, e.Version)
	require.Equal(t, got[2].id, e.ID)
	require.Equal(t, id, e.Data.EventID)
	require.Equal(t, "bob.johnson@example.com", e.Data.Learner.Email)
	require.Equal(t, "61149b2c-3f37-5032-be63-f5d984de10b6", e.Data.Learner.ID)
	require.Equal(t, "111222333444", e.Data.Learner.ExternalCustomerID)
	require.Equal(t, []string{"111222333444", "Department", "..."}, []string{e.Data.Learner.Ref1, e.Data.Learner.Ref2, e.Data.Learner.Ref3},
		"the references the brief event leaves out come from the stored payload")
	require.Equal(t, "7670fdbe-15ed-504b-a680-d404fa4b0eb4", e.Data.Course.ID)
	require.Equal(t, "New Student Orientation", e.Data.Course.Title)
	require.Equal(t, "3aabdfb8-3891-5011-ad35-8e2351c5fdaf", e.Data.Company.ID)
	require.Equal(t, onward.Route{Slack: true, Email: true, Webhook: true, SlackChannel: e.Data.Route.SlackChannel}, e.Data.Route)

	// All three channels delivered, and the receipts say where.
	require.Len(t, s.Slack.MessagesFor(id), 1)
	require.Len(t, s.SendGrid.MessagesFor(id), 1)
	require.Equal(t, workflows.Receipt{ID: got[2].id, Where: "127.0.0.1"}, res.Receipts[onward.Name])
	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, res.Receipts, rec.Receipts)
	require.ElementsMatch(t, []string{"slack", "email", "webhook"}, slices.Collect(maps.Keys(rec.Receipts)))
}

// TestWebhookGoneIsPermanent: a 410 ends the webhook step at once; the
// event is partial with FailedSteps "webhook", and the other notices went.
func TestWebhookGoneIsPermanent(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusGone)
	s := webhookStack(t, r)
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	res := s.result(t, id)
	require.Equal(t, workflows.StatusPartial, res.Status)
	require.Equal(t, "webhook", res.FailedStep)
	require.Contains(t, res.Error, "410")
	require.Len(t, r.deliveries(), 1, "a 410 is not retried")
	require.Len(t, s.Slack.MessagesFor(id), 1)
	require.Len(t, s.SendGrid.MessagesFor(id), 1)
	query := fmt.Sprintf(`WorkflowId = %q AND CompletionStatus = "partial" AND FailedSteps = "webhook"`, workflows.WorkflowID(id))
	require.Equal(t, []string{workflows.WorkflowID(id)}, listWorkflowIDs(t, query, 1), "operators find it by FailedSteps")
	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, "webhook", rec.FailedStep)
}
