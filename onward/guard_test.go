package onward

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want string // "" when accepted, else a part of the error
	}{
		{"https://hooks.example.com/coursehook", ""},
		{"https://hooks.example.com:8443/a?token=abc", ""},
		{"HTTPS://Hooks.Example.com/", ""},
		{"http://localhost/hook", ""},
		{"http://localhost:8080/hook", ""},
		{"http://LOCALHOST:8080/", ""},
		{"http://127.0.0.1:9000/hook", ""},
		{"http://hooks.example.com/", "https"},
		{"http://127.0.0.2/", "https"},
		{"http://[::1]:8080/", "https"},
		{"http://localhost.evil.example/", "https"},
		{"file:///etc/passwd", `scheme "file"`},
		{"ftp://example.com/x", `scheme "ftp"`},
		{"gopher://example.com/", `scheme "gopher"`},
		{"javascript:alert(1)", `scheme "javascript"`},
		{"//example.com/hook", "no scheme"},
		{"hooks.example.com/hook", "no scheme"},
		{"https:///hook", "no host"},
		{"https:hooks.example.com", "no host"},
		{"https://:443/", "no host"},
		{"https://user:hunter2@hooks.example.com/", "user name or password"},
		{"https://user@hooks.example.com/", "user name or password"},
		{"https://hooks.example.com/%zz?token=hunter2", "not a valid URL"},
		{"", "no scheme"},
	}
	for _, tt := range tests {
		err := CheckURL(tt.url)
		if tt.want == "" {
			require.NoError(t, err, tt.url)
			continue
		}
		require.ErrorContains(t, err, tt.want, tt.url)
		require.NotContains(t, err.Error(), "hunter2", "the error repeats a credential")
	}
}

func TestAddrClass(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1":                          "loopback",
		"127.8.9.10":                         "loopback",
		"::1":                                "loopback",
		"::ffff:127.0.0.1":                   "loopback",
		"10.0.0.1":                           "private",
		"172.16.0.1":                         "private",
		"172.31.255.254":                     "private",
		"192.168.1.1":                        "private",
		"fd00::1":                            "private",
		"fc00::1":                            "private",
		"::ffff:10.0.0.1":                    "private",
		"::ffff:192.168.0.1":                 "private",
		"169.254.169.254":                    "link-local",
		"fe80::1":                            "link-local",
		"::ffff:169.254.169.254":             "link-local",
		"0.0.0.0":                            "unspecified",
		"0.1.2.3":                            "unspecified",
		"::":                                 "unspecified",
		"224.0.0.1":                          "multicast",
		"239.255.255.250":                    "multicast",
		"ff02::1":                            "multicast",
		"255.255.255.255":                    "broadcast",
		"100.64.0.1":                         "shared (carrier-grade NAT)",
		"::ffff:100.64.0.1":                  "shared (carrier-grade NAT)",
		"::ffff:0.0.0.1":                     "unspecified",
		"::ffff:255.255.255.255":             "broadcast",
		"64:ff9b::7f00:1":                    "loopback (via NAT64)",
		"64:ff9b::a9fe:a9fe":                 "link-local (via NAT64)",
		"8.8.8.8":                            "",
		"172.32.0.1":                         "",
		"100.128.0.1":                        "",
		"2001:4860:4860::8888":               "",
		"::ffff:8.8.8.8":                     "",
		"64:ff9b::808:808":                   "",
		"93.184.216.34":                      "",
		"2606:2800:220:1:248:1893:25c8:1946": "",
	} {
		require.Equal(t, want, addrClass(netip.MustParseAddr(addr)), addr)
	}
}

func TestRefuseNonPublicFailsClosed(t *testing.T) {
	t.Parallel()
	var refused *refusedAddrError
	require.ErrorAs(t, refuseNonPublic("tcp", "not-an-address", nil), &refused)
	require.ErrorAs(t, refuseNonPublic("tcp6", "[fe80::1%eth0]:443", nil), &refused)
	require.NoError(t, refuseNonPublic("tcp4", "8.8.8.8:443", nil))
}

