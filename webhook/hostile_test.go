package webhook

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
)

const (
	hostileSecret = "current-secret-0123456789"
	tokenPath     = Path + "/" + hostileSecret
)

// withSample returns the documented sample with one change applied to its
// decoded form.
func withSample(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(sampleBody(t), &m))
	change(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func userDetail(m map[string]any) map[string]any { return m["userDetail"].(map[string]any) }

// replace returns the raw sample with one piece of its text replaced, for
// changes a decoded map cannot express.
func replace(t *testing.T, old, new string) []byte {
	t.Helper()
	b := sampleBody(t)
	require.Contains(t, string(b), old)
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// withComments is the sample as the platform's documentation prints it,
// with a // comment above each line, which is not JSON.
func withComments(t *testing.T) []byte {
	t.Helper()
	var out []string
	for _, line := range strings.Split(string(sampleBody(t)), "\n") {
		if strings.Contains(line, `"id"`) && !strings.Contains(line, "userDetail") {
			out = append(out, "  // the event id")
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

// TestHostileInputIsRefusedAndStartsNothing sends every kind of bad request
// the webhook can meet. Each gets its 4xx, a JSON body naming the problem,
// and no workflow.
func TestHostileInputIsRefusedAndStartsNothing(t *testing.T) {
	tenMB := append([]byte(`{"id":"`), bytes.Repeat([]byte("x"), 10<<20)...)
	tenMB = append(tenMB, `"}`...)
	long := strings.Repeat("x", 10000)

	cases := []struct {
		name string
		// body is posted to the token path from the platform as JSON, unless
		// req builds the request itself.
		body    []byte
		req     func(t *testing.T) *http.Request
		status  int
		mention string
	}{
		{name: "malformed JSON", body: []byte(`{"id":`), status: 400, mention: "ends too early"},
		{name: "the documentation's sample with // comments", body: withComments(t), status: 400, mention: "not valid JSON"},
		{name: "array body", body: []byte(`[` + string(sampleBody(t)) + `]`), status: 400, mention: "must be a JSON object"},
		{name: "string body", body: []byte(`"courseCompletion"`), status: 400, mention: "must be a JSON object"},
		{name: "null body", body: []byte(`null`), status: 400, mention: "must be a JSON object"},
		{name: "empty body", body: nil, status: 400, mention: "is empty"},
		{name: "byte order mark", body: append([]byte("\xef\xbb\xbf"), sampleBody(t)...), status: 400, mention: "must be a JSON object"},
		{name: "two objects", body: append(sampleBody(t), sampleBody(t)...), status: 400, mention: "data after the JSON object"},
		{name: "10 MB body", body: tenMB, status: 413, mention: "too large"},
		{name: "10 MB body without Content-Length", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, nil)
			r.Body = io.NopCloser(bytes.NewReader(tenMB))
			r.ContentLength = -1
			return r
		}, status: 413, mention: "too large"},
		{name: "number id", body: withSample(t, func(m map[string]any) { m["id"] = 42 }), status: 400, mention: `"field":"id","message":"must be a string, not a JSON number"`},
		{name: "huge number id", body: replace(t, `"32ed16df-27cb-5f72-90ff-4eaf39346f86"`, `1e999`), status: 400, mention: `"field":"id"`},
		{name: "null id", body: replace(t, `"32ed16df-27cb-5f72-90ff-4eaf39346f86"`, `null`), status: 400, mention: `"field":"id","message":"is required"`},
		{name: "object title", body: withSample(t, func(m map[string]any) { m["title"] = map[string]any{"en": "Orientation"} }), status: 400, mention: `"field":"title"`},
		{name: "array user", body: withSample(t, func(m map[string]any) { m["user"] = []string{"bob.johnson@example.com"} }), status: 400, mention: `"field":"user"`},
		{name: "string userDetail", body: withSample(t, func(m map[string]any) { m["userDetail"] = "Bob Johnson" }), status: 400, mention: `"field":"userDetail"`},
		{name: "invalid UTF-8", body: replace(t, "Bob", "B\xffb"), status: 400, mention: "not valid UTF-8"},
		{name: "control character in a first name", body: withSample(t, func(m map[string]any) { userDetail(m)["firstName"] = "Bob\x1b[31m" }), status: 400, mention: `"field":"userDetail.firstName","message":"must not contain control characters"`},
		{name: "NUL in a last name", body: withSample(t, func(m map[string]any) { userDetail(m)["lastName"] = "John\x00son" }), status: 400, mention: `"field":"userDetail.lastName"`},
		{name: "line break in a last name", body: withSample(t, func(m map[string]any) { userDetail(m)["lastName"] = "Johnson\r\nBcc: x@example.org" }), status: 400, mention: `"field":"userDetail.lastName"`},
		{name: "control character in the id", body: withSample(t, func(m map[string]any) { m["id"] = "abc\x7f" }), status: 400, mention: `"field":"id","message":"must not contain control characters"`},
		{name: "10,000-character title", body: withSample(t, func(m map[string]any) { m["title"] = long }), status: 400, mention: "is 10000 characters long; the limit is 500"},
		{name: "10,000-character first name", body: withSample(t, func(m map[string]any) { userDetail(m)["firstName"] = long }), status: 400, mention: "is 10000 characters long; the limit is 200"},
		{name: "10,000-character email", body: withSample(t, func(m map[string]any) { m["user"] = long + "@example.com" }), status: 400, mention: `"field":"user","message":"is 10012 characters long`},
		{name: "10,000-character course id", body: withSample(t, func(m map[string]any) { m["notifiableId"] = long }), status: 400, mention: `"field":"notifiableId"`},
		{name: "oversized id", body: withSample(t, func(m map[string]any) { m["id"] = strings.Repeat("a", 129) }), status: 400, mention: "is 129 characters long; the limit is 128"},
		{name: "blank title", body: withSample(t, func(m map[string]any) { m["title"] = " \r\n " }), status: 400, mention: `"field":"title","message":"is required"`},
		{name: "email with a display name", body: withSample(t, func(m map[string]any) { m["user"] = "Bob <bob.johnson@example.com>" }), status: 400, mention: `"field":"user"`},
		{name: "email with a header injection", body: withSample(t, func(m map[string]any) { m["user"] = "bob.johnson@example.com\r\nBcc: all@example.com" }), status: 400, mention: `"field":"user"`},
		{name: "bad timestamp", body: withSample(t, func(m map[string]any) { m["timestamp"] = "17/10/2019 20:50" }), status: 400, mention: `"field":"timestamp"`},
		{name: "missing id, email, course and title", body: []byte(`{"event":"courseCompletion"}`), status: 400, mention: `"field":"title"`},
		{name: "deep nesting", body: replace(t, `"ref3": "..."`, `"ref3": `+strings.Repeat("[", 100)+strings.Repeat("]", 100)), status: 400, mention: "more than 32 levels deep"},
		{name: "deep nesting filling the body", body: bytes.Repeat([]byte("{\"a\":"), 13000), status: 400, mention: "more than 32 levels deep"},
		{name: "conflicting duplicate ids", body: replace(t, `"source"`, `"id": "another-event", "source"`), status: 400, mention: `"field":"id","message":"appears more than once`},
		{name: "conflicting duplicate email", body: replace(t, `"source"`, `"user": "mallory@example.net", "source"`), status: 400, mention: `"field":"user"`},
		{name: "duplicate key in another case", body: replace(t, `"source"`, `"Title": "Something Else", "source"`), status: 400, mention: `"field":"title","message":"appears more than once`},
		{name: "conflicting duplicate nested name", body: replace(t, `"firstName": "Bob",`, `"firstName": "Bob", "firstName": "Mallory",`), status: 400, mention: `"field":"userDetail.firstName"`},
		{name: "missing Content-Type", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, sampleBody(t))
			r.Header.Del("Content-Type")
			return r
		}, status: 415, mention: "application/json"},
		{name: "text/plain", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, sampleBody(t))
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, status: 415, mention: "unsupported content type"},
		{name: "form encoded", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, []byte("id=x&user=bob"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, status: 415, mention: "unsupported content type"},
		{name: "Content-Encoding gzip", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, gzipped(t, sampleBody(t)))
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}, status: 415, mention: `unsupported content encoding \"gzip\"; compressed bodies are not accepted`},
		{name: "Content-Encoding identity then br", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, sampleBody(t))
			r.Header.Set("Content-Encoding", "identity, br")
			return r
		}, status: 415, mention: "br"},
		{name: "GET", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, nil)
			r.Method = http.MethodGet
			return r
		}, status: 405, mention: "use POST"},
		{name: "PUT", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, sampleBody(t))
			r.Method = http.MethodPut
			return r
		}, status: 405, mention: "method PUT not allowed"},
		{name: "DELETE", req: func(t *testing.T) *http.Request {
			r := request(Path, nil)
			r.Method = http.MethodDelete
			return r
		}, status: 405, mention: "use POST"},
		{name: "another path", req: func(t *testing.T) *http.Request { return request("/webhooks/other", sampleBody(t)) }, status: 404, mention: "not found"},
		{name: "trailing slash", req: func(t *testing.T) *http.Request { return request(Path+"/", sampleBody(t)) }, status: 404, mention: "not found"},
		{name: "missing token", req: func(t *testing.T) *http.Request { return request(Path, sampleBody(t)) }, status: 401, mention: "missing webhook token"},
		{name: "wrong token", req: func(t *testing.T) *http.Request { return request(Path+"/guess-0123456789abcdef", sampleBody(t)) }, status: 401, mention: "wrong webhook token"},
		{name: "wrong token in the query", req: func(t *testing.T) *http.Request {
			return request(Path+"?token=guess-0123456789abcdef", sampleBody(t))
		}, status: 401, mention: "wrong webhook token"},
		{name: "unknown source", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, sampleBody(t))
			r.RemoteAddr = "203.0.113.9:51000"
			return r
		}, status: 403, mention: "source not allowed"},
		{name: "spoofed X-Forwarded-For", req: func(t *testing.T) *http.Request {
			r := request(tokenPath, sampleBody(t))
			r.RemoteAddr = "203.0.113.9:51000"
			r.Header.Set("X-Forwarded-For", "54.243.7.71")
			return r
		}, status: 403, mention: `"source":"203.0.113.9"`},
	}
	require.GreaterOrEqual(t, len(cases), 30)

	h := newHarness(t, Options{AllowedSources: platform(), Secret: hostileSecret})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var req *http.Request
			if c.req != nil {
				req = c.req(t)
			} else {
				req = request(tokenPath, c.body)
			}
			status, body := h.serve(t, req)
			require.Equal(t, c.status, status, "%v", body)
			require.NotEmpty(t, body["error"], "a refusal says what is wrong")
			raw, err := json.Marshal(body)
			require.NoError(t, err)
			require.Contains(t, string(raw), c.mention)
			require.Zero(t, h.temporal.Starts(), "a refused request started a workflow")
		})
	}
	require.Zero(t, h.temporal.Starts())
	require.NotContains(t, h.logs.String(), hostileSecret)
	require.NotContains(t, h.logs.String(), "guess-0123456789abcdef")
}

