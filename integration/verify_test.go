package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// get fetches url with an Accept header, and returns the status, the
// Content-Type and the body.
func get(t *testing.T, url, accept string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

var printedCode = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}`)

// qrURL rasterises the PDF and decodes its QR code with poppler and zbar,
// as an employer's phone would read it; "" when the tools are missing.
func qrURL(t *testing.T, pdf []byte) string {
	t.Helper()
	pdftoppm, err1 := exec.LookPath("pdftoppm")
	zbarimg, err2 := exec.LookPath("zbarimg")
	if err1 != nil || err2 != nil {
		t.Log("pdftoppm or zbarimg missing (Debian: poppler-utils, zbar-tools): the QR code is not scanned; the printed code is checked")
		return ""
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "certificate.pdf")
	require.NoError(t, os.WriteFile(in, pdf, 0o600))
	out, err := exec.Command(pdftoppm, "-png", "-r", "150", "-singlefile", in, filepath.Join(dir, "page")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(zbarimg, "--raw", "-q", filepath.Join(dir, "page.png")).Output()
	require.NoError(t, err, "no QR code found")
	return strings.TrimSpace(string(out))
}

// TestCertificateIsVerifiable walks the acceptance: the emailed
// PDF carries a code and a QR code of its page; the page and its JSON say
// valid, for the learner and course, without the learner's email; the PDF
// downloads again byte for byte; the credential verifies with the
// published key; a revocation shows on the page and stops the credential.
func TestCertificateIsVerifiable(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{Routing: true, Verification: true})
	id, body := sample(t, "course-completion.json")
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)

	mails := s.SendGrid.MessagesFor(id)
	require.Len(t, mails, 1)
	m, err := mails[0].Mail()
	require.NoError(t, err)
	require.Len(t, m.Attachments, 1)
	pdf := m.Attachments[0].Content
	doc, err := pdftext.Read(pdf)
	require.NoError(t, err)
	code := printedCode.FindString(doc.Text())
	require.NotEmpty(t, code, "the certificate prints its code:\n%s", doc.Text())
	rec := row(t, s, id)
	require.Equal(t, code, rec.VerificationCode, "the printed code is the stored one")
	pageURL := s.URL() + verify.CertificatesPath + "/" + code
	if scanned := qrURL(t, pdf); scanned != "" {
		require.Equal(t, pageURL, scanned, "the QR code leads to the page")
	}

	status, ctype, html := get(t, pageURL, "text/html")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, ctype, "text/html")
	require.Contains(t, string(html), "This certificate is valid.")
	require.Contains(t, string(html), "Bob Johnson")
	require.Contains(t, string(html), "New Student Orientation")

	// Lower case and no dashes find the same certificate.
	status, ctype, raw := get(t, s.URL()+verify.CertificatesPath+"/"+strings.ToLower(strings.ReplaceAll(code, "-", "")), "application/json")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, ctype, "application/json")
	var facts map[string]any
	require.NoError(t, json.Unmarshal(raw, &facts))
	require.Equal(t, "valid", facts["status"])
	require.Equal(t, rec.CertificateSHA256(), facts["certificateSha256"])

	status, ctype, again := get(t, pageURL+".pdf", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/pdf", ctype)
	sum := sha256.Sum256(again)
	require.Equal(t, rec.CertificateSHA256(), hex.EncodeToString(sum[:]), "the download is the emailed file")
	require.Equal(t, pdf, again)

	status, _, jwks := get(t, s.URL()+verify.JWKSPath, "")
	require.Equal(t, http.StatusOK, status)
	status, _, token := get(t, pageURL+verify.CredentialSuffix, "")
	require.Equal(t, http.StatusOK, status)
	_, credential, err := verify.VerifyCredential(jwks, string(token))
	require.NoError(t, err, "the credential verifies with the published key")
	require.Contains(t, credential["type"], "OpenBadgeCredential")

	for what, b := range map[string][]byte{"page": html, "json": raw, "credential": mustDecodeJWT(t, string(token)), "key set": jwks} {
		require.NotContains(t, strings.ToLower(string(b)), "bob.johnson@example.com", "the %s never holds the learner's email", what)
	}

	out, code2 := s.coursehookctl(t, "revoke", "--event", id, "--reason", "issued_in_error", "--note", "wrong course", "--by", "ops")
	require.Zero(t, code2, "%s", out)
	status, _, html = get(t, pageURL, "text/html")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(html), "This certificate was revoked on")
	require.NotContains(t, string(html), "wrong course", "the page shows the category, never the note")
	status, _, _ = get(t, pageURL+verify.CredentialSuffix, "")
	require.Equal(t, http.StatusGone, status)
	out, code2 = s.coursehookctl(t, "revoke", "--event", id, "--reason", "issued_in_error")
	require.Zero(t, code2, "%s", out)
	require.Contains(t, out, "nothing changed")

	status, _, unknown := get(t, s.URL()+verify.CertificatesPath+"/"+strings.Repeat("0", 20), "text/html")
	require.Equal(t, http.StatusNotFound, status)
	status, _, malformed := get(t, s.URL()+verify.CertificatesPath+"/not-a-code", "text/html")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, unknown, malformed, "unknown and malformed codes get the same page")
}

// TestVerificationIsRateLimited floods the page from one address.
func TestVerificationIsRateLimited(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{Verification: true, VerifyPerMinute: 5})
	limited := 0
	for range 30 {
		status, _, _ := get(t, s.URL()+verify.CertificatesPath+"/"+strings.Repeat("0", 20), "")
		if status == http.StatusTooManyRequests {
			limited++
		}
	}
	require.Positive(t, limited, "a flood meets 429")
}

func mustDecodeJWT(t *testing.T, token string) []byte {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	var out []byte
	for _, p := range parts[:2] {
		b, err := base64URL.DecodeString(p)
		require.NoError(t, err)
		out = append(out, b...)
	}
	return out
}

var base64URL = base64.RawURLEncoding
