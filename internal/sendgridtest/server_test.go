package sendgridtest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const validBody = `{
  "from": {"email": "certificates@example.com", "name": "Coursehook"},
  "subject": "Your certificate",
  "personalizations": [{"to": [{"email": "bob.johnson@example.com", "name": "Bob Johnson"}], "custom_args": {"event_id": "evt-1"}}],
  "content": [{"type": "text/plain", "value": "hi"}, {"type": "text/html", "value": "<p>hi</p>"}],
  "attachments": [{"content": "JVBERi0=", "type": "application/pdf", "filename": "c.pdf", "disposition": "attachment"}],
  "custom_args": {"source": "test"}
}`

type response struct {
	status int
	header http.Header
	errors []apiError
	raw    string
}

func post(t *testing.T, url, auth, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+SendPath, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		var body struct {
			Errors []apiError `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(raw, &body), "error bodies are SendGrid's errors[] JSON: %s", raw)
		r.errors = body.Errors
	}
	return r
}

func fields(errs []apiError) []string {
	var out []string
	for _, e := range errs {
		if e.Field != nil {
			out = append(out, *e.Field)
		}
	}
	return out
}

func TestAccepts(t *testing.T) {
	t.Parallel()
	s := NewServer(t)

	first := post(t, s.URL(), "Bearer SG.key", "application/json", validBody)
	second := post(t, s.URL(), "Bearer SG.key", "application/json; charset=utf-8", validBody)

	for _, r := range []response{first, second} {
		require.Equal(t, http.StatusAccepted, r.status)
		require.Empty(t, r.raw)
		require.NotEmpty(t, r.header.Get("X-Message-Id"))
	}
	require.NotEqual(t, first.header.Get("X-Message-Id"), second.header.Get("X-Message-Id"))

	msgs := s.WaitForMessages(t, 2, time.Second)
	require.Len(t, msgs, 2)
	require.Equal(t, first.header.Get("X-Message-Id"), msgs[0].MessageID)
	require.Equal(t, "Bearer SG.key", msgs[0].Auth)
	require.JSONEq(t, validBody, string(msgs[0].Body))
	require.Equal(t, 2, s.Attempts())

	m, err := msgs[0].Mail()
	require.NoError(t, err)
	require.Equal(t, "certificates@example.com", m.From.Email)
	require.Equal(t, "Coursehook", m.From.Name)
	require.Equal(t, "Your certificate", m.Subject)
	require.Equal(t, []string{"bob.johnson@example.com"}, m.To)
	require.Equal(t, []string{"Bob Johnson"}, m.ToNames)
	require.Equal(t, "hi", m.Text)
	require.Equal(t, "<p>hi</p>", m.HTML)
	require.Equal(t, map[string]string{"event_id": "evt-1", "source": "test"}, m.CustomArgs)
	require.Equal(t, []Attachment{{Filename: "c.pdf", Type: "application/pdf", Disposition: "attachment", Content: []byte("%PDF-")}}, m.Attachments)
}

func TestRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, auth, contentType, body string
		status                        int
		fields                        []string
	}{
		{"no auth", "", "application/json", validBody, http.StatusUnauthorized, nil},
		{"basic auth", "Basic dXNlcjpwYXNz", "application/json", validBody, http.StatusUnauthorized, nil},
		{"empty bearer", "Bearer ", "application/json", validBody, http.StatusUnauthorized, nil},
		{"form body", "Bearer k", "application/x-www-form-urlencoded", validBody, http.StatusUnsupportedMediaType, nil},
		{"not json", "Bearer k", "application/json", "{", http.StatusBadRequest, nil},
		{"empty object", "Bearer k", "application/json", `{}`, http.StatusBadRequest, []string{"from.email", "personalizations", "subject", "content"}},
		{
			"no recipient", "Bearer k", "application/json",
			`{"from":{"email":"a@example.com"},"subject":"s","personalizations":[{"to":[]}],"content":[{"type":"text/plain","value":"x"}]}`,
			http.StatusBadRequest, []string{"personalizations.0.to"},
		},
		{
			"bad attachment", "Bearer k", "application/json",
			`{"from":{"email":"a@example.com"},"subject":"s","personalizations":[{"to":[{"email":"b@example.com"}]}],"content":[{"type":"text/plain","value":"x"}],"attachments":[{"content":"not base64!","filename":"c.pdf"}]}`,
			http.StatusBadRequest, []string{"attachments.0.content"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t)
			r := post(t, s.URL(), c.auth, c.contentType, c.body)
			require.Equal(t, c.status, r.status)
			require.NotEmpty(t, r.errors)
			require.NotEmpty(t, r.errors[0].Message)
			require.Equal(t, c.fields, fields(r.errors))
			require.Empty(t, s.Messages())
			require.Equal(t, 1, s.Attempts())
		})
	}
}

func TestFailNextThenAccept(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	reset := time.Now().Add(3 * time.Second)
	s.FailNext(1, Failure{Status: http.StatusTooManyRequests, RateLimitReset: reset})
	s.FailNext(1, Failure{})
	s.FailNext(1, Failure{Status: http.StatusBadRequest, Errors: []string{"first", "second"}})

	limited := post(t, s.URL(), "Bearer k", "application/json", validBody)
	require.Equal(t, http.StatusTooManyRequests, limited.status)
	require.Equal(t, strconv.FormatInt(reset.Unix(), 10), limited.header.Get("X-RateLimit-Reset"))

	unavailable := post(t, s.URL(), "Bearer k", "application/json", validBody)
	require.Equal(t, http.StatusServiceUnavailable, unavailable.status)

	bad := post(t, s.URL(), "Bearer k", "application/json", validBody)
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Len(t, bad.errors, 2)
	require.Equal(t, "first", bad.errors[0].Message)
	require.Equal(t, "second", bad.errors[1].Message)

	ok := post(t, s.URL(), "Bearer k", "application/json", validBody)
	require.Equal(t, http.StatusAccepted, ok.status)
	require.Equal(t, 4, s.Attempts())
	require.Len(t, s.AttemptTimes(), 4)
	require.Len(t, s.Messages(), 1)
}

func TestFailAlways(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	s.FailAlways(Failure{Status: http.StatusBadGateway})
	for range 3 {
		require.Equal(t, http.StatusBadGateway, post(t, s.URL(), "Bearer k", "application/json", validBody).status)
	}
	require.Equal(t, 3, s.Attempts())
	require.Empty(t, s.Messages())
}

func TestUnknownPathAndMethod(t *testing.T) {
	t.Parallel()
	s := NewServer(t)

	resp, err := testHTTP.Get(s.URL() + SendPath)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	resp, err = testHTTP.Post(s.URL()+"/v3/mail/sendx", "application/json", strings.NewReader(validBody))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Zero(t, s.Attempts())
}

func TestMailRejectsBadBase64(t *testing.T) {
	t.Parallel()
	sent := Sent{Body: json.RawMessage(`{"attachments":[{"content":"%%%","filename":"c.pdf"}]}`)}
	_, err := sent.Mail()
	require.Error(t, err)

	sent = Sent{Body: json.RawMessage(`{"attachments":[{"content":"` + base64.StdEncoding.EncodeToString([]byte("pdf")) + `"}]}`)}
	m, err := sent.Mail()
	require.NoError(t, err)
	require.Equal(t, []byte("pdf"), m.Attachments[0].Content)
}
