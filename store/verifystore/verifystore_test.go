package verifystore

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/internal/pgtest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/verify/page"
	"github.com/coursehook/coursehook/workflows"
)

// databases are the two the store runs on, each a fresh one per call.
var databases = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "coursehook.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
}

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

var completedAt = time.Date(2026, 5, 20, 14, 3, 27, 512345678, time.UTC)

// certify stores a completion whose certificate email went out.
func certify(t *testing.T, s *store.Store, c store.Completion) {
	t.Helper()
	c.EventType, c.LearnerEmail, c.CourseID, c.CourseTitle = "courseCompletion", "zoe@example.de", "c-1", "Über-Grundlagen"
	c.CompletedAt, c.ReceivedAt, c.Payload = completedAt, completedAt, []byte(`{}`)
	_, _, err := s.Insert(t.Context(), c, store.StatusRecorded)
	require.NoError(t, err)
	require.NoError(t, s.RecordOutcome(t.Context(), store.Outcome{EventID: c.EventID, Status: store.StatusCompleted, Receipts: workflows.Receipts{"email": {ID: "m-" + c.EventID, SHA256: "sha-" + c.EventID}}}))
}

func TestLookup(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			testLookup(t, open(t, db.url(t)))
		})
	}
}

func testLookup(t *testing.T, s *store.Store) {
	ctx := t.Context()
	const code = "7KQ2M-X4D9R-0ZPV3-TNW8H"
	certify(t, s, store.Completion{EventID: "routed", VerificationCode: code, FirstName: "  Zoë\u200b ", LastName: "\tMüller ",
		Route: `{"slack":{"enabled":true},"certificate":{"issuer":" Acme\nAcademy "}}`})

	lookup := Lookup{Store: s, DefaultIssuer: "Coursehook Academy"}
	got, err := lookup.Certificate(ctx, code)
	require.NoError(t, err)
	require.Equal(t, verify.Certificate{
		Code:              code,
		LearnerName:       "Zoë Müller",
		LearnerEmail:      verify.NewEmail("zoe@example.de"),
		CourseID:          "c-1",
		CourseTitle:       "Über-Grundlagen",
		CompletedAt:       completedAt.Truncate(time.Microsecond),
		Issuer:            "Acme Academy",
		CertificateSHA256: "sha-routed",
	}, got)
	require.False(t, got.Revoked())

	// No issuer in the route, or no route: the default issuer. No name: no
	// name, rather than the email address.
	for i, route := range []string{`{"certificate":{}}`, ``} {
		c := store.Completion{EventID: fmt.Sprintf("plain-%d", i), VerificationCode: fmt.Sprintf("%d0000-00000-00000-00000", i), LastName: " ", Route: route}
		certify(t, s, c)
		got, err := lookup.Certificate(ctx, c.VerificationCode)
		require.NoError(t, err)
		require.Equal(t, "Coursehook Academy", got.Issuer, "route %q", route)
		require.Empty(t, got.LearnerName)
		got, err = Lookup{Store: s}.Certificate(ctx, c.VerificationCode)
		require.NoError(t, err)
		require.Empty(t, got.Issuer, "left to the handler's IssuerName")
	}

	// Revoked: the time and the category, never the note.
	revokedAt := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	_, _, err = s.Revoke(ctx, "routed", string(verify.ReasonSuperseded), "see ticket 42", "ops", revokedAt)
	require.NoError(t, err)
	got, err = lookup.Certificate(ctx, code)
	require.NoError(t, err)
	require.True(t, got.Revoked())
	require.Equal(t, revokedAt, got.RevokedAt)
	require.Equal(t, verify.ReasonSuperseded, got.Reason)
	require.NotContains(t, fmt.Sprintf("%+v %#v", got, got), "ticket 42")
	require.NotContains(t, fmt.Sprintf("%+v %#v", got, got), "zoe@example.de")

	// Unknown codes, and events without a certificate, are not found.
	_, _, err = s.Insert(ctx, store.Completion{EventID: "at-work", VerificationCode: "99999-00000-00000-00000",
		CompletedAt: completedAt, ReceivedAt: completedAt, Payload: []byte(`{}`)}, store.StatusRecorded)
	require.NoError(t, err)
	for _, c := range []string{"99999-99999-99999-99999", "99999-00000-00000-00000", ""} {
		_, err = lookup.Certificate(ctx, c)
		require.ErrorIs(t, err, verify.ErrNotFound, "%q", c)
	}

	// A stored route that does not parse must not pass for the default issuer.
	certify(t, s, store.Completion{EventID: "broken-route", VerificationCode: "55555-55555-55555-55555", Route: `{"certificate":`})
	_, err = lookup.Certificate(ctx, "55555-55555-55555-55555")
	require.Error(t, err)
	require.NotErrorIs(t, err, verify.ErrNotFound)
	require.ErrorContains(t, err, "broken-route")
}

