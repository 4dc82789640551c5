package page

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/verify"
)

// linkedInStore is a memStore that also knows each course's LinkedIn page.
type linkedInStore struct {
	*memStore
	organizations map[string]string // by course id
}

func (s linkedInStore) LinkedInCertificate(ctx context.Context, code string) (verify.Certificate, string, error) {
	c, err := s.Certificate(ctx, code)
	return c, s.organizations[c.CourseID], err
}

var _ LinkedInLookup = linkedInStore{}

// linkedInHref is the "Add to LinkedIn" link of a page, unescaped as a
// browser reads it.
var linkedInHref = regexp.MustCompile(`<a class="linkedin" href="([^"]*)">Add to LinkedIn</a>`)

func linkedInOf(t *testing.T, body string) (url.Values, bool) {
	t.Helper()
	m := linkedInHref.FindAllStringSubmatch(body, -1)
	if len(m) == 0 {
		require.NotContains(t, body, "LinkedIn")
		return nil, false
	}
	require.Len(t, m, 1)
	u, err := url.Parse(html.UnescapeString(m[0][1]))
	require.NoError(t, err)
	require.Equal(t, "https://www.linkedin.com/profile/add", u.Scheme+"://"+u.Host+u.Path)
	return u.Query(), true
}

func TestAddToLinkedIn(t *testing.T) {
	h := newHarness(t, nil)
	page := base + "/certificates/" + h.valid.Code

	t.Run("valid", func(t *testing.T) {
		w := h.get(t, "/certificates/"+h.valid.Code)
		require.Equal(t, http.StatusOK, w.Code)
		q, ok := linkedInOf(t, w.Body.String())
		require.True(t, ok, "a valid certificate can be added to a profile")
		require.Equal(t, url.Values{
			"startTask":        {"CERTIFICATION_NAME"},
			"name":             {"Compilers for Everyone"},
			"organizationName": {"Example Academy"},
			"issueYear":        {"2026"},
			"issueMonth":       {"2"},
			"certUrl":          {page},
			"certId":           {h.valid.Code},
		}, q)

		m := decodeJSON(t, h.get(t, "/certificates/"+h.valid.Code+"?format=json"))
		u, err := url.Parse(m["linkedInUrl"].(string))
		require.NoError(t, err)
		require.Equal(t, q, u.Query(), "the JSON has the page's link")
	})

	t.Run("revoked", func(t *testing.T) {
		w := h.get(t, "/certificates/"+h.revoked.Code)
		require.Equal(t, http.StatusOK, w.Code)
		require.Contains(t, w.Body.String(), "was revoked")
		_, ok := linkedInOf(t, w.Body.String())
		require.False(t, ok, "a revoked certificate is not to be added")
		require.NotContains(t, decodeJSON(t, h.get(t, "/certificates/"+h.revoked.Code+"?format=json")), "linkedInUrl")
	})

	t.Run("typed in lower case", func(t *testing.T) {
		q, ok := linkedInOf(t, h.get(t, "/certificates/"+strings.ToLower(h.valid.Code)).Body.String())
		require.True(t, ok)
		require.Equal(t, page, q.Get("certUrl"), "the canonical page")
		require.Equal(t, h.valid.Code, q.Get("certId"))
	})

	t.Run("not found", func(t *testing.T) {
		_, ok := linkedInOf(t, h.get(t, "/certificates/"+h.keys.Code("unknown")).Body.String())
		require.False(t, ok)
	})

	t.Run("default issuer", func(t *testing.T) {
		c := h.valid
		c.Issuer = ""
		h.store.certs[c.Code] = c
		t.Cleanup(func() { h.store.certs[c.Code] = h.valid })
		q, _ := linkedInOf(t, h.get(t, "/certificates/"+c.Code).Body.String())
		require.Equal(t, "Default Issuer", q.Get("organizationName"), "the issuer the page shows")
	})
}

func TestAddToLinkedInNamesTheCoursesPage(t *testing.T) {
	var store linkedInStore
	h := newHarness(t, func(hd *Handler) {
		store = linkedInStore{memStore: hd.Lookup.(*memStore), organizations: map[string]string{}}
		hd.Lookup = store
	})
	store.organizations[h.valid.CourseID] = "1337"
	q, ok := linkedInOf(t, h.get(t, "/certificates/"+h.valid.Code).Body.String())
	require.True(t, ok)
	require.Equal(t, "1337", q.Get("organizationId"))
	require.NotContains(t, q, "organizationName")
	require.Equal(t, h.valid.Code, h.store.lastProbe(), "one lookup")

	// A stored id that is not one (a row written by hand) names the issuer.
	store.organizations[h.valid.CourseID] = `1" onclick="x`
	q, _ = linkedInOf(t, h.get(t, "/certificates/"+h.valid.Code).Body.String())
	require.Equal(t, "Example Academy", q.Get("organizationName"))
	require.NotContains(t, q, "organizationId")

	// The revoked certificate's course has a page too, and still no link.
	store.organizations[h.revoked.CourseID] = "1337"
	_, ok = linkedInOf(t, h.get(t, "/certificates/"+h.revoked.Code).Body.String())
	require.False(t, ok)
}

func TestAddToLinkedInHostileTitle(t *testing.T) {
	for _, title := range []string{
		`"><script>alert(1)</script><a href="javascript:alert(2)`,
		`' onmouseover='alert(1)' &amp; #frag ?q=1&name=x`,
		"Основы & 机器学习 & مقدمة \u202e",
	} {
		t.Run(title, func(t *testing.T) {
			h := newHarness(t, nil)
			c := h.valid
			c.CourseTitle, c.Issuer = title, title+" & Co"
			h.store.certs[c.Code] = c
			body := h.get(t, "/certificates/"+c.Code).Body.String()
			require.NotContains(t, body, "<script")
			require.NotContains(t, body, `<a href="javascript`)
			q, ok := linkedInOf(t, body)
			require.True(t, ok)
			require.Equal(t, event.Clean(title), q.Get("name"), "the title as the page shows it")
			require.Equal(t, event.Clean(title+" & Co"), q.Get("organizationName"))
		})
	}
}
