package page

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/coursehook/coursehook/verify"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// memStore is a Lookup over a map, which records every code it is asked for.
type memStore struct {
	mu     sync.Mutex
	certs  map[string]verify.Certificate
	probes []string
	err    error
}

func (s *memStore) Certificate(_ context.Context, code string) (verify.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes = append(s.probes, code)
	if s.err != nil {
		return verify.Certificate{}, s.err
	}
	c, ok := s.certs[code]
	if !ok {
		return verify.Certificate{}, fmt.Errorf("code %s: %w", code, verify.ErrNotFound)
	}
	return c, nil
}

func (s *memStore) lastProbe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes[len(s.probes)-1]
}

// render stands in for the certificate package's renderer, which the caller
// passes in: deterministic bytes that depend on what the certificate shows.
// (The certificate package is not imported, so that it may import this one.)
func render(_ context.Context, c verify.Certificate) ([]byte, error) {
	return fmt.Appendf(nil, "%%PDF-1.7\n%% %s | %s | %s | %s\n%%%%EOF\n", c.Code, c.LearnerName, c.CourseTitle, c.CompletedAt.Format(time.RFC3339)), nil
}

type harness struct {
	engine  *gin.Engine
	store   *memStore
	keys    *verify.Keys
	now     time.Time
	valid   verify.Certificate
	revoked verify.Certificate
	logs    *bytes.Buffer
}

// newHarness serves a valid and a revoked certificate. The client address
// comes from the X-Test-Client header, and the clock is h.now.
func newHarness(t *testing.T, edit func(*Handler)) *harness {
	t.Helper()
	h := &harness{keys: testKeys(t, secretA), now: t0, logs: &bytes.Buffer{}}
	h.valid = sampleCertificate(h.keys)
	pdf, err := render(context.Background(), h.valid)
	require.NoError(t, err)
	sum := sha256.Sum256(pdf)
	h.valid.CertificateSHA256 = hex.EncodeToString(sum[:])
	h.revoked = sampleCertificate(h.keys)
	h.revoked.Code = h.keys.Code("revoked-event")
	h.revoked.RevokedAt = time.Date(2026, 2, 20, 16, 0, 0, 0, time.UTC)
	h.revoked.Reason = verify.ReasonIssuedInError
	h.store = &memStore{certs: map[string]verify.Certificate{h.valid.Code: h.valid, h.revoked.Code: h.revoked}}
	handler := &Handler{
		Lookup:     h.store,
		RenderPDF:  render,
		Keys:       h.keys,
		BaseURL:    base,
		IssuerName: "Default Issuer",
		ClientIP:   func(c *gin.Context) string { return c.GetHeader("X-Test-Client") },
		PerMinute:  600,
		Burst:      1000,
		Now:        func() time.Time { return h.now },
		Log:        slog.New(slog.NewJSONHandler(h.logs, nil)),
	}
	if edit != nil {
		edit(handler)
	}
	h.engine = gin.New()
	require.NoError(t, handler.Register(h.engine))
	return h
}

// get requests path; headers come in name, value pairs.
func (h *harness) get(t *testing.T, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Test-Client", "192.0.2.10")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.engine.ServeHTTP(w, req)
	return w
}

func decodeJSON(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	return m
}

