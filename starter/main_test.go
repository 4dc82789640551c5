package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/internal/syncbuf"
	"github.com/coursehook/coursehook/sgevents"
	"github.com/coursehook/coursehook/webhook"
)

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	err := run(context.Background(), func(k string) string {
		return map[string]string{"HTTP_ADDR": "nonsense"}[k]
	}, &bytes.Buffer{}, nil)
	require.ErrorContains(t, err, "HTTP_ADDR")
}

func TestServesUntilCancelledThenStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{"HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0", "TEMPORAL_ADDRESS": "127.0.0.1:1"}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &logs, ready) }()

	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	resp, err := testHTTP.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "alive without Temporal")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after cancellation")
	}
	require.Contains(t, logs.String(), "webhook server stopped")
}

// serve runs the starter with env until the test ends, against no
// Temporal, and returns its address and logs.
func serve(t *testing.T, env map[string]string) (string, *syncbuf.Buffer) {
	t.Helper()
	env["HTTP_ADDR"], env["TEMPORAL_ADDRESS"] = "127.0.0.1:0", "127.0.0.1:1"
	if env["ADMIN_ADDR"] == "" {
		env["ADMIN_ADDR"] = "127.0.0.1:0"
	}
	env["TEMPORAL_START_TIMEOUT"] = "1s"
	return serveWith(t, env)
}