// TestOddButLegitimateInputIsAccepted: input that looks strange but is a
// real completion starts exactly one workflow. Making it harmless is the
// sinks' job (see the integration tests), not a reason to refuse it.
func TestOddButLegitimateInputIsAccepted(t *testing.T) {
	cases := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status string
	}{
		{"the documented sample", func(t *testing.T) *http.Request { return request(Path, sampleBody(t)) }, "accepted"},
		{"null userDetail", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { m["userDetail"] = nil }))
		}, "accepted"},
		{"no userDetail", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { delete(m, "userDetail") }))
		}, "accepted"},
		{"Slack mention and link in names", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) {
				userDetail(m)["firstName"], userDetail(m)["lastName"] = "<!channel>", "<https://evil|click>"
			}))
		}, "accepted"},
		{"SQL metacharacters", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { m["title"] = "'; DROP TABLE completions; --" }))
		}, "accepted"},
		{"apostrophe and ampersand in a title", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { m["title"] = "Health & Safety: Don't Panic" }))
		}, "accepted"},
		{"CR/LF in a title", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { m["title"] = "Safety\r\nBcc: all@example.com" }))
		}, "accepted"},
		{"names at their limit", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { userDetail(m)["firstName"] = strings.Repeat("é", 200) }))
		}, "accepted"},
		{"right-to-left name", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { userDetail(m)["firstName"] = "\u202eboB" }))
		}, "accepted"},
		{"charset parameter and identity encoding", func(t *testing.T) *http.Request {
			r := request(Path, sampleBody(t))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			r.Header.Set("Content-Encoding", "identity")
			return r
		}, "accepted"},
		{"unknown fields", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { m["extra"] = map[string]any{"nested": []any{1, "two"}} }))
		}, "accepted"},
		{"the documentation's event name", func(t *testing.T) *http.Request {
			return request(Path, withSample(t, func(m map[string]any) { m["event"] = "courseComplete" }))
		}, "accepted"},
		{"another event type", func(t *testing.T) *http.Request {
			return request(Path, []byte(`{"id":"e-1","event":"courseStarted"}`))
		}, "ignored"},
		{"the same key in different objects", func(t *testing.T) *http.Request {
			return request(Path, replace(t, `"ref3": "..."`, `"ref3": "...", "title": "not the course title"`))
		}, "accepted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{AllowedSources: platform()})
			status, body := h.serve(t, c.req(t))
			require.Equal(t, http.StatusAccepted, status, "%v", body)
			require.Equal(t, c.status, body["status"])
			require.Equal(t, 1, h.temporal.Starts())
		})
	}
}