// TestStoreTakesExactlyTheCanonicalCodes: the store takes a code exactly
// when verify.Normalize gives it back unchanged.
func TestStoreTakesExactlyTheCanonicalCodes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "coursehook.db"))
	keys, err := verify.NewKeys([]byte("0123456789abcdef0123456789abcdef-test"))
	require.NoError(t, err)
	codes := []string{
		"7kq2m-x4d9r-0zpv3-tnw8h", "7KQ2MX4D9R0ZPV3TNW8H", " 7KQ2M-X4D9R-0ZPV3-TNW8H", "7KQ2M-X4D9R-0ZPV3-TNW8H-",
		"7KQ2M-X4D9R-0ZPV3-TNW8I", "7KQ2M-X4D9R-0ZPV3-TNW8L", "7KQ2M-X4D9R-0ZPV3-TNW8O", "7KQ2M-X4D9R-0ZPV3-TNW8U",
		"7KQ2M X4D9R 0ZPV3 TNW8H", "7KQ2-MX4D9-R0ZPV-3TNW8H", "7KQ2M-X4D9R-0ZPV3-TNW8É", "7KQ2M-X4D9R-0ZPV3-TNW8",
		"-----------------------", "7KQ2M.X4D9R.0ZPV3.TNW8H", "7KQ2M-X4D9R-0ZPV3-TNW8\x00",
	}
	for i := range 200 {
		code := keys.Code(fmt.Sprintf("event-%d", i))
		// Each valid code, and the same with one character swapped for each
		// byte that could be confused with it.
		codes = append(codes, code)
		for _, b := range []byte{'-', 'A', 'a', 'I', 'U', '0', ' ', 'Z' + 1} {
			p := i % len(code)
			codes = append(codes, code[:p]+string(b)+code[p+1:])
		}
	}
	seen := map[string]bool{}
	for i, code := range codes {
		if seen[code] {
			continue
		}
		seen[code] = true
		canonical, ok := verify.Normalize(code)
		want := ok && canonical == code
		_, _, err := s.Insert(t.Context(), store.Completion{EventID: fmt.Sprintf("e%d", i), VerificationCode: code,
			CompletedAt: completedAt, ReceivedAt: completedAt, Payload: []byte(`{}`)}, store.StatusRecorded)
		if want {
			require.NoError(t, err, "%q", code)
		} else {
			require.ErrorIs(t, err, store.ErrInvalid, "%q", code)
		}
	}
}

// The page asks the store for the course's LinkedIn page in the same lookup.
var _ page.LinkedInLookup = Lookup{}

func TestLinkedInCertificate(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			testLinkedInCertificate(t, open(t, db.url(t)))
		})
	}
}

func testLinkedInCertificate(t *testing.T, s *store.Store) {
	ctx := t.Context()
	lookup := Lookup{Store: s, DefaultIssuer: "Coursehook Academy"}

	// The route as the worker stores it, from courses.Route itself.
	withPage, err := json.Marshal(courses.Route{Certificate: courses.CertificateRoute{Issuer: "Acme Academy"}, LinkedIn: courses.LinkedInRoute{OrganizationID: "1337"}})
	require.NoError(t, err)
	withoutPage, err := json.Marshal(courses.Route{Certificate: courses.CertificateRoute{Issuer: "Acme Academy"}})
	require.NoError(t, err)
	require.NotContains(t, string(withoutPage), "linkedin", "a route without a page is stored as before")

	tests := []struct {
		name, route, organizationID, issuer string
	}{
		{"a page", string(withPage), "1337", "Acme Academy"},
		{"no page", string(withoutPage), "", "Acme Academy"},
		{"a route from before LinkedIn", `{"slack":{"enabled":true},"certificate":{"issuer":"Acme Academy"}}`, "", "Acme Academy"},
		{"no route", ``, "", "Coursehook Academy"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := fmt.Sprintf("%d1111-22222-33333-44444", i)
			certify(t, s, store.Completion{EventID: fmt.Sprintf("linkedin-%d", i), VerificationCode: code, FirstName: "Zoë", Route: tt.route})
			c, organizationID, err := lookup.LinkedInCertificate(ctx, code)
			require.NoError(t, err)
			require.Equal(t, tt.organizationID, organizationID)
			require.Equal(t, tt.issuer, c.Issuer)
			same, err := lookup.Certificate(ctx, code)
			require.NoError(t, err)
			require.Equal(t, c, same, "the same certificate either way")
		})
	}

	_, _, err = lookup.LinkedInCertificate(ctx, "99999-99999-99999-99999")
	require.ErrorIs(t, err, verify.ErrNotFound)
	certify(t, s, store.Completion{EventID: "linkedin-broken", VerificationCode: "88888-88888-88888-88888", Route: `{"linkedin":`})
	_, _, err = lookup.LinkedInCertificate(ctx, "88888-88888-88888-88888")
	require.Error(t, err)
	require.NotErrorIs(t, err, verify.ErrNotFound)
}

