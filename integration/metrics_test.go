package integration

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/workflows"
)

// scrape is what Prometheus reads from reg's /metrics.
func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

// TestMetricsMoveWithTheSample: after the sample is posted, the webhook
// server's and the worker's counters say what happened, and a real
// Prometheus tool accepts both outputs.
func TestMetricsMoveWithTheSample(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Equal(t, http.StatusOK, s.post(t, body).Status, "a duplicate")
	require.Equal(t, http.StatusBadRequest, s.post(t, []byte(`{"id":""}`)).Status)

	web := scrape(t, s.WebhookMetrics)
	for _, line := range []string{
		`coursehook_webhook_workflows_started_total{kind="completion"} 1`,
		`coursehook_webhook_duplicates_total 1`,
		`coursehook_webhook_rejections_total{reason="invalid"} 1`,
		`coursehook_webhook_requests_total{code="202",route="/webhooks/events"} 1`,
		`coursehook_webhook_requests_total{code="200",route="/webhooks/events"} 1`,
		`coursehook_webhook_ack_duration_seconds_count{route="/webhooks/events"} 3`,
		`coursehook_webhook_start_errors_total{class="refused"} 0`,
	} {
		require.Contains(t, web, line+"\n")
	}
	work := scrape(t, s.WorkerMetrics)
	for _, line := range []string{
		`coursehook_notices_total{channel="slack",outcome="sent"} 1`,
		`coursehook_notices_total{channel="email",outcome="sent"} 1`,
		`coursehook_provider_request_duration_seconds_count{provider="slack",result="ok"} 1`,
		`coursehook_provider_request_duration_seconds_count{provider="sendgrid",result="ok"} 1`,
		`coursehook_partial_events 0`,
	} {
		require.Contains(t, work, line+"\n")
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus): the output's conventions are unchecked")
	}
	for name, text := range map[string]string{"webhook server": web, "worker": work} {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Run(), "%s: promtool check metrics:\n%s", name, out.String())
	}
}

// TestPermanentFailuresAreCounted: a refused Slack notice counts as
// permanent and the event as partial.
func TestPermanentFailuresAreCounted(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	s.Slack.FailAlways(slacktest.Failure{Status: http.StatusOK, SlackError: "invalid_auth"})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusPartial, s.result(t, id).Status)
	work := scrape(t, s.WorkerMetrics)
	require.Contains(t, work, `coursehook_notices_total{channel="slack",outcome="permanent"} 1`+"\n")
	require.Contains(t, work, "coursehook_partial_events 1\n")
}