// serveWith runs the starter with env as given until the test ends and
// returns its address and logs.
func serveWith(t *testing.T, env map[string]string) (string, *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncbuf.Buffer{}
	go func() { done <- run(ctx, func(k string) string { return env[k] }, logs, ready) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case addr := <-ready:
		return addr, logs
	case err := <-done:
		// Put it back for the cleanup, which waits for it.
		done <- err
		t.Fatalf("run ended before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return "", nil
}

func post(t *testing.T, url string) int {
	t.Helper()
	body, err := os.ReadFile("../testdata/course-completion.json")
	require.NoError(t, err)
	resp, err := testHTTP.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestDefaultSourcesRefuseLoopback(t *testing.T) {
	addr, logs := serve(t, map[string]string{})
	require.Equal(t, http.StatusForbidden, post(t, "http://"+addr+webhook.Path))
	require.Contains(t, logs.String(), `"allowed":["54.243.7.71/32","3.83.213.76/32"]`)
	require.Contains(t, logs.String(), `"msg":"source refused","source":"127.0.0.1"`)
	require.NotContains(t, logs.String(), `"level":"WARN","msg":"ALLOWED_SOURCE_IPS`)
}

func TestConfiguredSourcesAndSecretReachTheHandler(t *testing.T) {
	addr, logs := serve(t, map[string]string{
		"ALLOWED_SOURCE_IPS": "127.0.0.1,::1",
		"TRUSTED_PROXIES":    "10.0.0.0/8",
		"WEBHOOK_SECRET":     "starter-secret-0123456789",
	})
	base := "http://" + addr + webhook.Path
	require.Equal(t, http.StatusUnauthorized, post(t, base))
	// Past the source and token checks, the start fails: Temporal is down.
	require.Equal(t, http.StatusServiceUnavailable, post(t, base+"/starter-secret-0123456789"))
	require.Contains(t, logs.String(), `"trustedProxies":["10.0.0.0/8"],"secret":true`)
	require.NotContains(t, logs.String(), "starter-secret-0123456789")
}

func TestEverySourceIsAllowedOnlyWithAWarning(t *testing.T) {
	addr, logs := serve(t, map[string]string{"ALLOWED_SOURCE_IPS": "*"})
	require.Equal(t, http.StatusServiceUnavailable, post(t, "http://"+addr+webhook.Path), "loopback passes the source check")
	require.Contains(t, logs.String(), `"level":"WARN","msg":"ALLOWED_SOURCE_IPS is \"*\"`)
}

func TestOptionsNeverAllowEveryoneByAccident(t *testing.T) {
	opts := webhookOptions(config.Config{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	require.NotNil(t, opts.AllowedSources, "a config without sources allows no one, not everyone")
	require.Empty(t, opts.AllowedSources)
}

// TestStartsAreNotCompressed: the webhook server's starts go to Temporal
// uncompressed (clientOptions says why).
func TestStartsAreNotCompressed(t *testing.T) {
	opts, err := clientOptions(config.Config{TemporalAddress: "127.0.0.1:1"}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.IsType(t, &client.GrpcCompressionNone{}, opts.ConnectionOptions.GrpcCompression)
}

// listening is the address a listener of the starter bound, from its own
// "<name> listening" log line: tests ask for port 0, since a port chosen
// free and then released can be taken by another test before the starter
// binds it.
func listening(t *testing.T, logs *syncbuf.Buffer, name string) string {
	t.Helper()
	for line := range strings.Lines(logs.String()) {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == name+" listening" {
			return l.Addr
		}
	}
	t.Fatalf("no %q line in the logs:\n%s", name+" listening", logs.String())
	return ""
}

func TestCodecServerRunsWithEncryptionKeys(t *testing.T) {
	spec, err := codec.GenerateSpec("k1")
	require.NoError(t, err)
	_, logs := serve(t, map[string]string{
		"ENCRYPTION_KEYS": spec, "ENCRYPTION_KEY_ID": "k1", "CODEC_ADDR": "127.0.0.1:0", "ALLOWED_SOURCE_IPS": "*",
	})
	codecAddr := listening(t, logs, "codec server")

	req, err := http.NewRequest(http.MethodOptions, "http://"+codecAddr+"/decode", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "http://localhost:8233")
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "http://localhost:8233", resp.Header.Get("Access-Control-Allow-Origin"), "the UI may call the codec endpoint")
	require.Contains(t, logs.String(), `"msg":"payload encryption is on","keyId":"k1"`)
	require.NotContains(t, logs.String(), spec[len("k1:"):], "the key never reaches the logs")
}

// TestExportIsOnTheAdminListenerOnly: with API_TOKEN set, the completions
// export answers on ADMIN_ADDR, behind the token, and never on the public
// port.
func TestExportIsOnTheAdminListenerOnly(t *testing.T) {
	const token = "export-token-0123456789"
	addr, logs := serve(t, map[string]string{
		"API_TOKEN": token, "DATABASE_URL": filepath.Join(t.TempDir(), "coursehook.db"),
	})
	adminAddr := listening(t, logs, "admin server")

	req, err := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/api/completions", nil)
	require.NoError(t, err)
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = testHTTP.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"items":[],"nextCursor":null}`, string(body))

	req, err = http.NewRequest(http.MethodGet, "http://"+addr+"/api/completions", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = testHTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.NotEqual(t, http.StatusOK, resp.StatusCode, "the public port never serves the export")
}

// TestSendGridEventsOnlyWithAKey: without SENDGRID_WEBHOOK_PUBLIC_KEY the
// route is a 404 and the log says how to turn it on; with one it checks
// signatures (401 unsigned) from any source; a key that is not SendGrid's
// stops the server at start with the variable's name.
func TestSendGridEventsOnlyWithAKey(t *testing.T) {
	addr, logs := serve(t, map[string]string{})
	resp, err := testHTTP.Post("http://"+addr+sgevents.Path, "application/json", strings.NewReader(`[]`))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "off, whatever the source")
	require.Contains(t, string(body), "SENDGRID_WEBHOOK_PUBLIC_KEY")
	require.Contains(t, logs.String(), "set SENDGRID_WEBHOOK_PUBLIC_KEY")

	key, err := sgevents.GenerateKey()
	require.NoError(t, err)
	pub, err := sgevents.PublicKeyBase64(&key.PublicKey)
	require.NoError(t, err)
	addr, _ = serve(t, map[string]string{"SENDGRID_WEBHOOK_PUBLIC_KEY": pub, "DATABASE_URL": filepath.Join(t.TempDir(), "c.db"),
		"ALLOWED_SOURCE_IPS": "203.0.113.7"})
	resp, err = testHTTP.Post("http://"+addr+sgevents.Path, "application/json", strings.NewReader(`[]`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "not the platform's allowlist: its own signature check")

	err = run(context.Background(), func(k string) string {
		return map[string]string{"SENDGRID_WEBHOOK_PUBLIC_KEY": "bm90IGEga2V5", "HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0",
			"DATABASE_URL": filepath.Join(t.TempDir(), "c.db")}[k]
	}, &bytes.Buffer{}, nil)
	require.ErrorContains(t, err, "SENDGRID_WEBHOOK_PUBLIC_KEY")
}
