package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/internal/devserver"
	"github.com/coursehook/coursehook/webhook"
)

func TestOptionsCarryTheNamespace(t *testing.T) {
	opts := webhookOptions(config.Config{TemporalNamespace: "coursehook"}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	require.Equal(t, "coursehook", opts.Namespace, "/readyz checks the namespace the client uses")
}

// eventually polls check every 100 ms until it returns true, and fails the
// test with what after the deadline.
func eventually(t *testing.T, within time.Duration, check func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what())
		}
		<-tick.C
	}
}

// get answers GET url with its status and JSON body.
func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := testHTTP.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

// TestWaitsForTheNamespaceToBeRegistered: a server started before its
// namespace exists, as on a cluster whose namespace job runs later, is not
// ready, answers events 503 without keeping them as dead letters, and says
// why in its log; once the namespace is registered it becomes ready and
// starts workflows, without a restart.
func TestWaitsForTheNamespaceToBeRegistered(t *testing.T) {
	t.Parallel()
	srv, err := devserver.Start(t.Context(), devserver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })

	ns := "starter-later-" + uuid.NewString()[:8]
	deadLetters := t.TempDir()
	env := map[string]string{
		"HTTP_ADDR":          "127.0.0.1:0",
		"ADMIN_ADDR":         "127.0.0.1:0",
		"TEMPORAL_ADDRESS":   srv.FrontendHostPort(),
		"TEMPORAL_NAMESPACE": ns,
		"ALLOWED_SOURCE_IPS": "127.0.0.1,::1",
		"DEAD_LETTER_DIR":    deadLetters,
	}
	addr, logs := serveWith(t, env)
	base := "http://" + addr

	code, body := get(t, base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"status": "unavailable", "error": "namespace " + ns + " is not registered"}, body)
	event, err := os.ReadFile("../testdata/course-completion.json")
	require.NoError(t, err)
	postEvent := func() *http.Response {
		resp, err := testHTTP.Post(base+webhook.Path, "application/json", bytes.NewReader(event))
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := postEvent()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `"msg":"namespace `+ns+` is not registered yet; waiting`)
	}, logs.String)

	_, err = srv.Client().WorkflowService().RegisterNamespace(t.Context(), &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err)

	eventually(t, 30*time.Second, func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	}, logs.String)
	// The starter registers the search attributes of the new namespace
	// (TEMPORAL_REGISTER_SEARCH_ATTRIBUTES); until then a start would be
	// refused for them, so it is not ready before.
	require.Contains(t, logs.String(), `"msg":"registered search attributes","namespace":"`+ns+`"`)
	eventually(t, 30*time.Second, func() bool {
		code := postEvent().StatusCode
		require.Contains(t, []int{http.StatusAccepted, http.StatusServiceUnavailable}, code, "logs:\n%s", logs.String())
		return code == http.StatusAccepted
	}, logs.String)
	letters, err := deadletter.Dir(deadLetters).List()
	require.NoError(t, err)
	require.Empty(t, letters, "nothing was refused while the namespace was missing")
	require.Contains(t, logs.String(), `"namespace":"`+ns+`"`)
}
