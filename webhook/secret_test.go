package webhook

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

const previousSecret = "previous-secret-0123456789"

func TestWebhookSecret(t *testing.T) {
	wrong := "wrong-secret-0123456789abc"
	cases := []struct {
		name, target string
		status       int
		mention      string
	}{
		{"no token", Path, 401, "missing webhook token"},
		{"empty query token", Path + "?token=", 401, "wrong webhook token"},
		{"wrong token in the path", Path + "/" + wrong, 401, "wrong webhook token"},
		{"wrong token in the query", Path + "?token=" + wrong, 401, "wrong webhook token"},
		{"a prefix of the secret", Path + "/" + hostileSecret[:10], 401, "wrong webhook token"},
		{"the secret and more", Path + "/" + hostileSecret + "x", 401, "wrong webhook token"},
		{"the secret in another case", Path + "/" + "CURRENT-SECRET-0123456789", 401, "wrong webhook token"},
		{"right path token, wrong query token", tokenPath + "?token=" + wrong, 401, "wrong webhook token"},
		{"right and wrong query tokens", Path + "?token=" + hostileSecret + "&token=" + wrong, 401, "wrong webhook token"},
		{"token one segment too deep", tokenPath + "/more", 404, "not found"},
		{"current token in the path", tokenPath, 202, ""},
		{"previous token in the path", Path + "/" + previousSecret, 202, ""},
		{"current token in the query", Path + "?token=" + hostileSecret, 202, ""},
		{"previous token in the query", Path + "?" + url.Values{"token": {previousSecret}}.Encode(), 202, ""},
		{"the same token in path and query", tokenPath + "?token=" + hostileSecret, 202, ""},
	}
	h := newHarness(t, Options{AllowedSources: platform(), Secret: hostileSecret, PreviousSecret: previousSecret})
	starts := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each accepted case is a fresh start, as far as the stand-in
			// knows; only the count matters.
			status, body := h.serve(t, request(c.target, sampleBody(t)))
			require.Equal(t, c.status, status, "%v", body)
			if status == http.StatusAccepted {
				starts++
			} else {
				require.Contains(t, body["error"], c.mention)
			}
			require.Equal(t, starts, h.temporal.Starts())
		})
	}
	logs := h.logs.String()
	require.Contains(t, logs, `"msg":"webhook token refused"`)
	for _, token := range []string{hostileSecret, previousSecret, wrong, hostileSecret[:10], "CURRENT-SECRET"} {
		require.NotContains(t, logs, token, "a token never reaches the logs")
	}
}

// TestSecretComesAfterMethodAndBeforeContent: the order of checks is the
// source, the route and method, the token, then the body.
func TestSecretComesAfterMethodAndBeforeContent(t *testing.T) {
	h := newHarness(t, Options{Secret: hostileSecret})

	get := request(Path+"/wrong-secret-0123456789", nil)
	get.Method = http.MethodGet
	status, _ := h.serve(t, get)
	require.Equal(t, http.StatusMethodNotAllowed, status)

	text := request(Path+"/wrong-secret-0123456789", []byte("hello"))
	text.Header.Set("Content-Type", "text/plain")
	status, _ = h.serve(t, text)
	require.Equal(t, http.StatusUnauthorized, status, "the token is checked before the content type")

	status, _ = h.serve(t, request(Path+"/wrong-secret-0123456789", []byte(`{"id":`)))
	require.Equal(t, http.StatusUnauthorized, status, "the token is checked before the body")
}

func TestWithoutSecretOnlyTheBarePathTakesEvents(t *testing.T) {
	h := newHarness(t, Options{})
	status, body := h.serve(t, request(Path+"/some-token-0123456789", sampleBody(t)))
	require.Equal(t, http.StatusNotFound, status, "%v", body)
	require.Zero(t, h.temporal.Starts())
	status, _ = h.serve(t, request(Path, sampleBody(t)))
	require.Equal(t, http.StatusAccepted, status)
}

func TestSecretsCompareDigests(t *testing.T) {
	s := newSecrets(hostileSecret, "")
	require.True(t, s.enabled())
	require.True(t, s.accepts(hostileSecret))
	require.False(t, s.accepts(""))
	require.False(t, s.accepts(hostileSecret+hostileSecret))
	require.Len(t, s.digests, 1, "an empty previous secret accepts nothing")
	require.False(t, newSecrets("", "").enabled())
	require.NotEqual(t, s.key, newSecrets(hostileSecret).key, "each server has its own key")
}
