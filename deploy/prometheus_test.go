package deploy

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrometheusFiles checks the compose stack's Prometheus configuration
// and alert rules with Prometheus's own tool, and runs the rules' unit tests
// (deploy/prometheus/alerts_test.yml).
func TestPrometheusFiles(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus): the Prometheus files are unchecked")
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus/prometheus.yml"},
		{"check", "rules", "prometheus/alerts.yml"},
		{"test", "rules", "prometheus/alerts_test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %v:\n%s", args, out)
	}
}

// TestPrometheusScrapesBothBinaries: the compose stack's Prometheus reaches
// each binary's metrics on the address that binary listens on.
func TestPrometheusScrapesBothBinaries(t *testing.T) {
	p := loadProject(t, nil)
	prom := service(t, p, "prometheus")
	require.NotEmpty(t, prom.Volumes)
	require.Equal(t, ":9091", requireEnv(t, service(t, p, "worker"), "METRICS_ADDR"))
	require.Equal(t, ":8082", requireEnv(t, service(t, p, "starter"), "ADMIN_ADDR"))
}
