package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/sgevents"
)

const batch = `[{"email":"ada@example.com","timestamp":1773500020,"event":"delivered","sg_event_id":"ZGVsaXZlcmVkLTEtMQ","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.recvd-1.0","response":"250 OK","event_id":"evt_1"}]` + "\r\n"

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// newKey runs genkey in a fresh directory and returns the key file and the
// public key it printed.
func newKey(t *testing.T) (file, pub string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "sendgrid.pem")
	r := runCmd(t, "", "genkey", file)
	require.Equal(t, 0, r.code, r.stderr)
	return file, strings.TrimSpace(r.stdout)
}

// verifyingServer answers 200 to a post that verifies under pub and carries
// body exactly, 401 to a bad signature and 400 otherwise.
func verifyingServer(t *testing.T, pub, body string) *httptest.Server {
	t.Helper()
	v, err := sgevents.NewVerifier(pub)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := io.ReadAll(r.Body)
		switch {
		case err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json":
			http.Error(w, "bad request", http.StatusBadRequest)
		case v.Verify(r.Header.Get(sgevents.SignatureHeader), r.Header.Get(sgevents.TimestampHeader), got) != nil:
			http.Error(w, "bad signature", http.StatusUnauthorized)
		case string(got) != body:
			http.Error(w, "body changed", http.StatusBadRequest)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"received":1}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGenkey(t *testing.T) {
	file, pub := newKey(t)
	_, err := sgevents.NewVerifier(pub)
	require.NoError(t, err)

	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	pemBytes, err := os.ReadFile(file)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----")))

	// A second genkey keeps the key and prints the same public key.
	r := runCmd(t, "", "genkey", file)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, pub, strings.TrimSpace(r.stdout))
	require.Contains(t, r.stderr, "exists")
	again, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, pemBytes, again)

	r = runCmd(t, "", "pubkey", file)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, pub+"\n", r.stdout)
}

func TestPost(t *testing.T) {
	file, pub := newKey(t)
	srv := verifyingServer(t, pub, batch)
	batchFile := filepath.Join(t.TempDir(), "batch.json")
	require.NoError(t, os.WriteFile(batchFile, []byte(batch), 0o600))

	r := runCmd(t, "", "post", "-key", file, "-url", srv.URL, batchFile)
	require.Equal(t, 0, r.code, r.stderr+r.stdout)
	require.Equal(t, "HTTP/1.1 200 OK\n{\"received\":1}\n", r.stdout)

	// From stdin, flags after the file.
	r = runCmd(t, batch, "post", "-", "-url", srv.URL, "-key", file)
	require.Equal(t, 0, r.code, r.stderr+r.stdout)
	require.Contains(t, r.stdout, "200 OK")
}

func TestPostRefused(t *testing.T) {
	file, _ := newKey(t)
	_, otherPub := newKey(t)
	srv := verifyingServer(t, otherPub, batch)

	r := runCmd(t, batch, "post", "-key", file, "-url", srv.URL, "-")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, "HTTP/1.1 401 Unauthorized\nbad signature")
	require.Contains(t, r.stderr, "401")
}

func TestHeaders(t *testing.T) {
	file, pub := newKey(t)
	v, err := sgevents.NewVerifier(pub)
	require.NoError(t, err)

	r := runCmd(t, batch, "headers", "-key", file, "-")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	h := http.Header{}
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ": ")
		require.True(t, ok, line)
		h.Set(name, value)
	}
	require.NoError(t, v.Verify(h.Get(sgevents.SignatureHeader), h.Get(sgevents.TimestampHeader), []byte(batch)))
	require.Error(t, v.Verify(h.Get(sgevents.SignatureHeader), h.Get(sgevents.TimestampHeader), []byte(strings.TrimSpace(batch))))
}

func TestBadArguments(t *testing.T) {
	file, _ := newKey(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notKey := filepath.Join(t.TempDir(), "not-a-key.pem")
	require.NoError(t, os.WriteFile(notKey, []byte("hello"), 0o600))

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage: sendgrid-sign"},
		{"unknown command", []string{"sign"}, 2, `unknown command "sign"`},
		{"genkey without file", []string{"genkey"}, 2, "genkey takes 1 argument(s), got 0"},
		{"genkey with two files", []string{"genkey", "a", "b"}, 2, "got 2"},
		{"pubkey unknown flag", []string{"pubkey", "-x", file}, 2, "flag provided but not defined"},
		{"post without url", []string{"post", "-key", file, "-"}, 2, "post needs -url"},
		{"post without key", []string{"post", "-url", "http://127.0.0.1:1", "-"}, 2, "-key is required"},
		{"headers without batch", []string{"headers", "-key", file}, 2, "headers takes 1 argument(s)"},
		{"pubkey of a missing file", []string{"pubkey", missing}, 1, "read key"},
		{"pubkey of a non-key", []string{"pubkey", notKey}, 1, "no PEM block"},
		{"headers with a missing batch", []string{"headers", "-key", file, missing}, 1, "read batch"},
		{"genkey into a missing directory", []string{"genkey", filepath.Join(missing, "k.pem")}, 1, "create key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			require.Equal(t, tt.code, r.code, r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.Empty(t, r.stdout)
		})
	}

	r := runCmd(t, "", "help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "genkey FILE")
}
