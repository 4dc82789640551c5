// Package app is what every coursehook binary shares to reach Temporal from
// a Config: the logger, the client's options and dial, and the checks of the
// namespace and its search attributes. The worker's own wiring (channels,
// activities, workers) is package wire, so that the webhook server and
// coursehookctl link no provider.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"

	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/config"
)

// NewLogger returns a JSON logger at the configured level. JSON keeps every
// untrusted value inside a quoted, escaped field.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// ClientOptions are the Temporal client options for cfg: its connection
// profile (address, namespace, API key, TLS and client certificate, read by
// config.Load) with coursehook's logger and converters. With encryption
// keys, every payload is encrypted before it leaves the process, so the
// webhook server (which writes the workflow input) and the worker must both
// use them. It fails only when a certificate file config.Load checked has
// since become unreadable.
func ClientOptions(cfg config.Config, log *slog.Logger) (client.Options, error) {
	// The two fields win, so a Config built by hand (as tests do) still
	// dials where it says, in plaintext unless it has a profile.
	prof := cfg.Temporal
	prof.Address, prof.Namespace = cfg.TemporalAddress, cfg.TemporalNamespace
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal connection settings: %w", err)
	}
	opts.Logger = sdklog.NewStructuredLogger(log)
	if cfg.Encryption != nil {
		opts.DataConverter = codec.DataConverter(*cfg.Encryption)
		opts.FailureConverter = codec.FailureConverter(*cfg.Encryption)
	}
	return opts, nil
}

// LogEncryption says at start whether payloads are encrypted.
func LogEncryption(cfg config.Config, log *slog.Logger) {
	if cfg.Encryption == nil {
		log.Warn("payload encryption is off (ENCRYPTION_KEYS is unset): Temporal stores learner data in plaintext")
		return
	}
	log.Info("payload encryption is on", "keyId", cfg.Encryption.ActiveID())
}

// DialTemporal connects, retrying while Temporal is still starting (as it is
// under `make run` or a compose stack) until ctx ends. A refusal no retry
// can change, such as a client certificate the server does not accept, ends
// it at once.
// Each of with adjusts the options first, as the worker does to add its
// metrics handler.
func DialTemporal(ctx context.Context, cfg config.Config, log *slog.Logger, with ...func(*client.Options)) (client.Client, error) {
	opts, err := ClientOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	for _, w := range with {
		w(&opts)
	}
	wait := 500 * time.Millisecond
	for {
		dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.DialContext(dialCtx, opts)
		cancel()
		if err == nil {
			return c, nil
		}
		if why, err := refusal(ctx, opts, err); why != "" {
			return nil, fmt.Errorf("dial temporal at %s: %s: %w", cfg.TemporalAddress, why, err)
		}
		log.Warn("temporal not reachable yet", "address", cfg.TemporalAddress, "error", err, "retryIn", wait.String())
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial temporal at %s: %w", cfg.TemporalAddress, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// DialRefusal says why err, from dialling Temporal, is a refusal that no
// retry can change, or "" when it may pass (Temporal still starting, a
// network outage). gRPC hands the TLS error over as text only, so the
// prefixes of crypto/tls and crypto/x509 are what tells them apart; a
// connection the server merely drops (EOF, a timeout) stays retryable.
func DialRefusal(err error) string {
	if err == nil {
		return ""
	}
	switch serviceerror.ToStatus(err).Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		return "the server refused the credentials (TEMPORAL_API_KEY, or the client certificate)"
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "x509: "):
		return "the server's certificate is not trusted (TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME)"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "TLS is on, but the server does not speak TLS (TEMPORAL_ADDRESS, or TEMPORAL_TLS=false)"
	case strings.Contains(msg, "remote error: tls: "):
		return "the server refused the TLS handshake, usually for want of a client certificate its CA signed (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)"
	}
	return ""
}

// refusal is DialRefusal, made sure of over TLS. Under TLS 1.3 a server
// judges the client certificate once the client's side of the handshake is
// over, and gRPC writes at once, so the server's alert often loses the race
// to a bare "broken pipe" that looks like any dropped connection. A
// connection that writes nothing reads the alert whole; it is asked only
// after a dial failed for a reason that may pass. It returns the reason and
// the error that shows it.
func refusal(ctx context.Context, opts client.Options, err error) (string, error) {
	if why := DialRefusal(err); why != "" || opts.ConnectionOptions.TLS == nil {
		return why, err
	}
	conf := opts.ConnectionOptions.TLS.Clone()
	if conf.ServerName == "" {
		// As gRPC does: the host the client dials, or the authority it
		// claims.
		host := cmp.Or(opts.ConnectionOptions.Authority, opts.HostPort)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		conf.ServerName = host
	}
	conf.NextProtos = []string{"h2"}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, verdict := (&tls.Dialer{Config: conf}).DialContext(ctx, "tcp", opts.HostPort)
	if verdict == nil {
		defer func() { _ = conn.Close() }()
		// A server that accepted the certificate sends its HTTP/2 settings
		// or waits for the client's; one that refused it sends an alert.
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		_, verdict = conn.Read(make([]byte, 1))
	}
	if why := DialRefusal(verdict); why != "" {
		return why, verdict
	}
	return "", err
}
