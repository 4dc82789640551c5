package integration

// A secured cluster, the way Temporal Cloud with mTLS or a self-hosted
// cluster with TLS is reached: the dev server behind a proxy that speaks TLS
// and lets in only clients whose certificate a given CA signed. The binaries
// find it through the standard Temporal variables and temporal.toml alone.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/internal/syncbuf"
	"github.com/coursehook/coursehook/internal/tlsproxy"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/workflows"
)

// serverName is the name on the proxy's certificate; the clients reach it
// at 127.0.0.1 and check the certificate against this name.
const serverName = "temporal.coursehook.test"

var quietLog = slog.New(slog.NewJSONHandler(io.Discard, nil))

// securedCluster is the dev server behind an mTLS proxy, with the files a
// client needs: the server's CA, and a certificate and key per client name.
type securedCluster struct {
	proxy    *tlsproxy.Proxy
	clientCA *tlsproxy.CA
	dir      string
	caFile   string
}

func newSecuredCluster(t *testing.T) securedCluster {
	t.Helper()
	serverCA, clientCA := tlsproxy.NewCA(t, "cluster CA"), tlsproxy.NewCA(t, "client CA")
	dir := t.TempDir()
	return securedCluster{
		proxy: tlsproxy.Start(t, frontend, tlsproxy.Options{
			Certificate: serverCA.Server(t, serverName).TLS(t),
			ClientCAs:   clientCA.Pool(),
		}),
		clientCA: clientCA,
		dir:      dir,
		caFile:   serverCA.WriteFile(t, dir, "cluster-ca.crt"),
	}
}

// env is the Temporal variables of a client called name whose certificate
// ca signed, with TEMPORAL_CONFIG_FILE pointing nowhere so no temporal.toml
// of the machine's plays a part.
func (c securedCluster) env(t *testing.T, name string, ca *tlsproxy.CA) map[string]string {
	t.Helper()
	cert, key := ca.Client(t, name).WriteFiles(t, c.dir, name)
	return map[string]string{
		"TEMPORAL_ADDRESS":                 c.proxy.Addr(),
		"TEMPORAL_NAMESPACE":               "default",
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    cert,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     key,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": c.caFile,
		"TEMPORAL_TLS_SERVER_NAME":         serverName,
		"TEMPORAL_CONFIG_FILE":             filepath.Join(c.dir, "none.toml"),
	}
}