func TestHandlerPanicLogsTheRouteNotTheURL(t *testing.T) {
	h := newHarness(t, Options{Secret: hostileSecret})
	h.temporal.panics = true
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, request(tokenPath+"?token="+hostileSecret, sampleBody(t)))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Contains(t, h.logs.String(), `"route":"/webhooks/events/:token"`)
	require.NotContains(t, h.logs.String(), hostileSecret)
}

func TestLogsCarryNoLearnerData(t *testing.T) {
	h := newHarness(t, Options{})
	status, _ := h.serve(t, request(Path, sampleBody(t)))
	require.Equal(t, http.StatusAccepted, status)
	// A refused body's values are not echoed either.
	status, _ = h.serve(t, request(Path, withSample(t, func(m map[string]any) {
		m["user"] = "not-an-address.bob.johnson"
		userDetail(m)["firstName"] = "Bob\x00"
	})))
	require.Equal(t, http.StatusBadRequest, status)

	logs := h.logs.String()
	require.Contains(t, logs, `"eventId":"32ed16df-27cb-5f72-90ff-4eaf39346f86"`)
	require.Contains(t, logs, `"courseId":"7670fdbe-15ed-504b-a680-d404fa4b0eb4"`)
	require.Contains(t, logs, `"learner":"`+event.Event{User: "bob.johnson@example.com"}.LearnerHash([]byte(config.DevelopmentLearnerHashKey))+`"`)
	for _, personal := range []string{"bob.johnson", "Bob", "Johnson", "New Student Orientation"} {
		require.NotContains(t, logs, personal)
	}
}
