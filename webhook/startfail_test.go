package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/workflows"
)

const sampleID = "32ed16df-27cb-5f72-90ff-4eaf39346f86"

// TestStartFailuresAreAnsweredByClass: an outage, or a namespace not
// registered yet, asks the platform to come back; a refusal that no retry
// fixes is answered 500 and the event is kept as a dead letter, byte for
// byte, so it does not live only in the platform's retry queue.
func TestStartFailuresAreAnsweredByClass(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		transient bool
	}{
		{"unavailable", serviceerror.NewUnavailable("connection refused"), true},
		{"unavailable, wrapped by the SDK", fmt.Errorf("failed reaching server: %w", serviceerror.NewUnavailable("refused")), true},
		{"deadline exceeded", serviceerror.NewDeadlineExceeded("slow"), true},
		{"context deadline", fmt.Errorf("start: %w", context.DeadlineExceeded), true},
		{"resource exhausted", serviceerror.NewResourceExhausted(0, "namespace rps limit"), true},
		{"invalid argument", serviceerror.NewInvalidArgument("Blob data size exceeds limit."), false},
		{"permission denied", serviceerror.NewPermissionDenied("Request unauthorized.", ""), false},
		// A separate job registers the namespace, possibly after this server starts.
		{"namespace not registered yet", serviceerror.NewNamespaceNotFound("coursehook"), true},
		{"encoding failure", errors.New("unable to encode input: codec: no key"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newHarness(t, Options{RetryAfter: 30 * time.Second, DeadLetters: deadletter.Dir(dir)})
			h.temporal.err = c.err
			body := sampleBody(t)
			rec := serveRaw(h, request(Path, body))

			letters, err := deadletter.Dir(dir).List()
			require.NoError(t, err)
			if c.transient {
				require.Equal(t, http.StatusServiceUnavailable, rec.Code)
				require.Equal(t, "30", rec.Header().Get("Retry-After"))
				require.Empty(t, letters, "an outage is the platform's to retry")
				return
			}
			require.Equal(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
			require.Empty(t, rec.Header().Get("Retry-After"))
			require.Contains(t, rec.Body.String(), `"eventId":"`+sampleID+`"`)
			require.Contains(t, rec.Body.String(), "temporal refused")
			require.Len(t, letters, 1)
			require.Equal(t, body, letters[0].Body, "kept byte for byte")
			require.Equal(t, sampleID, letters[0].EventID)
			require.Equal(t, c.err.Error(), letters[0].Error)
			require.False(t, letters[0].ReceivedAt.IsZero())
			require.Contains(t, h.logs.String(), `"level":"ERROR"`)
			require.Contains(t, h.logs.String(), `"eventId":"`+sampleID+`"`)
			require.Contains(t, h.logs.String(), filepath.Join(dir, sampleID+".json"))

			// The platform's re-delivery fails again: still one letter.
			serveRaw(h, request(Path, body))
			letters, err = deadletter.Dir(dir).List()
			require.NoError(t, err)
			require.Len(t, letters, 1)
		})
	}
}

// TestUnwritableDeadLetterAnswers503: with neither Temporal nor the disk to
// keep the event, the platform's retries are all that is left, so it is
// asked for them.
func TestUnwritableDeadLetterAnswers503(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-folder")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	h := newHarness(t, Options{DeadLetters: deadletter.Dir(filepath.Join(blocker, "dead-letter"))})
	h.temporal.err = serviceerror.NewInvalidArgument("refused")
	rec := serveRaw(h, request(Path, sampleBody(t)))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	require.Contains(t, h.logs.String(), "dead letter could not be written")
}

// TestReplayStartsTheLetterAsDelivered: the replayed workflow has the same
// id and is dated by the original receipt.
func TestReplayStartsTheLetterAsDelivered(t *testing.T) {
	h := newHarness(t, Options{})
	srv := New(h.temporal, nil, Options{TaskQueue: "q"})
	received := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	status, err := srv.Replay(context.Background(), deadletter.Letter{Body: sampleBody(t), ReceivedAt: received})
	require.NoError(t, err)
	require.Equal(t, "accepted", status)
	require.Equal(t, workflows.WorkflowID(sampleID), h.temporal.starts[0].ID)
	in := h.temporal.inputs[0].(workflows.CourseCompletionInput)
	require.Equal(t, received, in.ReceivedAt)
	require.Equal(t, sampleBody(t), in.Payload)
	require.Empty(t, in.Event.Source, "the workflow gets the brief event")

	_, err = srv.Replay(context.Background(), deadletter.Letter{Body: []byte(`{"id":""}`)})
	require.Error(t, err, "a letter that is not an event is not started")
}

// TestImportStartsAsADeliveryWould: an imported event gets the webhook's
// workflow id and input, record-only when asked, and is dated now when no
// receipt time is given; an invalid body starts nothing and names its
// problems.
func TestImportStartsAsADeliveryWould(t *testing.T) {
	h := newHarness(t, Options{})
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	srv := New(h.temporal, nil, Options{TaskQueue: "q", Now: func() time.Time { return now }})
	status, err := srv.Import(context.Background(), sampleBody(t), time.Time{}, ImportOptions{RecordOnly: true})
	require.NoError(t, err)
	require.Equal(t, StatusAccepted, status)
	require.Equal(t, workflows.WorkflowID(sampleID), h.temporal.starts[0].ID)
	require.True(t, h.temporal.starts[0].WorkflowExecutionErrorWhenAlreadyStarted, "a second import is told it is a duplicate")
	in := h.temporal.inputs[0].(workflows.CourseCompletionInput)
	require.True(t, in.RecordOnly)
	require.Equal(t, now, in.ReceivedAt)
	require.Equal(t, sampleBody(t), in.Payload)

	_, err = srv.Import(context.Background(), []byte(`{"id":"x","event":"courseCompletion"}`), time.Time{}, ImportOptions{})
	var invalid *event.ValidationError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "user", invalid.Problems[0].Field)
	require.Equal(t, 1, h.temporal.Starts(), "an invalid event starts nothing")

	h.temporal.err = serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "run-1")
	status, err = srv.Import(context.Background(), sampleBody(t), time.Time{}, ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, StatusDuplicate, status)
}

// TestWorkflowInputCarriesTheBodyOnce: the largest body the server takes
// goes into the workflow input once, beside a brief event of bounded size.
func TestWorkflowInputCarriesTheBodyOnce(t *testing.T) {
	h := newHarness(t, Options{MaxBodyBytes: 64 << 10})
	body := largestBody(t, sampleBody(t), 64<<10)
	rec := serveRaw(h, request(Path, body))
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	in := h.temporal.inputs[0].(workflows.CourseCompletionInput)
	require.Equal(t, body, in.Payload)
	require.Empty(t, in.Event.UserDetail.Ref2, "the padding field is not in the brief event")
}