func environ(vars map[string]string) []string {
	out := os.Environ()
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// TestMTLSClientsOfEachBinaryConnect: the configuration and client path of
// each binary, in process, reaches Temporal through the proxy.
func TestMTLSClientsOfEachBinaryConnect(t *testing.T) {
	t.Parallel()
	cluster := newSecuredCluster(t)
	for _, b := range []config.Binary{config.Worker, config.Starter} {
		vars := cluster.env(t, "in-process", cluster.clientCA)
		cfg, err := config.Load(func(k string) string { return vars[k] }, b)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		c, err := app.DialTemporal(ctx, cfg, quietLog)
		require.NoError(t, err)
		_, err = c.CheckHealth(ctx, nil)
		require.NoError(t, err)
		// A real call into the namespace, as the webhook server's start and
		// the worker's polls are.
		require.NoError(t, app.EnsureSearchAttributes(ctx, c, cfg.TemporalNamespace, false, quietLog))
		c.Close()
		cancel()
	}
	require.Len(t, cluster.proxy.Accepted(), 2)
	require.Empty(t, cluster.proxy.Refused())
}

// TestMTLSBothBinariesCompleteAnEvent: the worker binary, configured by a
// temporal.toml profile, and the webhook server binary, configured by the
// TEMPORAL_TLS_* variables, both reach Temporal only through the proxy; an
// event posted to the webhook completes.
func TestMTLSBothBinariesCompleteAnEvent(t *testing.T) {
	t.Parallel()
	cluster := newSecuredCluster(t)
	taskQueue := "coursehook-" + t.Name() + "-" + uuid.NewString()
	dir := t.TempDir()

	workerVars := cluster.env(t, "coursehook-worker", cluster.clientCA)
	profile := filepath.Join(dir, "temporal.toml")
	require.NoError(t, os.WriteFile(profile, []byte(`[profile.secured]
address = "`+workerVars["TEMPORAL_ADDRESS"]+`"
namespace = "default"
[profile.secured.tls]
client_cert_path = "`+workerVars["TEMPORAL_TLS_CLIENT_CERT_PATH"]+`"
client_key_path = "`+workerVars["TEMPORAL_TLS_CLIENT_KEY_PATH"]+`"
server_ca_cert_path = "`+cluster.caFile+`"
server_name = "`+serverName+`"
`), 0o600))
	startWorkerProcess(t, []string{
		"TEMPORAL_CONFIG_FILE=" + profile, "TEMPORAL_PROFILE=secured", "TEMPORAL_TASK_QUEUE=" + taskQueue,
		"DATABASE_URL=" + filepath.Join(dir, "worker.db"), "OUTBOX_DIR=" + filepath.Join(dir, "outbox"),
	}, "worker.log")

	starterVars := cluster.env(t, "coursehook-starter", cluster.clientCA)
	starterVars["TEMPORAL_TASK_QUEUE"] = taskQueue
	starterVars["HTTP_ADDR"], starterVars["ADMIN_ADDR"] = "127.0.0.1:0", "127.0.0.1:0"
	starterVars["ALLOWED_SOURCE_IPS"] = "127.0.0.1"
	starterVars["DEAD_LETTER_DIR"] = filepath.Join(dir, "dead-letter")
	starterVars["LEARNER_HASH_KEY"] = "integration-learner-hash-key"
	url := startStarterProcess(t, environ(starterVars))

	id, body := sample(t, "course-completion.json")
	resp, err := testHTTP.Post(url+webhook.Path, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var r workflows.CourseCompletionResult
	require.NoError(t, temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &r))
	require.Equal(t, workflows.StatusCompleted, r.Status)
	require.Subset(t, cluster.proxy.Accepted(), []string{"coursehook-worker", "coursehook-starter"})
	require.Empty(t, cluster.proxy.Refused())
}

// TestMTLSAClientCertificateOfAnotherCAFailsAtStart: DialTemporal, and so
// the worker binary, gives up at once with the reason and the variable to
// look at, instead of retrying a refusal that cannot heal.
func TestMTLSAClientCertificateOfAnotherCAFailsAtStart(t *testing.T) {
	t.Parallel()
	cluster := newSecuredCluster(t)
	intruder := tlsproxy.NewCA(t, "another CA")
	const reason = "the server refused the TLS handshake"

	vars := cluster.env(t, "in-process", intruder)
	cfg, err := config.Load(func(k string) string { return vars[k] }, config.Worker)
	require.NoError(t, err, "the files are fine; only the server can tell")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = app.DialTemporal(ctx, cfg, quietLog)
	require.ErrorContains(t, err, reason)
	require.ErrorContains(t, err, "TEMPORAL_TLS_CLIENT_CERT_PATH")
	require.NoError(t, ctx.Err(), "DialTemporal gave up by itself")

	dir := t.TempDir()
	vars = cluster.env(t, "worker-process", intruder)
	vars["DATABASE_URL"], vars["OUTBOX_DIR"] = filepath.Join(dir, "db.sqlite"), filepath.Join(dir, "outbox")
	vars["METRICS_ADDR"] = "127.0.0.1:0"
	start := time.Now()
	cmd := exec.CommandContext(ctx, workerBinary(t))
	cmd.Env = environ(vars)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	require.NoError(t, ctx.Err(), "the worker exited by itself: %s", out)
	require.Equal(t, 1, cmd.ProcessState.ExitCode(), "%s", out)
	require.Contains(t, string(out), reason)
	require.Contains(t, string(out), "TEMPORAL_TLS_CLIENT_CERT_PATH")
	require.Less(t, time.Since(start), 30*time.Second)

	// The webhook server, which connects lazily, checks the handshake at
	// start and stops too.
	vars = cluster.env(t, "starter-process", intruder)
	vars["HTTP_ADDR"], vars["ADMIN_ADDR"], vars["CODEC_ADDR"] = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cmd = exec.CommandContext(ctx, starterBinary(t))
	cmd.Env = environ(vars)
	out, err = cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	require.NoError(t, ctx.Err(), "the webhook server exited by itself: %s", out)
	require.Equal(t, 1, cmd.ProcessState.ExitCode(), "%s", out)
	require.Contains(t, string(out), reason)

	require.Empty(t, cluster.proxy.Accepted(), "no connection got past the proxy")
	require.NotEmpty(t, cluster.proxy.Refused())
}

// TestMTLSAnUnreadableCertificateStopsTheBinariesBeforeTheyDial: a bad path
// is a configuration error that names the variable.
func TestMTLSAnUnreadableCertificateStopsTheBinariesBeforeTheyDial(t *testing.T) {
	t.Parallel()
	cluster := newSecuredCluster(t)
	missing := filepath.Join(t.TempDir(), "missing.crt")
	for _, bin := range []string{workerBinary(t), starterBinary(t)} {
		vars := cluster.env(t, "coursehook", cluster.clientCA)
		vars["TEMPORAL_TLS_CLIENT_CERT_PATH"] = missing
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = environ(vars)
		out, err := cmd.CombinedOutput()
		cancel()
		require.Error(t, err, "%s", out)
		require.Equal(t, 1, cmd.ProcessState.ExitCode(), "%s", out)
		require.Contains(t, string(out), "configuration: TEMPORAL_TLS_CLIENT_CERT_PATH cannot be read")
		require.Contains(t, string(out), missing)
	}
	require.Empty(t, cluster.proxy.Accepted())
	require.Empty(t, cluster.proxy.Refused(), "nothing dialled")
}

var listening = regexp.MustCompile(`"msg":"webhook server listening","addr":"([^"]+)"`)

// startStarterProcess runs the real webhook server and returns its URL once
// it listens; the test's cleanup stops it.
func startStarterProcess(t *testing.T, env []string) string {
	t.Helper()
	cmd := exec.Command(starterBinary(t))
	cmd.Env = env
	logs := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		if t.Failed() {
			t.Logf("starter:\n%s", tail([]byte(logs.String()), 4000))
		}
	})
	var addr string
	require.Eventually(t, func() bool {
		if m := listening.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	}, 30*time.Second, 50*time.Millisecond, "the webhook server did not start:\n%s", logs)
	return "http://" + addr
}