func TestValidPage(t *testing.T) {
	h := newHarness(t, nil)
	w := h.get(t, "/certificates/"+h.valid.Code)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	require.Equal(t, "public, max-age=300", w.Header().Get("Cache-Control"))
	body := w.Body.String()
	for _, want := range []string{
		"This certificate is valid.",
		"<bdi>Grace Hopper</bdi>",
		"<bdi>Compilers for Everyone</bdi>",
		`<time datetime="2026-02-14T09:30:15Z">14 February 2026</time>`,
		"<bdi>Example Academy</bdi>",
		h.valid.Code,
		h.valid.CertificateSHA256,
		`href="` + base + "/certificates/" + h.valid.Code + `.pdf"`,
		`href="` + base + "/certificates/" + h.valid.Code + `/credential"`,
		`<meta name="robots" content="noindex">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "<script")
	require.NotContains(t, body, "was revoked")
}

func TestRevokedPage(t *testing.T) {
	h := newHarness(t, nil)
	w := h.get(t, "/certificates/"+h.revoked.Code)
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	require.Contains(t, body, `This certificate was revoked on <time datetime="2026-02-20T16:00:00Z">20 February 2026</time>. Reason: Issued in error.`)
	require.Contains(t, body, "<bdi>Grace Hopper</bdi>")
	require.Contains(t, body, ".pdf\"", "the PDF can still be checked")
	require.NotContains(t, body, "/credential", "a revoked certificate gets no credential")
	require.NotContains(t, body, "is valid")
}

func TestIssuerDefaultsToTheHandlers(t *testing.T) {
	h := newHarness(t, nil)
	c := h.valid
	c.Issuer = " \u200b"
	h.store.certs[c.Code] = c
	require.Contains(t, h.get(t, "/certificates/"+c.Code).Body.String(), "<bdi>Default Issuer</bdi>")
}

func TestJSONAnswers(t *testing.T) {
	h := newHarness(t, nil)
	page := base + "/certificates/" + h.valid.Code
	want := map[string]any{
		"status":            "valid",
		"code":              h.valid.Code,
		"learnerName":       "Grace Hopper",
		"courseTitle":       "Compilers for Everyone",
		"completedAt":       "2026-02-14T09:30:15Z",
		"issuer":            "Example Academy",
		"certificateSha256": h.valid.CertificateSHA256,
		"verificationUrl":   page,
		"pdfUrl":            page + ".pdf",
		"credentialUrl":     page + "/credential",
		"linkedInUrl": "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name=Compilers%20for%20Everyone" +
			"&organizationName=Example%20Academy&issueYear=2026&issueMonth=2&certUrl=" + url.QueryEscape(page) + "&certId=" + h.valid.Code,
	}
	for name, req := range map[string][]string{
		"Accept":                {"/certificates/" + h.valid.Code, "Accept", "application/json"},
		"Accept with HTML less": {"/certificates/" + h.valid.Code, "Accept", "text/html;q=0.5, application/json"},
		"format=json":           {"/certificates/" + h.valid.Code + "?format=json", "Accept", "text/html"},
	} {
		t.Run(name, func(t *testing.T) {
			w := h.get(t, req[0], req[1:]...)
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, want, decodeJSON(t, w))
		})
	}

	revoked := decodeJSON(t, h.get(t, "/certificates/"+h.revoked.Code, "Accept", "application/json"))
	require.Equal(t, "revoked", revoked["status"])
	require.Equal(t, "2026-02-20T16:00:00Z", revoked["revokedAt"])
	require.Equal(t, "issued_in_error", revoked["revocationReason"])
	require.Equal(t, "Issued in error", revoked["revocationReasonLabel"])
	require.NotContains(t, revoked, "credentialUrl")
	require.NotContains(t, revoked, "linkedInUrl", "a revoked certificate is not to be added")
	require.Contains(t, revoked, "pdfUrl")
}

func TestContentNegotiation(t *testing.T) {
	cases := []struct {
		accept string
		json   bool
	}{
		{"", false},
		{"*/*", false},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"application/json", true},
		{"application/*", true},
		{"application/json;q=0.9, text/html", false},
		{"text/html;q=0.1, application/json;q=0.2", true},
		{"application/json;q=0", false},
		{"application/json;q=bogus, text/html;q=0.1", false},
		{"APPLICATION/JSON", true},
	}
	h := newHarness(t, nil)
	for _, c := range cases {
		w := h.get(t, "/certificates/"+h.valid.Code, "Accept", c.accept)
		require.Equal(t, c.json, strings.HasPrefix(w.Header().Get("Content-Type"), "application/json"), "Accept: %q", c.accept)
	}
	w := h.get(t, "/certificates/"+h.valid.Code+"?format=html", "Accept", "application/json")
	require.True(t, strings.HasPrefix(w.Header().Get("Content-Type"), "text/html"))
}

func TestLookupsTolerateHowACodeIsTyped(t *testing.T) {
	h := newHarness(t, nil)
	code := h.valid.Code
	bare := strings.ReplaceAll(code, "-", "")
	for _, typed := range []string{
		strings.ToLower(code),
		bare,
		strings.ToLower(bare[:10]) + "-" + bare[10:],
		"%20" + strings.ReplaceAll(code, "-", "%20") + "%20",
		strings.NewReplacer("1", "l", "0", "O").Replace(code),
	} {
		w := h.get(t, "/certificates/"+typed+"?format=json")
		require.Equal(t, http.StatusOK, w.Code, typed)
		require.Equal(t, code, decodeJSON(t, w)["code"], typed)
		require.Equal(t, code, h.store.lastProbe(), "the store is asked for the canonical code")
	}
}

func TestUnknownAndMalformedCodesGetTheSameAnswer(t *testing.T) {
	h := newHarness(t, nil)
	unknown := h.keys.Code("nobody's event")
	cases := []struct {
		name, code string
		malformed  bool
	}{
		{"unknown", unknown, false},
		{"unknown, lower case", strings.ToLower(unknown), false},
		{"one character short", unknown[:len(unknown)-1], true},
		{"a U", unknown[:len(unknown)-1] + "U", true},
		{"punctuation", "hello.world", true},
		{"script", "%3Cscript%3E", true},
		{"long", strings.Repeat("A", 500), true},
		{"unicode", "%E2%80%AE" + unknown, true},
		{"dummy code itself", dummyCode, false},
	}
	for _, format := range []string{"html", "json"} {
		var first *httptest.ResponseRecorder
		for _, c := range cases {
			t.Run(format+"/"+c.name, func(t *testing.T) {
				for _, path := range []string{"/certificates/" + c.code, "/certificates/" + c.code + ".pdf"} {
					w := h.get(t, path+"?format="+format)
					require.Equal(t, http.StatusNotFound, w.Code)
					require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
					if first == nil {
						first = w
					}
					require.Equal(t, first.Body.String(), w.Body.String(), "the same body")
					require.Equal(t, first.Header(), w.Header(), "the same headers")
					if c.malformed {
						require.Equal(t, dummyCode, h.store.lastProbe(), "a malformed code is looked up too")
					}
				}
			})
		}
	}
	require.NotContains(t, h.get(t, "/certificates/"+unknown).Body.String(), unknown, "the page does not echo the code")
}

func TestStoreFailureIsUnavailableForEveryCode(t *testing.T) {
	h := newHarness(t, nil)
	h.store.err = errors.New("database is locked")
	for _, code := range []string{h.valid.Code, "malformed"} {
		w := h.get(t, "/certificates/"+code, "Accept", "application/json")
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
		require.Equal(t, "60", w.Header().Get("Retry-After"))
		require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		require.Equal(t, "unavailable", decodeJSON(t, w)["status"])
	}
	require.Contains(t, h.logs.String(), "database is locked")
}

func TestHostileStringsAreInert(t *testing.T) {
	hostile := []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		"\u202egnp.exe",
		`{{.CSS}} </bdi></dd><a href="javascript:alert(1)">`,
		"Robert'); DROP TABLE certificates;--",
		"\u2028line\u2029separator",
	}
	for i, s := range hostile {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			h := newHarness(t, nil)
			c := h.valid
			c.LearnerName, c.CourseTitle, c.Issuer = s, s+" course", s+" issuer"
			h.store.certs[c.Code] = c

			body := h.get(t, "/certificates/"+c.Code).Body.String()
			for _, bad := range []string{"<script", "<img", `<a href="javascript`, "\u202e", "</bdi></dd><a"} {
				require.NotContains(t, body, bad)
			}
			require.Equal(t, 3, strings.Count(body, "<bdi>")-strings.Count(body, "&lt;bdi&gt;"), "the three values stay inside their own elements")

			raw := h.get(t, "/certificates/"+c.Code, "Accept", "application/json").Body.String()
			for _, bad := range []string{"<", ">", "\u2028", "\u2029", "\u202e"} {
				require.NotContains(t, raw, bad)
			}
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(raw), &m))
			require.NotEmpty(t, m["learnerName"])
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t, func(hd *Handler) { hd.Burst = 3 })
	page := h.get(t, "/certificates/"+h.valid.Code)
	csp := page.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.NotContains(t, csp, "unsafe-inline")

	// The inline style sheet is exactly the one the policy's hash allows.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page.Body.String())
	require.Len(t, m, 2)
	sum := sha256.Sum256([]byte(m[1]))
	require.Contains(t, csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")

	// The burst is 3: the page, the 404 and the credential; the key set is
	// not limited, and the next page is over the limit.
	answers := map[string]*httptest.ResponseRecorder{"page": page}
	answers["not found"] = h.get(t, "/certificates/nope")
	answers["jwks"] = h.get(t, "/.well-known/jwks.json")
	answers["credential"] = h.get(t, "/certificates/"+h.valid.Code+"/credential")
	answers["over the limit"] = h.get(t, "/certificates/"+h.valid.Code)
	answers["pdf"] = h.get(t, "/certificates/"+h.valid.Code+".pdf")
	for name, w := range answers {
		require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"), name)
		require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"), name)
		require.Equal(t, "noindex", w.Header().Get("X-Robots-Tag"), name)
		require.Contains(t, w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'", name)
	}
	require.Equal(t, http.StatusOK, answers["credential"].Code)
	require.Equal(t, http.StatusTooManyRequests, answers["over the limit"].Code)
	require.Equal(t, http.StatusTooManyRequests, answers["pdf"].Code)
}

func TestPDF(t *testing.T) {
	h := newHarness(t, nil)
	want, err := render(context.Background(), h.valid)
	require.NoError(t, err)
	for _, path := range []string{
		"/certificates/" + h.valid.Code + ".pdf",
		"/certificates/" + strings.ToLower(h.valid.Code) + ".PDF",
	} {
		w := h.get(t, path)
		require.Equal(t, http.StatusOK, w.Code)
		require.Equal(t, "application/pdf", w.Header().Get("Content-Type"))
		require.Equal(t, `inline; filename="certificate-`+h.valid.Code+`.pdf"`, w.Header().Get("Content-Disposition"))
		require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
		require.Equal(t, want, w.Body.Bytes())
		sum := sha256.Sum256(w.Body.Bytes())
		require.Equal(t, h.valid.CertificateSHA256, hex.EncodeToString(sum[:]), "the file matches the hash the page states")
	}
	require.NotContains(t, h.logs.String(), "differs")

	// A renderer that no longer gives the same bytes is logged.
	c := h.valid
	c.CertificateSHA256 = strings.Repeat("0", 64)
	h.store.certs[c.Code] = c
	require.Equal(t, http.StatusOK, h.get(t, "/certificates/"+c.Code+".pdf").Code)
	require.Contains(t, h.logs.String(), "re-rendered certificate differs")
}

func TestPDFRenderFailure(t *testing.T) {
	h := newHarness(t, func(hd *Handler) {
		hd.RenderPDF = func(context.Context, verify.Certificate) ([]byte, error) { return nil, errors.New("font missing") }
	})
	w := h.get(t, "/certificates/"+h.valid.Code+".pdf")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, h.logs.String(), "font missing")
}

