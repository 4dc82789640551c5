package page

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/linkedin"
	"github.com/coursehook/coursehook/verify"
)

// dummyCode is looked up in place of a malformed code, so a malformed code
// costs the same as an unknown one. It is well-formed, but it is only ever
// probed for a code that failed Normalize, and that answer is always 404.
const dummyCode = "00000-00000-00000-00000"

//go:embed page.html style.css
var assets embed.FS

const (
	pdfSuffix = ".pdf"
)

// Defaults of the Handler's limits.
const (
	DefaultPerMinute  = 30
	DefaultBurst      = 10
	DefaultMaxClients = 10_000
)

// Content types of the non-HTML answers.
const (
	contentTypeJSON = "application/json; charset=utf-8"
	contentTypeJWT  = "application/vc+jwt"
	contentTypeJWKS = "application/jwk-set+json"
	contentTypePDF  = "application/pdf"
)

// How long shared caches may keep an answer about an existing certificate. A
// revocation shows within this time; unknown codes and errors are never
// stored, so a certificate shows as soon as it is recorded.
const (
	cacheFound = "public, max-age=300"
	cacheKeys  = "public, max-age=3600"
	cacheNone  = "no-store"
)

// unavailableRetry is the Retry-After of a 503, when the store failed.
const unavailableRetry = 60 * time.Second

// LinkedInLookup is a Lookup that also knows the LinkedIn page of each
// certificate's course (COURSES_FILE's linkedin.organizationId), for the
// page's "Add to LinkedIn" link. It answers in the one lookup the page makes
// anyway. With a Lookup that is not one, the link names the issuer instead.
type LinkedInLookup interface {
	verify.Lookup
	// LinkedInCertificate is Certificate, with the LinkedIn organization
	// id of the certificate's course, "" when it names none.
	LinkedInCertificate(ctx context.Context, code string) (c verify.Certificate, organizationID string, err error)
}

// Handler serves the verification routes; see the package documentation.
// Lookup, RenderPDF, Keys, BaseURL and IssuerName are required; the rest
// have defaults.
type Handler struct {
	// Lookup finds certificates by code; a LinkedInLookup also gives the
	// "Add to LinkedIn" link its organisation's page.
	Lookup verify.Lookup
	// RenderPDF renders a certificate's PDF again. It must give the bytes
	// that were sent, so they match Certificate.CertificateSHA256.
	RenderPDF func(ctx context.Context, c verify.Certificate) ([]byte, error)
	// Keys sign the credentials and publish the key set.
	Keys *verify.Keys
	// BaseURL is the public URL where the routes are mounted
	// (PUBLIC_BASE_URL), such as https://certificates.example.com. It is
	// the credential's issuer id, and every link and key id starts with it.
	BaseURL string
	// IssuerName names the issuer of a certificate whose Issuer is empty.
	IssuerName string
	// ClientIP gives the address a request is counted against
	// (c.ClientIP). Pass the webhook's trusted-proxy logic behind a proxy.
	ClientIP func(*gin.Context) string
	// PerMinute is the steady rate of requests a client may make
	// (DefaultPerMinute), and Burst how many it may make at once
	// (DefaultBurst).
	PerMinute int
	Burst     int
	// MaxClients bounds how many clients' rates are tracked at once
	// (DefaultMaxClients); the least recently seen is forgotten first.
	MaxClients int
	// Now is the clock of the rate limit (time.Now).
	Now func() time.Time
	// Log receives lookup and rendering failures (slog.Default()).
	Log *slog.Logger
}

// server is a Handler with its defaults applied and its state built: one per
// Register, so two routers never share a rate table.
type server struct {
	Handler
	base   string
	limits *limiter
	page   *template.Template
	css    template.CSS
	csp    string
	jwks   []byte
}

// Register mounts the routes on r: GET /certificates/:code (the page, or the
// PDF for a code ending in .pdf), GET /certificates/:code/credential and GET
// /.well-known/jwks.json. It fails when a required field is missing or
// BaseURL is not an absolute http(s) URL.
func (h *Handler) Register(r gin.IRouter) error {
	s, err := h.server()
	if err != nil {
		return err
	}
	r.GET(verify.CertificatesPath+"/:code", s.secure, s.limit, s.certificate)
	r.GET(verify.CertificatesPath+"/:code"+verify.CredentialSuffix, s.secure, s.limit, s.credential)
	r.GET(verify.JWKSPath, s.secure, s.keySet)
	return nil
}

