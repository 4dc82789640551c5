package mail

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/linkedin"
)

// hrefs are the links of an HTML part, unescaped as a browser reads them.
var hrefs = regexp.MustCompile(`<a href="([^"]*)">`)

func linkedInLink(name string) string {
	return linkedin.AddURL(linkedin.Certification{
		Name: name, OrganizationName: "Acme Academy", Issued: time.Date(2019, 10, 17, 0, 0, 0, 0, time.UTC),
		CertURL: "https://certificates.example.com/certificates/7KQ2M-X4D9R-0ZPV3-TNW8H", CertID: "7KQ2M-X4D9R-0ZPV3-TNW8H",
	})
}

func TestBuildLinkedIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, course string
	}{
		{"plain", "New Student Orientation"},
		{"breaks out of the attribute", `"><script>alert(1)</script><a href="javascript:alert(2)`},
		{"breaks out with single quotes and entities", `' onmouseover='alert(1)' &quot; &amp;`},
		{"query and fragment characters", "Q&A #1: 100% + more?x=1&name=evil"},
		{"other scripts", "机器学习 · مقدمة · Основы"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := sampleMessage()
			m.CourseTitle = tt.course
			m.Issuer = "Acme Academy"
			m.LinkedInURL = linkedInLink(tt.course)
			w := decode(t, Build(sampleFrom, m))

			body := contentOf(t, w, "text/html")
			links := hrefs.FindAllStringSubmatch(body, -1)
			require.Len(t, links, 1, "one link, whatever the name: %s", body)
			require.Equal(t, 1, strings.Count(body, "<a "))
			require.NotContains(t, body, "<script")
			require.Contains(t, body, ">Add to LinkedIn</a></p>\n<p>— Acme Academy</p>")
			href := html.UnescapeString(links[0][1])
			require.Equal(t, m.LinkedInURL, href, "the link arrives as built")
			u, err := url.Parse(href)
			require.NoError(t, err)
			require.Equal(t, "www.linkedin.com", u.Host)
			require.Equal(t, tt.course, u.Query().Get("name"), "the name survives, encoded")
			require.Equal(t, "Acme Academy", u.Query().Get("organizationName"))

			text := contentOf(t, w, "text/plain")
			require.Contains(t, text, "\nCertificate ID: "+sampleEventID+"\n\nAdd it to your LinkedIn profile: "+m.LinkedInURL+"\n\n— Acme Academy\n")
		})
	}
}

func TestBuildLinkedInOnlyWhenSet(t *testing.T) {
	t.Parallel()
	for name, link := range map[string]string{
		"unset":       "",
		"javascript":  "javascript:alert(1)",
		"http":        "http://www.linkedin.com/profile/add?name=x",
		"relative":    "/profile/add?name=x",
		"line break":  "https://www.linkedin.com/profile/add?name=x\r\nBcc: eve@example.com",
		"space":       "https://www.linkedin.com/profile/add?name=a b",
		"no host":     "https:///profile/add",
		"not a URL":   "https://www.linkedin.com/%zz",
		"only spaces": "   ",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := sampleMessage()
			m.LinkedInURL = link
			w := decode(t, Build(sampleFrom, m))
			for _, typ := range []string{"text/plain", "text/html"} {
				body := contentOf(t, w, typ)
				require.NotContains(t, body, "LinkedIn", typ)
				require.NotContains(t, body, "<a ", typ)
			}
			want := decode(t, Build(sampleFrom, sampleMessage()))
			require.Equal(t, want.Content, w.Content, "the email is the one without a link")
		})
	}
}

// TestBuildLinkedInRawURLIsEscaped: even a link that did not come from
// linkedin.AddURL cannot leave its attribute, since html/template escapes it.
func TestBuildLinkedInRawURLIsEscaped(t *testing.T) {
	t.Parallel()
	m := sampleMessage()
	m.LinkedInURL = `https://www.linkedin.com/profile/add?name="><script>alert(1)</script>'`
	body := contentOf(t, decode(t, Build(sampleFrom, m)), "text/html")
	require.NotContains(t, body, "<script")
	require.Len(t, hrefs.FindAllStringSubmatch(body, -1), 1)
	require.Equal(t, 1, strings.Count(body, "<a "))
	require.Contains(t, body, `%22%3e%3cscript%3ealert%281%29%3c/script%3e%27">Add to LinkedIn</a>`)
}