func TestCredentialRoute(t *testing.T) {
	h := newHarness(t, nil)
	w := h.get(t, "/certificates/"+strings.ToLower(h.valid.Code)+"/credential")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/vc+jwt", w.Header().Get("Content-Type"))

	keys := h.get(t, "/.well-known/jwks.json")
	require.Equal(t, http.StatusOK, keys.Code)
	require.Equal(t, "application/jwk-set+json", keys.Header().Get("Content-Type"))
	require.Equal(t, "public, max-age=3600", keys.Header().Get("Cache-Control"))
	_, vc := verifyJWT(t, keys.Body.Bytes(), w.Body.String())
	require.Equal(t, base+"/certificates/"+h.valid.Code+"/credential", vc["id"])

	gone := h.get(t, "/certificates/"+h.revoked.Code+"/credential")
	require.Equal(t, http.StatusGone, gone.Code)
	m := decodeJSON(t, gone)
	require.Equal(t, "revoked", m["status"])
	require.Equal(t, "issued_in_error", m["revocationReason"])
	require.Contains(t, m["error"], "no credential")

	for _, code := range []string{h.keys.Code("unknown"), "malformed"} {
		nf := h.get(t, "/certificates/"+code+"/credential", "Accept", "text/html")
		require.Equal(t, http.StatusNotFound, nf.Code)
		require.Equal(t, "not_found", decodeJSON(t, nf)["status"], "the credential route answers in JSON")
	}
}

