package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/workflows"
)

// The learner in testdata/course-completion.json.
const (
	learnerEmail = "bob.johnson@example.com"
	learnerName  = "Bob Johnson"
)

// newSpec returns an ENCRYPTION_KEYS entry for a fresh key.
func newSpec(t *testing.T, id string) string {
	t.Helper()
	s, err := codec.GenerateSpec(id)
	require.NoError(t, err)
	return s
}

// codecKeys makes a keyring of the given entries, the first one active.
func codecKeys(t *testing.T, specs ...string) codec.Keys {
	t.Helper()
	active, _, _ := strings.Cut(specs[0], ":")
	k, err := codec.ParseKeys(strings.Join(specs, ","), active)
	require.NoError(t, err)
	return k
}

// rawHistory reads the event's history through the dev server's plain
// client, which has no codec: what it sees is what Temporal stores.
func rawHistory(t *testing.T, eventID string) []*historypb.HistoryEvent {
	t.Helper()
	iter := temporal.GetWorkflowHistory(context.Background(), workflows.WorkflowID(eventID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		events = append(events, e)
	}
	return events
}

func requireEncrypted(t *testing.T, where string, keyID string, payloads []*commonpb.Payload) {
	t.Helper()
	require.NotEmpty(t, payloads, "%s has no payload", where)
	for i, p := range payloads {
		require.Equal(t, codec.MetadataEncodingEncrypted, string(p.GetMetadata()[converter.MetadataEncoding]), "%s payload %d", where, i)
		require.Equal(t, keyID, string(p.GetMetadata()[codec.MetadataKeyID]), "%s payload %d", where, i)
		require.NotContains(t, string(p.GetData()), learnerEmail, "%s payload %d", where, i)
		require.NotContains(t, string(p.GetData()), learnerName, "%s payload %d", where, i)
	}
}

func TestCodecHistoryHoldsOnlyCiphertext(t *testing.T) {
	t.Parallel()
	keys := codecKeys(t, newSpec(t, "itest-a"))
	s := newStack(t, stackOptions{DataConverter: codec.DataConverter(keys)})
	id, body := sample(t, "course-completion.json")

	a := s.post(t, body)
	require.Equal(t, http.StatusAccepted, a.Status, "%v", a.Body)
	r := s.result(t, id)
	require.Equal(t, workflows.StatusCompleted, r.Status, "the worker and the webhook read each other's ciphertext")

	events := rawHistory(t, id)
	var input []*commonpb.Payload
	var scheduled, activityResults, localResults, workflowResults int
	for _, e := range events {
		switch e.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			input = e.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
			requireEncrypted(t, "workflow input", "itest-a", input)
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			attrs := e.GetActivityTaskScheduledEventAttributes()
			requireEncrypted(t, attrs.GetActivityType().GetName()+" input", "itest-a", attrs.GetInput().GetPayloads())
			scheduled++
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			// An activity that returns only an error (RecordOutcome) has
			// no result at all.
			if result := e.GetActivityTaskCompletedEventAttributes().GetResult().GetPayloads(); len(result) > 0 {
				requireEncrypted(t, "activity result", "itest-a", result)
				activityResults++
			}
		case enums.EVENT_TYPE_MARKER_RECORDED:
			// The database steps run as local activities: their results
			// are in the markers' details.
			attrs := e.GetMarkerRecordedEventAttributes()
			if attrs.GetMarkerName() != "LocalActivity" {
				break
			}
			if result := attrs.GetDetails()["data"].GetPayloads(); len(result) > 0 {
				requireEncrypted(t, "local activity result", "itest-a", result)
				localResults++
			}
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			requireEncrypted(t, "workflow result", "itest-a", e.GetWorkflowExecutionCompletedEventAttributes().GetResult().GetPayloads())
			workflowResults++
		}
		// Nothing else in the history may carry the learner either: not a
		// failure message, a marker or a header.
		raw, err := proto.Marshal(e)
		require.NoError(t, err)
		require.NotContains(t, string(raw), learnerEmail, "event %d (%s)", e.GetEventId(), e.GetEventType())
		require.NotContains(t, string(raw), learnerName, "event %d (%s)", e.GetEventId(), e.GetEventType())
	}
	require.NotEmpty(t, input)
	require.GreaterOrEqual(t, scheduled, 2, "Slack, email")
	require.GreaterOrEqual(t, activityResults, 2, "Slack and email return results")
	require.GreaterOrEqual(t, localResults, 1, "the record step returns a result")
	require.Equal(t, 1, workflowResults)

	// The Temporal UI sends the stored payloads to the codec server's
	// /decode and shows what comes back.
	const uiOrigin = "http://localhost:8233"
	srv := httptest.NewServer(codec.Handler(keys, codec.HandlerOptions{AllowedOrigin: uiOrigin}))
	t.Cleanup(srv.Close)
	reqBody, err := protojson.Marshal(&commonpb.Payloads{Payloads: input})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(reqBody))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", uiOrigin)
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(answer))
	require.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))

	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(answer, &decoded))
	require.Len(t, decoded.Payloads, len(input))
	require.Equal(t, "json/plain", string(decoded.Payloads[0].GetMetadata()[converter.MetadataEncoding]))
	require.Contains(t, string(decoded.Payloads[0].GetData()), learnerEmail)
}

