package linkedin

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	certURL = "https://certificates.example.com/certificates/7KQ2M-X4D9R-0ZPV3-TNW8H"
	certID  = "7KQ2M-X4D9R-0ZPV3-TNW8H"
)

var issued = time.Date(2026, 3, 9, 14, 0, 0, 0, time.UTC)

// TestAddURLRoundTrips parses each link back with net/url, as LinkedIn
// does, and checks that every parameter arrives exactly as given and that
// nothing else does.
func TestAddURLRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		c    Certification
		want url.Values
	}{
		{
			name: "organization id",
			c:    Certification{Name: "New Student Orientation", OrganizationID: "1337", OrganizationName: "Acme Academy", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationId": {"1337"}},
		},
		{
			name: "organization name without an id",
			c:    Certification{Name: "New Student Orientation", OrganizationName: "Acme Academy", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {"Acme Academy"}},
		},
		{
			name: "an id that is not digits falls back to the name",
			c:    Certification{Name: "New Student Orientation", OrganizationID: "acme-academy", OrganizationName: "Acme Academy", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {"Acme Academy"}},
		},
		{
			name: "ampersand, hash and equals",
			c:    Certification{Name: "Q&A #1: a=b & c", OrganizationName: "R&D #2", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {"R&D #2"}},
		},
		{
			name: "quotes, plus and percent",
			c:    Certification{Name: `"C++" for 100% beginners' <course>`, OrganizationName: `O'Brien "&" Sons +1`, Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {`O'Brien "&" Sons +1`}},
		},
		{
			name: "escapes that must not be decoded twice",
			c:    Certification{Name: "%20 %2B %26 + ?x=1", OrganizationName: "%", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {"%"}},
		},
		{
			name: "Chinese",
			c:    Certification{Name: "机器学习入门 & 实践", OrganizationName: "北京大学", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {"北京大学"}},
		},
		{
			name: "Arabic",
			c:    Certification{Name: "مقدمة في البرمجة", OrganizationName: "أكاديمية أكمي", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {"أكاديمية أكمي"}},
		},
		{
			name: "Cyrillic and an emoji",
			c:    Certification{Name: "Основы безопасности 🎓", OrganizationName: "Академия «Акме»", Issued: issued, CertURL: certURL, CertID: certID},
			want: url.Values{"organizationName": {"Академия «Акме»"}},
		},
		{
			name: "nothing but the name",
			c:    Certification{Name: "Fire Safety"},
			want: url.Values{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link := AddURL(tt.c)
			u, err := url.Parse(link)
			require.NoError(t, err)
			require.Equal(t, "https", u.Scheme)
			require.Equal(t, "www.linkedin.com", u.Host)
			require.Equal(t, "/profile/add", u.Path)
			require.Empty(t, u.Fragment, "a # in a value must not start a fragment")
			require.True(t, strings.HasPrefix(u.RawQuery, "startTask=CERTIFICATION_NAME&name="), "startTask first: %s", u.RawQuery)

			want := url.Values{"startTask": {"CERTIFICATION_NAME"}, "name": {tt.c.Name}}
			for k, v := range tt.want {
				want[k] = v
			}
			if !tt.c.Issued.IsZero() {
				want["issueYear"], want["issueMonth"] = []string{"2026"}, []string{"3"}
			}
			if tt.c.CertURL != "" {
				want["certUrl"], want["certId"] = []string{certURL}, []string{certID}
			}
			require.Equal(t, want, u.Query())

			require.NotContains(t, u.RawQuery, "+", "a space is %20, which every reader takes for one")
			for _, r := range link {
				require.True(t, r > ' ' && r < 0x7f, "the link is printable ASCII: %q", link)
			}
		})
	}
}

func TestAddURLIssueMonth(t *testing.T) {
	tests := []struct {
		issued      time.Time
		year, month string
	}{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "2026", "1"},
		{time.Date(2026, 9, 30, 23, 59, 0, 0, time.UTC), "2026", "9"},
		{time.Date(2026, 10, 17, 20, 50, 53, 0, time.UTC), "2026", "10"},
		{time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC), "2025", "12"},
		// 20:00 on 31 December in New York is already January in UTC, the
		// zone the certificate is dated in.
		{time.Date(2025, 12, 31, 20, 0, 0, 0, time.FixedZone("EST", -5*60*60)), "2026", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.issued.String(), func(t *testing.T) {
			u, err := url.Parse(AddURL(Certification{Name: "Course", Issued: tt.issued}))
			require.NoError(t, err)
			require.Equal(t, tt.year, u.Query().Get("issueYear"))
			require.Equal(t, tt.month, u.Query().Get("issueMonth"))
		})
	}
}

func TestAddURLExact(t *testing.T) {
	require.Equal(t,
		"https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name=Q%26A%20%231&organizationId=1337&issueYear=2026&issueMonth=3"+
			"&certUrl=https%3A%2F%2Fcertificates.example.com%2Fcertificates%2F7KQ2M-X4D9R-0ZPV3-TNW8H&certId=7KQ2M-X4D9R-0ZPV3-TNW8H",
		AddURL(Certification{Name: "Q&A #1", OrganizationID: "1337", Issued: issued, CertURL: certURL, CertID: certID}))
}

func TestValidOrganizationID(t *testing.T) {
	for id, want := range map[string]bool{
		"1337":                  true,
		"0":                     true,
		"12345678901234567890":  true,
		"123456789012345678901": false,
		"":                      false,
		"acme-academy":          false,
		" 1337":                 false,
		"1337\n":                false,
		"-1":                    false,
		"1e3":                   false,
		"0x1F":                  false,
		"１２３":                   false, // full-width digits
	} {
		require.Equal(t, want, ValidOrganizationID(id), "%q", id)
	}
}