func TestNoAnswerHoldsTheLearnersEmail(t *testing.T) {
	h := newHarness(t, nil)
	var all strings.Builder
	for _, path := range []string{
		"/certificates/" + h.valid.Code,
		"/certificates/" + h.valid.Code + "?format=json",
		"/certificates/" + h.revoked.Code,
		"/certificates/" + h.revoked.Code + "?format=json",
		"/certificates/" + h.revoked.Code + "/credential",
		"/.well-known/jwks.json",
	} {
		w := h.get(t, path)
		require.Less(t, w.Code, 500, path)
		all.Write(w.Body.Bytes())
		fmt.Fprint(&all, w.Header())
	}
	token := h.get(t, "/certificates/"+h.valid.Code+"/credential").Body.String()
	header, payload := verifyJWT(t, h.get(t, "/.well-known/jwks.json").Body.Bytes(), token)
	all.Write(mustJSON(t, header))
	all.Write(mustJSON(t, payload))
	all.WriteString(h.logs.String())
	require.NotContains(t, strings.ToLower(all.String()), strings.ToLower(learnerMail))
}

func TestEmailDoesNotPrint(t *testing.T) {
	c := sampleCertificate(testKeys(t, secretA))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("certificate", "cert", c, "email", c.LearnerEmail)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %s", c, c, c, c.LearnerEmail),
		string(b),
		logs.String(),
	} {
		require.NotContains(t, strings.ToLower(out), strings.ToLower(learnerMail))
		require.Contains(t, out, "[redacted]")
	}
}

