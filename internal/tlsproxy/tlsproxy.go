// Package tlsproxy stands in for a secured Temporal cluster in tests: a TCP
// proxy that terminates TLS, requires a client certificate signed by a given
// CA, and forwards plain TCP to a server without TLS of its own, such as the
// dev server. It also makes up the CAs and certificates the tests need.
package tlsproxy

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/coursehook/coursehook/internal/faultproxy"
)

// Options are the proxy's certificates.
type Options struct {
	// Certificate is the proxy's own, shown to clients.
	Certificate tls.Certificate
	// ClientCAs are the CAs a client certificate must be signed by; a client
	// without one is refused.
	ClientCAs *x509.CertPool
}

// Proxy forwards the connections of verified clients from Addr to a target.
type Proxy struct {
	*faultproxy.Proxy
	config *tls.Config

	mu       sync.Mutex
	accepted []string
	refused  []error
}

// Start listens on a free loopback port and forwards to target until the
// test ends.
func Start(t testing.TB, target string, opts Options) *Proxy {
	t.Helper()
	p := &Proxy{config: &tls.Config{
		Certificates: []tls.Certificate{opts.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    opts.ClientCAs,
		MinVersion:   tls.VersionTLS12,
		// gRPC clients insist on negotiating HTTP/2.
		NextProtos: []string{"h2", "http/1.1"},
	}}
	p.Proxy = faultproxy.StartWith(t, target, p.handshake)
	return p
}

// Accepted lists the common names of the client certificates of every
// connection let through, in order.
func (p *Proxy) Accepted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.accepted...)
}

// Refused lists why each refused connection failed its handshake.
func (p *Proxy) Refused() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.refused...)
}

// handshake terminates TLS and lets through only clients whose
// certificate the CAs signed, recording each verdict.
func (p *Proxy) handshake(c net.Conn) (net.Conn, bool) {
	client := tls.Server(c, p.config)
	// A client that never finishes its handshake must not hold a goroutine
	// past the test.
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	err := client.Handshake()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.refused = append(p.refused, err)
		return nil, false
	}
	_ = client.SetDeadline(time.Time{})
	p.accepted = append(p.accepted, client.ConnectionState().PeerCertificates[0].Subject.CommonName)
	return client, true
}