// TestSendRefusesNonPublicAtDialTime points a guarded Sender at addresses
// that reach this machine or a private network. Each is refused by the dial
// guard itself (a *refusedAddrError in the chain, not a connection error),
// naming the address class, and the local receiver sees nothing.
func TestSendRefusesNonPublicAtDialTime(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
	})
	u, err := url.Parse(rcv.URL)
	require.NoError(t, err)
	port := u.Port()
	s := NewSender(Options{PerSecond: 1000})

	tests := []struct {
		url   string
		class string
	}{
		// CheckURL accepts this one: the name is only resolved at dial time.
		{rcv.viaLocalhost(t), "loopback"},
		{rcv.URL, "loopback"},
		{"https://localhost:" + port + "/", "loopback"},
		{"https://[::1]:" + port + "/", "loopback"},
		{"https://[::ffff:127.0.0.1]:" + port + "/", "loopback"},
		{"https://10.0.0.1/", "private"},
		{"https://192.168.0.1:" + port + "/", "private"},
		{"https://[::ffff:10.0.0.1]/", "private"},
		{"https://[fd12:3456::1]/", "private"},
		{"https://169.254.169.254/latest/meta-data/", "link-local"},
		{"https://0.0.0.0:" + port + "/", "unspecified"},
	}
	for _, tt := range tests {
		require.NoError(t, CheckURL(tt.url), "precondition: only the dial guard can refuse %s", tt.url)
		res, err := send(t, s, tt.url)
		e := deliveryError(t, err)
		var refused *refusedAddrError
		require.True(t, errors.As(err, &refused), "%s: %v was not the dial guard's refusal", tt.url, err)
		require.True(t, e.Permanent, tt.url)
		require.Zero(t, e.StatusCode, tt.url)
		require.Zero(t, res.StatusCode, tt.url)
		require.Contains(t, e.Message, tt.class+" address", tt.url)
	}
	require.Zero(t, hits.Load(), "a refused address was connected to")

	// The same receiver, by the same names, is reached once allowed.
	allowed := localSender(Options{})
	for _, target := range []string{rcv.URL, rcv.viaLocalhost(t)} {
		res, err := send(t, allowed, target)
		require.NoError(t, err, target)
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	require.EqualValues(t, 2, hits.Load())
}

func TestSendRefusesWhatCheckURLRefuses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	rcv := newReceiver(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	u, err := url.Parse(rcv.URL)
	require.NoError(t, err)
	// Allowed private addresses, so that only the parse-time check stands
	// between these URLs and the receiver.
	s := localSender(Options{})

	for _, target := range []string{
		"file:///etc/passwd",
		"ftp://127.0.0.1:" + u.Port() + "/",
		"http://[::1]:" + u.Port() + "/",
		"http://user:pw@127.0.0.1:" + u.Port() + "/",
		"gopher://127.0.0.1:" + u.Port() + "/",
	} {
		_, err := send(t, s, target)
		e := deliveryError(t, err)
		require.True(t, e.Permanent, target)
		require.Zero(t, e.StatusCode, target)
		require.Equal(t, CheckURL(target).Error(), e.Message, target)
	}
	require.Zero(t, hits.Load())
}

// TestSendDoesNotFollowRedirects: the first server answers 302 to the
// second, which must never be asked.
func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var targetHits atomic.Int32
	target := newReceiver(t, func(http.ResponseWriter, *http.Request) { targetHits.Add(1) })
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/landed", code)
		})
		res, err := send(t, localSender(Options{}), redirector.URL)
		e := deliveryError(t, err)
		require.True(t, e.Permanent, code)
		require.Equal(t, code, e.StatusCode)
		require.Equal(t, code, res.StatusCode)
		require.Contains(t, e.Message, "redirects are not followed")
		require.Len(t, redirector.deliveries(), 1)
	}
	require.Zero(t, targetHits.Load(), "the redirect was followed")
}

// TestSenderIgnoresProxyEnvironment: a proxy would dial for us, out of the
// guard's sight.
func TestSenderIgnoresProxyEnvironment(t *testing.T) {
	t.Parallel()
	for _, allow := range []bool{false, true} {
		tr, ok := NewSender(Options{AllowPrivate: allow}).client.Transport.(*http.Transport)
		require.True(t, ok)
		require.Nil(t, tr.Proxy)
	}
}