func TestRateLimitUnderAFlood(t *testing.T) {
	h := newHarness(t, func(hd *Handler) { hd.PerMinute, hd.Burst = 6, 3 })
	var ok, limited int
	for i := range 50 {
		accept := "text/html"
		if i%2 == 1 {
			accept = "application/json"
		}
		w := h.get(t, "/certificates/"+h.valid.Code, "Accept", accept)
		switch w.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			require.Equal(t, "10", w.Header().Get("Retry-After"), "a token every 10 s")
			require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			if accept == "application/json" {
				require.Equal(t, map[string]any{"status": "rate_limited", "error": "too many requests", "retryAfter": 10.0}, decodeJSON(t, w))
			} else {
				require.Contains(t, w.Body.String(), "Please wait 10 seconds")
			}
		default:
			t.Fatalf("request %d: status %d", i, w.Code)
		}
	}
	require.Equal(t, 3, ok, "the burst")
	require.Equal(t, 47, limited)

	// Another address is not held back, and the first gets a token back in 10 s.
	require.Equal(t, http.StatusOK, h.get(t, "/certificates/"+h.valid.Code, "X-Test-Client", "198.51.100.7").Code)
	h.now = h.now.Add(10 * time.Second)
	require.Equal(t, http.StatusOK, h.get(t, "/certificates/"+h.valid.Code).Code)
	require.Equal(t, http.StatusTooManyRequests, h.get(t, "/certificates/"+h.valid.Code).Code)
	// The key set is not limited: verifiers fetch it with every credential.
	require.Equal(t, http.StatusOK, h.get(t, "/.well-known/jwks.json").Code)
}

