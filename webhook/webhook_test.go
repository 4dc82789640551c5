package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/deadletter"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

// unreachableTemporal is a real client pointed at a port nobody listens on:
// any request that got as far as starting a workflow answers 503, so a 4xx
// proves the request was refused before Temporal was asked.
func unreachableTemporal(t *testing.T) client.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := client.NewLazyClient(client.Options{HostPort: addr})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func newServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if opts.DeadLetters == "" {
		opts.DeadLetters = deadletter.Dir(t.TempDir())
	}
	srv := httptest.NewServer(New(unreachableTemporal(t), log, opts).Router())
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, contentType string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "every answer is JSON, got %q", raw)
	return resp, m
}

func sampleBody(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/course-completion.json")
	require.NoError(t, err)
	return b
}

func TestRefusals(t *testing.T) {
	srv := newServer(t, Options{MaxBodyBytes: 4096})
	url := srv.URL + Path
	cases := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		status      int
		mention     string
	}{
		{"malformed JSON", http.MethodPost, "application/json", []byte(`{"id":`), http.StatusBadRequest, "body"},
		{"missing id", http.MethodPost, "application/json", []byte(`{"event":"courseCompletion"}`), http.StatusBadRequest, `"id"`},
		{"missing email", http.MethodPost, "application/json",
			bytes.Replace(sampleBody(t), []byte(`"user": "bob.johnson@example.com",`), nil, 1), http.StatusBadRequest, `"user"`},
		{"body over the limit", http.MethodPost, "application/json", []byte(`{"id":"` + strings.Repeat("x", 5000) + `"}`),
			http.StatusRequestEntityTooLarge, "too large"},
		{"not JSON", http.MethodPost, "text/plain", sampleBody(t), http.StatusUnsupportedMediaType, "application/json"},
		{"no content type", http.MethodPost, "", sampleBody(t), http.StatusUnsupportedMediaType, "application/json"},
		{"GET", http.MethodGet, "", nil, http.StatusMethodNotAllowed, "POST"},
		{"PUT", http.MethodPut, "application/json", sampleBody(t), http.StatusMethodNotAllowed, "POST"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, c.method, url, c.contentType, c.body)
			require.Equal(t, c.status, resp.StatusCode, "%v", body)
			raw, _ := json.Marshal(body)
			require.Contains(t, string(raw), c.mention)
		})
	}
}

func TestBodyLimitWithoutContentLength(t *testing.T) {
	srv := newServer(t, Options{MaxBodyBytes: 1024})
	// A chunked body has no Content-Length, so only the reader's cap stops it.
	req, err := http.NewRequest(http.MethodPost, srv.URL+Path, io.MultiReader(strings.NewReader(`{"id":"`), strings.NewReader(strings.Repeat("x", 1<<20))))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

func TestTemporalDownAnswers503WithRetryAfter(t *testing.T) {
	srv := newServer(t, Options{StartTimeout: time.Second, RetryAfter: 45 * time.Second})
	start := time.Now()
	resp, body := do(t, http.MethodPost, srv.URL+Path, "application/json; charset=utf-8", sampleBody(t))
	elapsed := time.Since(start)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "45", resp.Header.Get("Retry-After"))
	require.Equal(t, "32ed16df-27cb-5f72-90ff-4eaf39346f86", body["eventId"])
	// The platform gives up on an answer after 15 s; the bounded start must
	// answer well before that.
	require.Less(t, elapsed, 5*time.Second)
}

func TestHealthAndReadiness(t *testing.T) {
	srv := newServer(t, Options{StartTimeout: time.Second})
	resp, _ := do(t, http.MethodGet, srv.URL+"/healthz", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "alive even while Temporal is down")
	resp, body := do(t, http.MethodGet, srv.URL+"/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "unavailable", body["status"])
	resp, _ = do(t, http.MethodGet, srv.URL+"/nowhere", "", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"Application/JSON":                  true,
		"application/cloudevents+json":      true,
		"text/json":                         false,
		"text/plain":                        false,
		"":                                  false,
		"application/x-www-form-urlencoded": false,
	} {
		require.Equal(t, want, isJSON(ct), ct)
	}
}
