package tlsproxy

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/faultproxy"
)

type fixture struct {
	proxy    *Proxy
	serverCA *CA
	clientCA *CA
}

func start(t *testing.T) fixture {
	serverCA, clientCA := NewCA(t, "server CA"), NewCA(t, "client CA")
	p := Start(t, faultproxy.EchoServer(t), Options{
		Certificate: serverCA.Server(t, "localhost", "127.0.0.1").TLS(t),
		ClientCAs:   clientCA.Pool(),
	})
	return fixture{proxy: p, serverCA: serverCA, clientCA: clientCA}
}

func (f fixture) dial(t *testing.T, certs ...tls.Certificate) (net.Conn, error) {
	t.Helper()
	c, err := tls.Dial("tcp", f.proxy.Addr(), &tls.Config{
		RootCAs:      f.serverCA.Pool(),
		ServerName:   "localhost",
		Certificates: certs,
	})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestAClientSignedByTheCAGetsThrough(t *testing.T) {
	f := start(t)
	c, err := f.dial(t, f.clientCA.Client(t, "worker").TLS(t))
	require.NoError(t, err)
	got, err := faultproxy.RoundTrip(c, "hello")
	require.NoError(t, err)
	require.Equal(t, "hello\n", got)
	require.Equal(t, []string{"worker"}, f.proxy.Accepted())
	require.Empty(t, f.proxy.Refused())
}

func TestEveryOtherClientIsRefused(t *testing.T) {
	cases := map[string]func(f fixture) []tls.Certificate{
		"no certificate": func(fixture) []tls.Certificate { return nil },
		"signed by another CA": func(fixture) []tls.Certificate {
			return []tls.Certificate{NewCA(t, "another CA").Client(t, "intruder").TLS(t)}
		},
		"a server certificate of the right CA": func(f fixture) []tls.Certificate {
			return []tls.Certificate{f.clientCA.Server(t, "localhost").TLS(t)}
		},
	}
	for name, certs := range cases {
		t.Run(name, func(t *testing.T) {
			f := start(t)
			c, err := f.dial(t, certs(f)...)
			if err == nil {
				_, err = faultproxy.RoundTrip(c, "hello")
			}
			require.Error(t, err)
			require.ErrorContains(t, err, "tls:")
			require.Empty(t, f.proxy.Accepted())
			require.Eventually(t, func() bool { return len(f.proxy.Refused()) == 1 }, 5*time.Second, 10*time.Millisecond)
		})
	}
}

func TestPlainTCPIsRefused(t *testing.T) {
	f := start(t)
	c, err := net.Dial("tcp", f.proxy.Addr())
	require.NoError(t, err)
	defer c.Close()
	_, err = faultproxy.RoundTrip(c, "hello")
	require.Error(t, err, "nothing reaches the server in clear")
	require.Empty(t, f.proxy.Accepted())
}

func TestTheClientChecksTheProxy(t *testing.T) {
	f := start(t)
	_, err := tls.Dial("tcp", f.proxy.Addr(), &tls.Config{
		RootCAs:      NewCA(t, "unrelated").Pool(),
		ServerName:   "localhost",
		Certificates: []tls.Certificate{f.clientCA.Client(t, "worker").TLS(t)},
	})
	require.ErrorContains(t, err, "certificate signed by unknown authority")
}

func TestFilesLoadAsAKeyPair(t *testing.T) {
	ca := NewCA(t, "client CA")
	dir := t.TempDir()
	certPath, keyPath := ca.Client(t, "worker").WriteFiles(t, dir, "worker")
	_, err := tls.LoadX509KeyPair(certPath, keyPath)
	require.NoError(t, err)
	require.FileExists(t, ca.WriteFile(t, dir, "ca.crt"))
}