func TestRegisterRefusesAnIncompleteHandler(t *testing.T) {
	k := testKeys(t, secretA)
	full := func() Handler {
		return Handler{Lookup: &memStore{}, RenderPDF: render, Keys: k, BaseURL: base, IssuerName: "Example Academy"}
	}
	cases := []struct {
		name string
		edit func(*Handler)
		want string
	}{
		{"no lookup", func(h *Handler) { h.Lookup = nil }, "no Lookup"},
		{"no renderer", func(h *Handler) { h.RenderPDF = nil }, "no RenderPDF"},
		{"no keys", func(h *Handler) { h.Keys = nil }, "no Keys"},
		{"no issuer", func(h *Handler) { h.IssuerName = " " }, "no IssuerName"},
		{"relative base URL", func(h *Handler) { h.BaseURL = "/certs" }, "base URL"},
		{"other scheme", func(h *Handler) { h.BaseURL = "ftp://example.com" }, "base URL"},
		{"query", func(h *Handler) { h.BaseURL = base + "?x=1" }, "base URL"},
		{"credentials", func(h *Handler) { h.BaseURL = "https://user:pw@example.com" }, "base URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := full()
			c.edit(&h)
			require.ErrorContains(t, h.Register(gin.New()), c.want)
		})
	}
	h := full()
	require.NoError(t, h.Register(gin.New()))
}

// mapLookup is a Lookup over a map that records nothing, for benchmarks.
type mapLookup map[string]verify.Certificate

func (m mapLookup) Certificate(_ context.Context, code string) (verify.Certificate, error) {
	if c, ok := m[code]; ok {
		return c, nil
	}
	return verify.Certificate{}, verify.ErrNotFound
}

// BenchmarkNotFound compares an unknown code with malformed ones: both
// should cost the same, since both are looked up and answered alike.
func BenchmarkNotFound(b *testing.B) {
	k := testKeys(b, secretA)
	valid := sampleCertificate(k)
	engine := gin.New()
	h := &Handler{Lookup: mapLookup{valid.Code: valid}, RenderPDF: render, Keys: k, BaseURL: base, IssuerName: "Example Academy",
		PerMinute: 1 << 30, Burst: 1 << 30, Log: slog.New(slog.DiscardHandler)}
	require.NoError(b, h.Register(engine))
	for name, code := range map[string]string{
		"unknown":         k.Code("unknown"),
		"malformed-early": "U" + k.Code("unknown")[1:],
		"malformed-late":  k.Code("unknown")[:verify.CodeLen-1] + "U",
		"too-short":       "ABC",
		"valid":           valid.Code,
	} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/certificates/"+code, nil)
			for b.Loop() {
				engine.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

func testKeys(t testing.TB, secret string) *verify.Keys {
	t.Helper()
	k, err := verify.NewKeys([]byte(secret))
	require.NoError(t, err)
	return k
}

const (
	secretA     = "0123456789abcdef0123456789abcdef-a"
	base        = "https://certificates.example.com"
	learnerMail = "Grace.Hopper@Example.org"
)

func sampleCertificate(k *verify.Keys) verify.Certificate {
	return verify.Certificate{
		Code:              k.Code("32ed16df-9c83-4a6b-b7e4-2f0a5b6c7d8e"),
		LearnerName:       "Grace Hopper",
		LearnerEmail:      verify.NewEmail(learnerMail),
		CourseID:          "7670fdbe-15ed-504b-a680-d404fa4b0eb4",
		CourseTitle:       "Compilers for Everyone",
		CompletedAt:       time.Date(2026, 2, 14, 9, 30, 15, 250_000_000, time.UTC),
		Issuer:            "Example Academy",
		CertificateSHA256: strings.Repeat("ab", 32),
	}
}

func TestDummyCodeIsCanonical(t *testing.T) {
	got, ok := verify.Normalize(dummyCode)
	require.True(t, ok)
	require.Equal(t, dummyCode, got)
}

func verifyJWT(t *testing.T, jwks []byte, token string) (header, payload map[string]any) {
	t.Helper()
	header, payload, err := verify.VerifyCredential(jwks, token)
	require.NoError(t, err)
	return header, payload
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
