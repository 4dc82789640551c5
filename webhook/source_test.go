package webhook

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	out := []netip.Prefix{}
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestSourceAllowlist(t *testing.T) {
	proxies := prefixes(t, "10.0.0.0/8", "fd00::/8")
	withPlatform := func(extra ...string) []netip.Prefix { return append(platform(), prefixes(t, extra...)...) }
	cases := []struct {
		name    string
		allowed []netip.Prefix
		proxies []netip.Prefix
		peer    string
		headers map[string]string
		status  int
	}{
		{name: "the platform, directly", allowed: platform(), peer: "54.243.7.71:40000", status: 202},
		{name: "the platform's second address", allowed: platform(), peer: "3.83.213.76:1234", status: 202},
		{name: "the platform as IPv4 in IPv6", allowed: platform(), peer: "[::ffff:54.243.7.71]:40000", status: 202},
		{name: "a stranger", allowed: platform(), peer: "203.0.113.9:51000", status: 403},
		{name: "a stranger claiming the platform's address", allowed: platform(), peer: "203.0.113.9:51000",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71"}, status: 403},
		{name: "a stranger claiming it through a header proxies were not configured for", allowed: platform(), proxies: proxies, peer: "203.0.113.9:51000",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71"}, status: 403},
		{name: "the platform through a trusted proxy", allowed: platform(), proxies: proxies, peer: "10.1.2.3:5000",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71"}, status: 202},
		{name: "the platform through two trusted proxies", allowed: platform(), proxies: proxies, peer: "10.1.2.3:5000",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71, 10.9.9.9"}, status: 202},
		{name: "the platform through an IPv6 trusted proxy", allowed: platform(), proxies: proxies, peer: "[fd00::7]:5000",
			headers: map[string]string{"X-Forwarded-For": "3.83.213.76"}, status: 202},
		{name: "a stranger who wrote the platform's address before the proxy added theirs", allowed: platform(), proxies: proxies, peer: "10.1.2.3:5000",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71, 198.51.100.4"}, status: 403},
		{name: "a trusted proxy's own request", allowed: platform(), proxies: proxies, peer: "10.1.2.3:5000", status: 403},
		{name: "a trusted proxy passing garbage", allowed: platform(), proxies: proxies, peer: "10.1.2.3:5000",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71, unknown"}, status: 403},
		{name: "X-Real-IP is not believed", allowed: platform(), proxies: proxies, peer: "10.1.2.3:5000",
			headers: map[string]string{"X-Real-IP": "54.243.7.71"}, status: 403},
		{name: "platform headers are not believed", allowed: platform(), peer: "203.0.113.9:51000",
			headers: map[string]string{"CF-Connecting-IP": "54.243.7.71", "X-Appengine-Remote-Addr": "54.243.7.71", "Fly-Client-IP": "54.243.7.71"}, status: 403},
		{name: "loopback is not special", allowed: platform(), peer: "127.0.0.1:40000", status: 403},
		{name: "IPv6 loopback is not special", allowed: platform(), peer: "[::1]:40000", status: 403},
		{name: "loopback passing the platform's address", allowed: platform(), peer: "127.0.0.1:40000",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71"}, status: 403},
		{name: "loopback when listed", allowed: withPlatform("127.0.0.1/32", "::1/128"), peer: "[::1]:40000", status: 202},
		{name: "a Unix socket peer", allowed: platform(), peer: "@", status: 403},
		{name: "a Unix socket peer passing the platform's address", allowed: platform(), peer: "",
			headers: map[string]string{"X-Forwarded-For": "54.243.7.71"}, status: 403},
		{name: "an IPv6 prefix", allowed: prefixes(t, "2001:db8::/32"), peer: "[2001:db8:1::5]:443", status: 202},
		{name: "outside an IPv6 prefix", allowed: prefixes(t, "2001:db8::/32"), peer: "[2001:db9::5]:443", status: 403},
		{name: "an IPv6 peer with a zone", allowed: prefixes(t, "fe80::/10"), peer: "[fe80::1%eth0]:443", status: 202},
		{name: "a CIDR prefix", allowed: prefixes(t, "192.0.2.0/24"), peer: "192.0.2.200:80", status: 202},
		{name: "outside a CIDR prefix", allowed: prefixes(t, "192.0.2.0/24"), peer: "192.0.3.1:80", status: 403},
		{name: "everyone, spelled out as nil", allowed: nil, peer: "203.0.113.9:51000", status: 202},
		{name: "everyone, even a Unix socket", allowed: nil, peer: "@", status: 202},
		{name: "an empty list allows no one", allowed: []netip.Prefix{}, peer: "54.243.7.71:40000", status: 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{AllowedSources: c.allowed, TrustedProxies: c.proxies})
			req := request(Path, sampleBody(t))
			req.RemoteAddr = c.peer
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			status, body := h.serve(t, req)
			require.Equal(t, c.status, status, "%v", body)
			if c.status == http.StatusForbidden {
				require.Contains(t, body["error"], "source not allowed")
				require.Zero(t, h.temporal.Starts())
				require.Contains(t, h.logs.String(), `"level":"WARN","msg":"source refused"`)
			}
		})
	}
}

func TestRefusedSourceIsLogged(t *testing.T) {
	h := newHarness(t, Options{AllowedSources: platform()})
	req := request(Path, sampleBody(t))
	req.RemoteAddr = "203.0.113.9:51000"
	req.Header.Set("X-Forwarded-For", "54.243.7.71")
	status, body := h.serve(t, req)
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "203.0.113.9", body["source"])
	require.Contains(t, h.logs.String(), `"source":"203.0.113.9"`)
}

// TestSourceCheckComesFirst: a stranger learns nothing about routes or
// methods, while load balancers still reach the probes.
func TestSourceCheckComesFirst(t *testing.T) {
	h := newHarness(t, Options{AllowedSources: platform(), Secret: hostileSecret})
	for _, c := range []struct {
		method, target string
		status         int
	}{
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodGet, "/readyz", http.StatusOK},
		{http.MethodPost, "/healthz", http.StatusForbidden},
		{http.MethodGet, Path, http.StatusForbidden},
		{http.MethodPost, "/nowhere", http.StatusForbidden},
		{http.MethodPost, Path + "/", http.StatusForbidden},
		{http.MethodPost, tokenPath, http.StatusForbidden},
	} {
		req := httptest.NewRequest(c.method, c.target, nil)
		req.RemoteAddr = "203.0.113.9:51000"
		status, body := h.serve(t, req)
		require.Equal(t, c.status, status, "%s %s: %v", c.method, c.target, body)
	}
	require.Zero(t, h.temporal.Starts())
}

func TestClientAddr(t *testing.T) {
	trusted := prefixes(t, "10.0.0.0/8")
	for _, c := range []struct {
		peer, xff string
		want      string
		err       bool
	}{
		{peer: "192.0.2.1:80", want: "192.0.2.1"},
		{peer: "192.0.2.1", want: "192.0.2.1"},
		{peer: "[2001:db8::1]:80", want: "2001:db8::1"},
		{peer: "[::ffff:192.0.2.1]:80", want: "192.0.2.1"},
		{peer: "192.0.2.1:80", xff: "54.243.7.71", want: "192.0.2.1"},
		{peer: "10.0.0.1:80", want: "10.0.0.1"},
		{peer: "10.0.0.1:80", xff: "54.243.7.71", want: "54.243.7.71"},
		{peer: "10.0.0.1:80", xff: "54.243.7.71:443", want: "54.243.7.71"},
		{peer: "10.0.0.1:80", xff: "[2001:db8::9]:443", want: "2001:db8::9"},
		{peer: "10.0.0.1:80", xff: "1.1.1.1, 54.243.7.71, 10.0.0.2", want: "54.243.7.71"},
		{peer: "10.0.0.1:80", xff: "10.0.0.3, 10.0.0.2", want: "10.0.0.3"},
		{peer: "10.0.0.1:80", xff: "54.243.7.71,", err: true},
		{peer: "10.0.0.1:80", xff: "bogus", err: true},
		{peer: "@", err: true},
		{peer: "", err: true},
	} {
		req := httptest.NewRequest(http.MethodPost, Path, nil)
		req.RemoteAddr = c.peer
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		got, err := clientAddr(req, trusted)
		if c.err {
			require.Error(t, err, "%s %s", c.peer, c.xff)
			continue
		}
		require.NoError(t, err, "%s %s", c.peer, c.xff)
		require.Equal(t, c.want, got.String(), "%s %s", c.peer, c.xff)
	}

	// Several X-Forwarded-For lines read as one list, in order.
	req := httptest.NewRequest(http.MethodPost, Path, nil)
	req.RemoteAddr = "10.0.0.1:80"
	req.Header.Add("X-Forwarded-For", "54.243.7.71")
	req.Header.Add("X-Forwarded-For", "198.51.100.4, 10.0.0.2")
	got, err := clientAddr(req, trusted)
	require.NoError(t, err)
	require.Equal(t, "198.51.100.4", got.String())
}
