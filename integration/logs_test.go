package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/workflows"
)

// TestLogsNameNoLearner runs the sample end to end and reads every line the
// webhook, the worker and the SDK logged, at debug level: the event id is
// there to follow the event, the learner's email and name are not.
func TestLogsNameNoLearner(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	// A re-delivery and a refused body log too.
	require.Equal(t, http.StatusOK, s.post(t, body).Status)
	bad := strings.Replace(string(body), `"user": "bob.johnson@example.com"`, `"user": "bob.johnson at example.com"`, 1)
	require.Equal(t, http.StatusBadRequest, s.post(t, []byte(bad)).Status)

	logs := s.Logs.String()
	require.Contains(t, logs, id)
	require.Contains(t, logs, `"learner":"`+event.Event{User: "bob.johnson@example.com"}.LearnerHash([]byte(config.DevelopmentLearnerHashKey))+`"`)
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		for _, personal := range []string{"bob.johnson", "Bob", "Johnson"} {
			require.NotContains(t, line, personal, "a log line names the learner")
		}
	}
}

// TestFailureLogsNameNoLearner: a permanent provider failure is logged by
// the activity, the SDK and the workflow, still without the learner.
func TestFailureLogsNameNoLearner(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.SendGrid.FailAlways(sendgridtest.Failure{Status: http.StatusBadRequest, Errors: []string{"The to email does not contain a valid address."}})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	r := s.result(t, id)
	require.Equal(t, workflows.StatusPartial, r.Status)

	logs := s.Logs.String()
	require.Contains(t, logs, "does not contain a valid address", "the failure is logged")
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		for _, personal := range []string{"bob.johnson", "Bob", "Johnson"} {
			require.NotContains(t, line, personal, "a log line names the learner")
		}
	}
}