func (h *Handler) server() (*server, error) {
	s := &server{Handler: *h}
	switch {
	case s.Lookup == nil:
		return nil, errors.New("verify handler: no Lookup")
	case s.RenderPDF == nil:
		return nil, errors.New("verify handler: no RenderPDF")
	case s.Keys == nil:
		return nil, errors.New("verify handler: no Keys")
	case event.Clean(s.IssuerName) == "":
		return nil, errors.New("verify handler: no IssuerName")
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("verify handler: base URL %q is not an absolute http(s) URL without query or fragment", s.BaseURL)
	}
	s.base = strings.TrimRight(s.BaseURL, "/")
	if s.ClientIP == nil {
		s.ClientIP = func(c *gin.Context) string { return c.ClientIP() }
	}
	if s.PerMinute <= 0 {
		s.PerMinute = DefaultPerMinute
	}
	if s.Burst <= 0 {
		s.Burst = DefaultBurst
	}
	if s.MaxClients <= 0 {
		s.MaxClients = DefaultMaxClients
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.limits = newLimiter(s.PerMinute, s.Burst, s.MaxClients)
	if s.page, err = template.ParseFS(assets, "page.html"); err != nil {
		return nil, fmt.Errorf("verify handler: parse page template: %w", err)
	}
	css, err := assets.ReadFile("style.css")
	if err != nil {
		return nil, fmt.Errorf("verify handler: read style sheet: %w", err)
	}
	s.css = template.CSS(css)
	// The style sheet is inline and allowed by its hash, so the policy
	// needs no 'unsafe-inline' and the page makes no second request.
	sum := sha256.Sum256(css)
	s.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	s.jwks = s.Keys.JWKS(s.base)
	return s, nil
}

// secure sets the headers every answer carries. Cache-Control starts as
// no-store; only an answer about an existing certificate relaxes it.
func (s *server) secure(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Cache-Control", cacheNone)
	h.Set("Vary", "Accept")
	// Everything here is public and no request carries credentials, so any
	// site, a wallet for one, may read it.
	h.Set("Access-Control-Allow-Origin", "*")
}

// limit answers 429 to a client over its rate.
func (s *server) limit(c *gin.Context) {
	ok, wait := s.limits.allow(s.ClientIP(c), s.Now())
	if ok {
		return
	}
	// The limiter's float arithmetic leaves nanoseconds of noise, which
	// must not round 10 s up to 11.
	secs := int(math.Ceil(min(wait, time.Hour).Round(time.Millisecond).Seconds()))
	secs = max(secs, 1)
	c.Header("Retry-After", strconv.Itoa(secs))
	s.respond(c, http.StatusTooManyRequests, s.wantsJSON(c), answer{Status: statusRateLimited, Error: "too many requests", RetryAfter: secs}, nil)
	c.Abort()
}

func (s *server) certificate(c *gin.Context) {
	raw := c.Param("code")
	if n := len(raw) - len(pdfSuffix); n > 0 && strings.EqualFold(raw[n:], pdfSuffix) {
		s.pdf(c, raw[:n])
		return
	}
	asJSON := s.wantsJSON(c)
	cert, organizationID, err := s.find(c.Request.Context(), raw)
	if err != nil {
		s.fail(c, asJSON, err)
		return
	}
	a := s.facts(cert)
	if a.Status == statusValid {
		// Only a certificate that stands may go on a profile.
		a.LinkedInURL = addToLinkedIn(cert, organizationID, a.VerificationURL)
	}
	c.Header("Cache-Control", cacheFound)
	s.respond(c, http.StatusOK, asJSON, a, &cert)
}

func (s *server) pdf(c *gin.Context, raw string) {
	asJSON := s.wantsJSON(c)
	cert, _, err := s.find(c.Request.Context(), raw)
	if err != nil {
		s.fail(c, asJSON, err)
		return
	}
	b, err := s.RenderPDF(c.Request.Context(), cert)
	if err != nil {
		s.fail(c, asJSON, fmt.Errorf("render certificate %s: %w", cert.Code, err))
		return
	}
	if want := cert.CertificateSHA256; want != "" {
		if sum := sha256.Sum256(b); !strings.EqualFold(hex.EncodeToString(sum[:]), want) {
			// The page states the hash of the file that was sent; a holder
			// comparing this download with it would be told it is not
			// genuine.
			s.Log.Warn("re-rendered certificate differs from the one sent", "code", cert.Code)
		}
	}
	h := c.Writer.Header()
	// A PDF is not HTML; the browser's viewer needs no policy but framing.
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	h.Set("Content-Disposition", `inline; filename="certificate-`+cert.Code+`.pdf"`)
	h.Set("Cache-Control", cacheFound)
	c.Data(http.StatusOK, contentTypePDF, b)
}

func (s *server) credential(c *gin.Context) {
	cert, _, err := s.find(c.Request.Context(), c.Param("code"))
	if err != nil {
		s.fail(c, true, err)
		return
	}
	// An expired or superseded certificate still gets its credential: the
	// credential's own validUntil tells a verifier it has lapsed, and what
	// it says about the completion stays true. A revoked one gets none.
	if cert.Revoked() {
		a := s.facts(cert)
		a.Error = "this certificate was revoked; no credential is issued for it"
		c.Header("Cache-Control", cacheFound)
		s.respond(c, http.StatusGone, true, a, nil)
		return
	}
	jwt, err := s.Keys.Credential(cert, s.base)
	if err != nil {
		s.Log.Error("credential not issued", "code", cert.Code, "error", err)
		s.respond(c, http.StatusInternalServerError, true, answer{Status: statusUnavailable, Error: "the credential cannot be issued"}, nil)
		return
	}
	c.Header("Cache-Control", cacheFound)
	c.Data(http.StatusOK, contentTypeJWT, []byte(jwt))
}

func (s *server) keySet(c *gin.Context) {
	c.Header("Cache-Control", cacheKeys)
	c.Data(http.StatusOK, contentTypeJWKS, s.jwks)
}

// find looks raw up, with the LinkedIn organization id of its course when
// the Lookup knows it. A malformed code is looked up too, as dummyCode, and
// its answer thrown away, so it takes the same path as an unknown code; the
// stored code is compared in constant time before anything is believed.
func (s *server) find(ctx context.Context, raw string) (verify.Certificate, string, error) {
	code, ok := verify.Normalize(raw)
	probe := code
	if !ok {
		probe = dummyCode
	}
	cert, organizationID, err := s.lookup(ctx, probe)
	if err != nil && !errors.Is(err, verify.ErrNotFound) {
		return verify.Certificate{}, "", fmt.Errorf("look up certificate: %w", err)
	}
	got, _ := verify.Normalize(cert.Code)
	same := subtle.ConstantTimeCompare([]byte(got), []byte(probe)) == 1
	if err != nil || !ok || !same {
		return verify.Certificate{}, "", verify.ErrNotFound
	}
	cert.Code = got
	if event.Clean(cert.Issuer) == "" {
		cert.Issuer = s.IssuerName
	}
	return cert, organizationID, nil
}

// lookup asks a LinkedInLookup for the organization id in the same query,
// so a page costs one lookup either way.
func (s *server) lookup(ctx context.Context, code string) (verify.Certificate, string, error) {
	if l, ok := s.Lookup.(LinkedInLookup); ok {
		return l.LinkedInCertificate(ctx, code)
	}
	cert, err := s.Lookup.Certificate(ctx, code)
	return cert, "", err
}

// addToLinkedIn is the page's "Add to LinkedIn" link, with the values the
// certificate email's link has (certmail), so the two agree: the title and
// issuer as the page shows them, the month of the completion, and the
// course's LinkedIn page when it has one.
func addToLinkedIn(cert verify.Certificate, organizationID, page string) string {
	return linkedin.AddURL(linkedin.Certification{
		Name:             event.Clean(cert.CourseTitle),
		OrganizationID:   organizationID,
		OrganizationName: event.Clean(cert.Issuer),
		Issued:           cert.CompletedAt,
		Expires:          cert.ExpiresAt,
		CertURL:          page,
		CertID:           cert.Code,
	})
}

// fail answers 404 for ErrNotFound, whatever the code was, and 503 for
// anything else, which it logs.
func (s *server) fail(c *gin.Context, asJSON bool, err error) {
	if errors.Is(err, verify.ErrNotFound) {
		s.respond(c, http.StatusNotFound, asJSON, answer{Status: statusNotFound, Error: "no certificate has this code"}, nil)
		return
	}
	s.Log.Error("certificate verification failed", "error", err)
	c.Header("Retry-After", strconv.Itoa(int(unavailableRetry.Seconds())))
	s.respond(c, http.StatusServiceUnavailable, asJSON, answer{Status: statusUnavailable, Error: "verification is unavailable, try again later"}, nil)
}

// Statuses of an answer.
const (
	statusValid       = "valid"
	statusRevoked     = "revoked"
	statusExpired     = "expired"
	statusSuperseded  = "superseded"
	statusNotFound    = "not_found"
	statusRateLimited = "rate_limited"
	statusUnavailable = "unavailable"
)

// answer is the JSON body, and what the HTML page states.
type answer struct {
	Status                string `json:"status"`
	Error                 string `json:"error,omitempty"`
	RetryAfter            int    `json:"retryAfter,omitempty"`
	Code                  string `json:"code,omitempty"`
	LearnerName           string `json:"learnerName,omitempty"`
	CourseTitle           string `json:"courseTitle,omitempty"`
	CompletedAt           string `json:"completedAt,omitempty"`
	Issuer                string `json:"issuer,omitempty"`
	CertificateSHA256     string `json:"certificateSha256,omitempty"`
	RevokedAt             string `json:"revokedAt,omitempty"`
	RevocationReason      string `json:"revocationReason,omitempty"`
	RevocationReasonLabel string `json:"revocationReasonLabel,omitempty"`
	// ExpiresAt is when a certificate that expires lapses (or lapsed).
	ExpiresAt string `json:"expiresAt,omitempty"`
	// SupersededBy is the code of the certificate that renewed this one,
	// and SupersededByURL its page.
	SupersededBy    string `json:"supersededBy,omitempty"`
	SupersededByURL string `json:"supersededByUrl,omitempty"`
	VerificationURL string `json:"verificationUrl,omitempty"`
	PDFURL          string `json:"pdfUrl,omitempty"`
	// CredentialURL is empty for a revoked certificate, which gets none.
	CredentialURL string `json:"credentialUrl,omitempty"`
	// LinkedInURL adds the certificate to the learner's LinkedIn profile;
	// empty for a revoked certificate, which must not be added.
	LinkedInURL string `json:"linkedInUrl,omitempty"`
}

// facts is what may be said about cert. Names and titles are cleaned as on
// the certificate itself, so no bidi override or invisible character can
// disguise them.
func (s *server) facts(cert verify.Certificate) answer {
	page := s.base + verify.CertificatesPath + "/" + cert.Code
	a := answer{
		Status:            statusValid,
		Code:              cert.Code,
		LearnerName:       event.Clean(cert.LearnerName),
		CourseTitle:       event.Clean(cert.CourseTitle),
		CompletedAt:       cert.CompletedAt.UTC().Format(time.RFC3339),
		Issuer:            event.Clean(cert.Issuer),
		CertificateSHA256: strings.ToLower(cert.CertificateSHA256),
		VerificationURL:   page,
		PDFURL:            page + pdfSuffix,
		CredentialURL:     page + verify.CredentialSuffix,
	}
	if !cert.ExpiresAt.IsZero() {
		a.ExpiresAt = cert.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if cert.SupersededBy != "" {
		a.SupersededBy = cert.SupersededBy
		a.SupersededByURL = s.base + verify.CertificatesPath + "/" + cert.SupersededBy
	}
	// A revocation outranks everything, and stays after the date; a
	// renewal outranks the old certificate's expiry, since the learner is
	// covered by the new one.
	switch {
	case cert.Revoked():
		a.Status = statusRevoked
		a.RevokedAt = cert.RevokedAt.UTC().Format(time.RFC3339)
		a.RevocationReason = string(cert.Reason)
		a.RevocationReasonLabel = cert.Reason.Label()
		a.CredentialURL = ""
	case cert.Superseded:
		a.Status = statusSuperseded
	case cert.Expired(s.Now()):
		a.Status = statusExpired
	}
	return a
}

// pageData is what page.html renders.
type pageData struct {
	CSS        template.CSS
	Status     string
	RetryAfter int
	Cert       *certView
}

type certView struct {
	Status                      string
	Revoked                     bool
	Code, LearnerName, Issuer   string
	CourseTitle, SHA256         string
	CompletedDate, CompletedISO string
	RevokedDate, RevokedISO     string
	ReasonLabel                 string
	PDFURL, CredentialURL       string
	LinkedInURL                 string
	// ExpiresDate and ExpiresISO are the expiry date, empty for a
	// certificate that never expires; SupersededBy and SupersededByURL
	// name the renewal.
	ExpiresDate, ExpiresISO       string
	SupersededBy, SupersededByURL string
}

const humanDate = "2 January 2006"

// respond writes a as JSON, or as the HTML page. cert, when there is one,
// gives the page its dates in words.
func (s *server) respond(c *gin.Context, status int, asJSON bool, a answer, cert *verify.Certificate) {
	if asJSON {
		// encoding/json escapes <, > and & and the JavaScript line
		// separators, so hostile names stay inert wherever the JSON lands.
		b, err := json.Marshal(a)
		if err != nil {
			s.Log.Error("marshal verification answer", "error", err)
			c.Status(http.StatusInternalServerError)
			return
		}
		c.Data(status, contentTypeJSON, b)
		return
	}
	d := pageData{CSS: s.css, Status: a.Status, RetryAfter: a.RetryAfter}
	if cert != nil {
		d.Cert = &certView{
			Status:        a.Status,
			Revoked:       cert.Revoked(),
			Code:          a.Code,
			LearnerName:   a.LearnerName,
			Issuer:        a.Issuer,
			CourseTitle:   a.CourseTitle,
			SHA256:        a.CertificateSHA256,
			CompletedDate: cert.CompletedAt.UTC().Format(humanDate),
			CompletedISO:  a.CompletedAt,
			RevokedDate:   cert.RevokedAt.UTC().Format(humanDate),
			RevokedISO:    a.RevokedAt,
			ReasonLabel:   a.RevocationReasonLabel,
			PDFURL:        a.PDFURL,
			CredentialURL: a.CredentialURL,
			LinkedInURL:   a.LinkedInURL,
			ExpiresISO:    a.ExpiresAt,
			SupersededBy:  a.SupersededBy,
			// The link is the renewal's page on this site, built from a
			// code that Normalize accepted.
			SupersededByURL: a.SupersededByURL,
		}
		if !cert.ExpiresAt.IsZero() {
			d.Cert.ExpiresDate = cert.ExpiresAt.UTC().Format(humanDate)
		}
	}
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, d); err != nil {
		s.Log.Error("render verification page", "error", err)
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// wantsJSON reports whether the answer should be JSON: ?format=json or
// ?format=html decide; otherwise the Accept header, by quality, with HTML
// winning a tie. The credential route always answers errors in JSON.
func (s *server) wantsJSON(c *gin.Context) bool {
	if strings.HasSuffix(c.FullPath(), verify.CredentialSuffix) {
		return true
	}
	switch strings.ToLower(c.Query("format")) {
	case "json":
		return true
	case "html":
		return false
	}
	accept := c.Request.Header.Values("Accept")
	return quality(accept, "application/json") > quality(accept, "text/html")
}

// quality is the q-value an Accept header gives mediaType: that of the most
// specific range that matches it (type/subtype, then type/*, then */*), or 0.
func quality(accept []string, mediaType string) float64 {
	typ, _, _ := strings.Cut(mediaType, "/")
	best, q := 0, 0.0
	for _, header := range accept {
		for _, r := range strings.Split(header, ",") {
			params := strings.Split(r, ";")
			rng := strings.ToLower(strings.TrimSpace(params[0]))
			specificity := 0
			switch rng {
			case mediaType:
				specificity = 3
			case typ + "/*":
				specificity = 2
			case "*/*":
				specificity = 1
			}
			if specificity <= best {
				continue
			}
			rq := 1.0
			for _, p := range params[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					parsed, err := strconv.ParseFloat(v, 64)
					if err != nil || parsed < 0 || parsed > 1 {
						parsed = 0
					}
					rq = parsed
				}
			}
			best, q = specificity, rq
		}
	}
	return q
}
