package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coursehook/coursehook/deadletter"
)

// namespaceMissing is the error in each form a start in a namespace that a
// separate job has not registered yet can reach the handler.
var namespaceMissing = []struct {
	name string
	err  error
}{
	{"the SDK's service error", serviceerror.NewNamespaceNotFound("coursehook")},
	{"wrapped", fmt.Errorf("start: %w", serviceerror.NewNamespaceNotFound("coursehook"))},
	{"gRPC status with the detail", serviceerror.ToStatus(serviceerror.NewNamespaceNotFound("coursehook")).Err()},
	{"NotFound without the detail", status.Error(codes.NotFound, "Namespace coursehook is not found.")},
}

// TestMissingNamespaceAnswers503: until the namespace is registered, a start
// is answered 503 with Retry-After, as for an outage, and never kept as a
// dead letter; the log line names the namespace and says what is wrong.
func TestMissingNamespaceAnswers503(t *testing.T) {
	for _, c := range namespaceMissing {
		t.Run(c.name, func(t *testing.T) {
			require.True(t, Transient(c.err))
			dir := t.TempDir()
			// Options.Namespace is left at its default: the name comes from
			// Temporal's answer, which speaks for the client.
			h := newHarness(t, Options{RetryAfter: 30 * time.Second, DeadLetters: deadletter.Dir(dir)})
			h.temporal.err = c.err
			// The platform's retries meet the same answer every time.
			for range 3 {
				code, body := h.serve(t, request(Path, sampleBody(t)))
				require.Equal(t, http.StatusServiceUnavailable, code, "%v", body)
				require.Equal(t, sampleID, body["eventId"])
				require.Contains(t, body["error"], "namespace coursehook is not registered yet")
			}
			require.Equal(t, "30", serveRaw(h, request(Path, sampleBody(t))).Header().Get("Retry-After"))
			letters, err := deadletter.Dir(dir).List()
			require.NoError(t, err)
			require.Empty(t, letters, "the platform's to retry, not the operators' to replay")
			require.Contains(t, h.logs.String(), `namespace coursehook is not registered (yet); answering 503`)
			require.Contains(t, h.logs.String(), `"namespace":"coursehook"`)
			require.Contains(t, h.logs.String(), `"eventId":"`+sampleID+`"`)
			require.NotContains(t, h.logs.String(), "refused")
		})
	}
}

// TestOtherNotFoundIsNotANamespace: only the namespace's NotFound is waited
// for; any other is still a refusal.
func TestOtherNotFoundIsNotANamespace(t *testing.T) {
	require.False(t, Transient(serviceerror.NewNotFound("workflow execution not found")))
	require.False(t, Transient(errors.New("Namespace coursehook is not found.")), "a plain error is not Temporal's answer")
}

// steppedClock is a clock a test moves by hand.
type steppedClock struct{ now time.Time }

func (c *steppedClock) Now() time.Time { return c.now }

// TestReadyOnlyOnceTheNamespaceExists: /readyz answers 200 only when
// Temporal answers and the namespace exists, says which problem it has
// otherwise, and remembers a positive answer for a few seconds only.
func TestReadyOnlyOnceTheNamespaceExists(t *testing.T) {
	clock := &steppedClock{now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	h := newHarness(t, Options{Namespace: "coursehook", Now: clock.Now})
	ready := func() (int, map[string]any) {
		t.Helper()
		req := request(readyPath, nil)
		req.Method = http.MethodGet
		return h.serve(t, req)
	}

	h.temporal.healthErr = serviceerror.NewUnavailable("connection refused")
	code, body := ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"status": "unavailable", "error": "temporal unreachable"}, body)
	require.Empty(t, h.temporal.Described(), "an unreachable server is not asked about the namespace")
	h.temporal.healthErr = nil

	for _, c := range namespaceMissing {
		h.temporal.describeErr = c.err
		code, body = ready()
		require.Equal(t, http.StatusServiceUnavailable, code, c.name)
		require.Equal(t, map[string]any{"status": "unavailable", "error": "namespace coursehook is not registered"}, body, c.name)
	}
	require.Contains(t, h.logs.String(), "namespace coursehook is not registered (yet)")

	h.temporal.describeErr = serviceerror.NewPermissionDenied("Request unauthorized.", "")
	code, body = ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"status": "unavailable", "error": "namespace coursehook could not be checked"}, body)

	// Registered: ready at once, at the same instant, so no failure was
	// remembered.
	h.temporal.describeErr = nil
	code, body = ready()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"status": "ready"}, body)
	asked := len(h.temporal.Described())
	require.Equal(t, len(namespaceMissing)+2, asked)
	for _, ns := range h.temporal.Described() {
		require.Equal(t, "coursehook", ns)
	}

	// A positive answer is remembered for readyFor, then asked again.
	h.temporal.describeErr = serviceerror.NewNamespaceNotFound("coursehook")
	clock.now = clock.now.Add(readyFor - time.Millisecond)
	code, _ = ready()
	require.Equal(t, http.StatusOK, code)
	require.Len(t, h.temporal.Described(), asked, "a cached answer asks nothing")
	clock.now = clock.now.Add(time.Millisecond)
	code, body = ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "namespace coursehook is not registered", body["error"])
	require.Len(t, h.temporal.Described(), asked+1)
}

// TestReadyChecksTheDefaultNamespace: without Options.Namespace, the SDK's
// default is the one checked, as it is the one the client uses.
func TestReadyChecksTheDefaultNamespace(t *testing.T) {
	h := newHarness(t, Options{})
	h.temporal.describeErr = serviceerror.NewNamespaceNotFound("default")
	req := request(readyPath, nil)
	req.Method = http.MethodGet
	code, body := h.serve(t, req)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"status": "unavailable", "error": "namespace default is not registered"}, body)
	require.Equal(t, []string{"default"}, h.temporal.Described())
}

// TestReadyWaitsForTheStartUpCheck: with Options.Checked, /readyz stays 503
// with the check's error, even once Temporal answers and the namespace
// exists, until the check passes; an unreachable Temporal is still named
// first.
func TestReadyWaitsForTheStartUpCheck(t *testing.T) {
	checked := errors.New("search attributes not checked yet")
	h := newHarness(t, Options{Namespace: "coursehook", Checked: func() error { return checked }})
	ready := func() (int, map[string]any) {
		t.Helper()
		req := request(readyPath, nil)
		req.Method = http.MethodGet
		return h.serve(t, req)
	}

	code, body := ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"status": "unavailable", "error": "search attributes not checked yet"}, body)
	require.Contains(t, h.logs.String(), "search attributes not checked yet")

	h.temporal.healthErr = serviceerror.NewUnavailable("connection refused")
	code, body = ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "temporal unreachable", body["error"])
	h.temporal.healthErr = nil

	checked = nil
	code, body = ready()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"status": "ready"}, body)
}