// TestLookupSaysUntilWhenAndWhatRenewedIt: the expiry date comes from the
// row, and a renewed certificate names its renewal by the renewal's code,
// never by its event id.
func TestLookupSaysUntilWhenAndWhatRenewedIt(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, db.url(t))
			expires := completedAt.AddDate(1, 0, 0).Truncate(time.Microsecond)
			const oldCode, newCode = "7KQ2M-X4D9R-0ZPV3-TNW8H", "8KQ2M-X4D9R-0ZPV3-TNW8H"
			certify(t, s, store.Completion{EventID: "old", VerificationCode: oldCode, ExpiresAt: expires})
			l := Lookup{Store: s, DefaultIssuer: "Academy"}
			c, err := l.Certificate(t.Context(), oldCode)
			require.NoError(t, err)
			require.Equal(t, expires, c.ExpiresAt)
			require.False(t, c.Superseded)

			// The learner completes the course again, later.
			renewal := store.Completion{EventID: "renewal", EventType: "courseCompletion", LearnerEmail: "ZOE@example.de", CourseID: "c-1",
				CourseTitle: "Über-Grundlagen", CompletedAt: completedAt.Add(time.Hour), ReceivedAt: completedAt.Add(time.Hour),
				Payload: []byte(`{}`), VerificationCode: newCode, ExpiresAt: expires.Add(time.Hour)}
			_, _, err = s.Insert(t.Context(), renewal, store.StatusRecorded)
			require.NoError(t, err)
			c, err = l.Certificate(t.Context(), oldCode)
			require.NoError(t, err)
			require.True(t, c.Superseded)
			require.Equal(t, newCode, c.SupersededBy)
		})
	}
}

// TestRenderPDFDrawsWithTheRowsRenderer: the download re-draws each
// certificate with the renderer version its row records, byte for byte
// what that version draws for the row's event, so a row recorded before
// version 2 still gets the version 1 file its learner was emailed.
func TestRenderPDFDrawsWithTheRowsRenderer(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, db.url(t))
			r := Renderer{Store: s, BaseURL: "https://verify.example.com"}
			codes := map[int]string{certificate.Renderer1: "7KQ2M-X4D9R-0ZPV3-TNW8H", certificate.Renderer2: "1B3D5-F7H9K-MNPQR-STVWX"}
			for v, code := range codes {
				id := fmt.Sprintf("evt-v%d", v)
				body, err := json.Marshal(map[string]any{"id": id, "event": "courseCompletion", "timestamp": "2026-05-20T14:03:27Z",
					"user": "zoe@example.de", "notifiable_id": "c-1", "title": "Über-Grundlagen"})
				require.NoError(t, err)
				// The page renders from the event the row holds.
				_, _, err = s.Insert(t.Context(), store.Completion{EventID: id, EventType: "courseCompletion", LearnerEmail: "zoe@example.de",
					CourseID: "c-1", CourseTitle: "Über-Grundlagen", CompletedAt: completedAt, ReceivedAt: completedAt, Payload: body,
					VerificationCode: code, Renderer: v}, store.StatusRecorded)
				require.NoError(t, err)
				require.NoError(t, s.RecordOutcome(t.Context(), store.Outcome{EventID: id, Status: store.StatusCompleted,
					Receipts: workflows.Receipts{"email": {ID: "m-" + id, SHA256: "sha-" + id}}}))
			}
			for v, code := range codes {
				got, err := r.RenderPDF(t.Context(), verify.Certificate{Code: code})
				require.NoError(t, err)
				rec, err := s.CertificateByCode(t.Context(), code)
				require.NoError(t, err)
				require.Equal(t, v, rec.Renderer)
				e, err := rec.Event()
				require.NoError(t, err)
				d, err := certificate.ForEvent(e.Brief(), rec.ReceivedAt, nil, nil,
					&certificate.Verification{Code: code, URL: verify.PageURL(r.BaseURL, code)}, time.Time{})
				require.NoError(t, err)
				want, err := certificate.RenderVersion(v, d)
				require.NoError(t, err)
				require.Equal(t, want, got, "renderer %d", v)
				other, err := certificate.RenderVersion(3-v, d)
				require.NoError(t, err)
				require.NotEqual(t, other, got, "the versions draw different bytes, so the check can fail")
			}
		})
	}
}
