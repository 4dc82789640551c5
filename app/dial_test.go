package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/internal/tlsproxy"
)

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func load(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return vars[k] }, config.Worker)
	require.NoError(t, err)
	return cfg
}

// pki is a server CA, the proxy's certificate from it, and a client CA with
// one client's certificate and key on disk.
type pki struct {
	serverCA, clientCA *tlsproxy.CA
	caFile             string
	cert, key          string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	p := pki{serverCA: tlsproxy.NewCA(t, "server CA"), clientCA: tlsproxy.NewCA(t, "client CA")}
	p.caFile = p.serverCA.WriteFile(t, dir, "server-ca.crt")
	p.cert, p.key = p.clientCA.Client(t, "worker").WriteFiles(t, dir, "worker")
	return p
}

func (p pki) vars(addr string) map[string]string {
	return map[string]string{
		"TEMPORAL_ADDRESS":                 addr,
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    p.cert,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     p.key,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": p.caFile,
		"TEMPORAL_TLS_SERVER_NAME":         "temporal.test",
	}
}

func TestClientOptionsCarryTheConnection(t *testing.T) {
	p := newPKI(t)
	spec, err := codec.GenerateSpec("k1")
	require.NoError(t, err)
	vars := p.vars("temporal.test:7233")
	vars["TEMPORAL_NAMESPACE"] = "coursehook"
	vars["ENCRYPTION_KEYS"], vars["ENCRYPTION_KEY_ID"] = spec, "k1"
	opts, err := ClientOptions(load(t, vars), quiet)
	require.NoError(t, err)
	require.Equal(t, "temporal.test:7233", opts.HostPort)
	require.Equal(t, "coursehook", opts.Namespace)
	require.NotNil(t, opts.ConnectionOptions.TLS)
	require.Len(t, opts.ConnectionOptions.TLS.Certificates, 1, "the client certificate")
	require.NotNil(t, opts.ConnectionOptions.TLS.RootCAs, "the server CA")
	require.Equal(t, "temporal.test", opts.ConnectionOptions.TLS.ServerName)
	require.NotNil(t, opts.Logger)
	require.NotNil(t, opts.DataConverter, "payloads stay encrypted")
	require.NotNil(t, opts.FailureConverter)

	opts, err = ClientOptions(load(t, map[string]string{"TEMPORAL_API_KEY": "key-from-the-cloud-ui"}), quiet)
	require.NoError(t, err)
	require.NotNil(t, opts.Credentials, "the API key")
	require.NotNil(t, opts.ConnectionOptions.TLS, "an API key goes over TLS")

	opts, err = ClientOptions(config.Config{TemporalAddress: "127.0.0.1:7233", TemporalNamespace: "default"}, quiet)
	require.NoError(t, err, "a Config built by hand dials in plaintext, as before")
	require.Equal(t, "127.0.0.1:7233", opts.HostPort)
	require.Nil(t, opts.ConnectionOptions.TLS)
	require.Nil(t, opts.Credentials)
}

func TestClientOptionsFailWhenACertificateIsGone(t *testing.T) {
	p := newPKI(t)
	cfg := load(t, p.vars("temporal.test:7233"))
	require.NoError(t, os.Remove(p.cert))
	_, err := ClientOptions(cfg, quiet)
	require.ErrorContains(t, err, filepath.Base(p.cert))
	_, err = DialTemporal(t.Context(), cfg, quiet)
	require.ErrorContains(t, err, filepath.Base(p.cert))
}

// unavailable is how the SDK reports a connection that failed: the gRPC
// error flattened into an Unavailable service error.
func unavailable(desc string) error {
	return fmt.Errorf("failed reaching server: %w", serviceerror.NewUnavailable("connection error: desc = \""+desc+"\""))
}

func TestDialRefusal(t *testing.T) {
	permanent := map[string]error{
		"client certificate refused":  unavailable("error reading server preface: remote error: tls: certificate required"),
		"client CA unknown":           unavailable("error reading server preface: remote error: tls: unknown certificate authority"),
		"server CA unknown":           unavailable("transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"),
		"server name":                 unavailable("transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate is valid for localhost, not x.example"),
		"TLS to a plaintext server":   unavailable("transport: authentication handshake failed: tls: first record does not look like a TLS handshake"),
		"API key refused":             status.Error(codes.Unauthenticated, "invalid API key"),
		"namespace access refused":    fmt.Errorf("dial: %w", serviceerror.NewPermissionDenied("Request unauthorized.", "")),
		"wrapped client cert refusal": fmt.Errorf("dial temporal: %w", unavailable("remote error: tls: bad certificate")),
	}
	for name, err := range permanent {
		require.NotEmpty(t, DialRefusal(err), name)
	}
	transient := map[string]error{
		"nil":                nil,
		"connection refused": unavailable("transport: Error while dialing: dial tcp 127.0.0.1:7233: connect: connection refused"),
		"server went away":   unavailable("error reading server preface: EOF"),
		"handshake timeout":  unavailable("transport: authentication handshake failed: read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"),
		"handshake EOF":      unavailable("transport: authentication handshake failed: EOF"),
		"deadline":           context.DeadlineExceeded,
		"unavailable":        serviceerror.NewUnavailable("frontend is starting"),
	}
	for name, err := range transient {
		require.Empty(t, DialRefusal(err), name)
	}
}

// TestDialTemporalStopsAtARefusal: a TLS refusal ends the dial at once,
// with the reason and the setting to look at, while a server that merely
// drops the connection is retried until the context ends.
func TestDialTemporalStopsAtARefusal(t *testing.T) {
	p := newPKI(t)
	// Nothing listens behind the proxy: a client it lets through meets a
	// closed connection, as while Temporal starts.
	down, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	backend := down.Addr().String()
	down.Close()
	proxy := tlsproxy.Start(t, backend, tlsproxy.Options{
		Certificate: p.serverCA.Server(t, "temporal.test").TLS(t),
		ClientCAs:   p.clientCA.Pool(),
	})

	intruder := p
	intruder.cert, intruder.key = tlsproxy.NewCA(t, "another CA").Client(t, "intruder").WriteFiles(t, t.TempDir(), "intruder")
	untrusting := p
	untrusting.caFile = tlsproxy.NewCA(t, "unrelated CA").WriteFile(t, t.TempDir(), "ca.crt")
	cases := map[string]struct {
		pki  pki
		want string
	}{
		"client certificate of another CA": {intruder, "TEMPORAL_TLS_CLIENT_CERT_PATH"},
		"server certificate not trusted":   {untrusting, "TEMPORAL_TLS_SERVER_CA_CERT_PATH"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			_, err := DialTemporal(ctx, load(t, tc.pki.vars(proxy.Addr())), quiet)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, proxy.Addr())
			require.NoError(t, ctx.Err(), "the dial gave up by itself")
			require.Less(t, time.Since(start), 10*time.Second)
		})
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err = DialTemporal(ctx, load(t, p.vars(proxy.Addr())), quiet)
	require.Error(t, err)
	require.True(t, errors.Is(ctx.Err(), context.DeadlineExceeded), "the right certificate is retried while the server is away: %v", err)
	require.NotEmpty(t, proxy.Accepted(), "the proxy let the right client through")
}