func TestCodecRotationStillReadsOldRuns(t *testing.T) {
	t.Parallel()
	specA, specB := newSpec(t, "itest-rot-a"), newSpec(t, "itest-rot-b")
	s := newStack(t, stackOptions{DataConverter: codec.DataConverter(codecKeys(t, specA))})
	id, body := sample(t, "course-completion.json")
	a := s.post(t, body)
	require.Equal(t, http.StatusAccepted, a.Status, "%v", a.Body)
	want := s.result(t, id)

	read := func(keys codec.Keys) (workflows.CourseCompletionResult, error) {
		c, err := client.NewClientFromExisting(temporal, client.Options{DataConverter: codec.DataConverter(keys)})
		require.NoError(t, err)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var r workflows.CourseCompletionResult
		err = c.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &r)
		return r, err
	}

	// B is now active; A stays listed for the histories it wrote.
	got, err := read(codecKeys(t, specB, specA))
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, workflows.StatusCompleted, got.Status)

	// Dropping A too early leaves its runs unreadable, and says which key
	// is missing.
	_, err = read(codecKeys(t, specB))
	require.ErrorContains(t, err, `key "itest-rot-a"`)
}

// TestCodecEncryptsFailureMessages: a provider's error text can quote the
// learner, so failure messages are encrypted too, and still reach the
// workflow's result and the database in the clear.
func TestCodecEncryptsFailureMessages(t *testing.T) {
	t.Parallel()
	keys := codecKeys(t, newSpec(t, "itest-f"))
	s := newStack(t, stackOptions{DataConverter: codec.DataConverter(keys), FailureConverter: codec.FailureConverter(keys)})
	refusal := "Does not contain a valid address: " + learnerEmail
	s.SendGrid.FailAlways(sendgridtest.Failure{Status: http.StatusBadRequest, Errors: []string{refusal}})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)

	r := s.result(t, id)
	require.Equal(t, workflows.StatusPartial, r.Status)
	require.Contains(t, r.Error, refusal, "the workflow read its own failure")
	require.Contains(t, row(t, s, id).Error, refusal)

	var failures int
	for _, e := range rawHistory(t, id) {
		if e.GetEventType() != enums.EVENT_TYPE_ACTIVITY_TASK_FAILED {
			continue
		}
		failures++
		raw, err := proto.Marshal(e)
		require.NoError(t, err)
		require.NotContains(t, string(raw), learnerEmail, "nor in a cause further down the chain")
		f := e.GetActivityTaskFailedEventAttributes().GetFailure()
		require.NotContains(t, f.GetMessage(), learnerEmail)
		require.NotNil(t, f.GetEncodedAttributes(), "message and stack trace travel encrypted")
		requireEncrypted(t, "failure attributes", "itest-f", []*commonpb.Payload{f.GetEncodedAttributes()})
	}
	require.Equal(t, 1, failures)
}
