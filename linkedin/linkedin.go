// Package linkedin builds the "Add to LinkedIn" link of a certificate: a link
// to LinkedIn's Add to Profile form, filled in with the certification, so a
// learner adds it to their profile in two clicks and anyone who reads the
// profile can follow it back to the verification page.
package linkedin

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// addURL is LinkedIn's Add to Profile form.
const addURL = "https://www.linkedin.com/profile/add"

// organizationID is the shape of a LinkedIn organization (company page) id:
// LinkedIn numbers its pages, and shows the number in the page's admin URL
// (linkedin.com/company/1337/admin). Twenty digits is far above any of them.
var organizationID = regexp.MustCompile(`^[0-9]{1,20}$`)

// ValidOrganizationID reports whether id can be a LinkedIn organization id:
// digits only. A page's vanity name ("acme-academy") is not one; LinkedIn
// would drop it and leave the learner to pick the organisation by hand.
func ValidOrganizationID(id string) bool {
	return organizationID.MatchString(id)
}

// Certification is what the learner adds to their profile.
type Certification struct {
	// Name is the certification's name: the course as the certificate
	// states it.
	Name string
	// OrganizationID is the issuer's LinkedIn page, which the profile then
	// links and shows with its logo. When it is empty or not a valid id,
	// OrganizationName stands in, as plain text.
	OrganizationID   string
	OrganizationName string
	// Issued dates the certification; only its year and month (in UTC, as
	// the certificate dates it) go to LinkedIn. Zero leaves both out.
	Issued time.Time
	// Expires is when the certification lapses, sent as its year and
	// month the same way; zero (it never expires) leaves them out.
	Expires time.Time
	// CertURL is where the credential can be checked (the verification
	// page), CertID the credential's id (the verification code).
	CertURL, CertID string
}

// AddURL returns the Add to Profile link for c. The parameters are the ones
// LinkedIn documents for its Add to Profile button (Add to Profile for
// certifications, addtoprofile.linkedin.com): startTask=CERTIFICATION_NAME,
// name, organizationId or organizationName, issueYear, issueMonth (a number
// from 1 to 12, no leading zero), expirationYear and expirationMonth
// likewise, certUrl and certId. Empty values are left
// out, so LinkedIn asks the learner for them.
//
// Every value is percent-encoded as a query component, with a space as %20
// rather than +, which every reader of a URL takes for a space: a name with
// &, #, +, %, quotes or any script arrives as written, and the link is plain
// ASCII, safe in an href and in a text email.
func AddURL(c Certification) string {
	params := []param{{"startTask", "CERTIFICATION_NAME"}, {"name", c.Name}}
	if ValidOrganizationID(c.OrganizationID) {
		params = append(params, param{"organizationId", c.OrganizationID})
	} else {
		params = append(params, param{"organizationName", c.OrganizationName})
	}
	if !c.Issued.IsZero() {
		issued := c.Issued.UTC()
		params = append(params,
			param{"issueYear", strconv.Itoa(issued.Year())},
			param{"issueMonth", strconv.Itoa(int(issued.Month()))})
	}
	if !c.Expires.IsZero() {
		expires := c.Expires.UTC()
		params = append(params,
			param{"expirationYear", strconv.Itoa(expires.Year())},
			param{"expirationMonth", strconv.Itoa(int(expires.Month()))})
	}
	params = append(params, param{"certUrl", c.CertURL}, param{"certId", c.CertID})

	var b strings.Builder
	b.WriteString(addURL)
	sep := byte('?')
	for _, p := range params {
		if p.value == "" {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(escape(p.value))
	}
	return b.String()
}

// param is one query parameter; a list of them keeps LinkedIn's order,
// startTask first, where url.Values would sort.
type param struct{ key, value string }

// escape is url.QueryEscape with %20 for a space. QueryEscape writes a
// literal + as %2B, so every + it leaves stands for a space.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
