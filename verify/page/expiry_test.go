package page

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// expiring serves the harness's valid certificate with an expiry date a
// day after the harness's clock, and returns its code.
func (h *harness) expiring() string {
	c := h.valid
	c.Code = h.keys.Code("expiring-event")
	c.ExpiresAt = h.now.Add(24 * time.Hour)
	h.store.certs[c.Code] = c
	return c.Code
}

func TestAValidCertificateSaysUntilWhen(t *testing.T) {
	h := newHarness(t, nil)
	code := h.expiring()
	until := h.now.Add(24 * time.Hour).UTC()
	body := h.get(t, "/certificates/"+code).Body.String()
	require.Contains(t, body, `This certificate is valid until <time datetime="`+until.Format(time.RFC3339)+`">`+until.Format("2 January 2006")+`</time>.`)
	require.Contains(t, body, "<dt>Valid until</dt>")
	facts := decodeJSON(t, h.get(t, "/certificates/"+code, "Accept", "application/json"))
	require.Equal(t, "valid", facts["status"])
	require.Equal(t, until.Format(time.RFC3339), facts["expiresAt"])
	require.Contains(t, facts["linkedInUrl"], "&expirationYear="+until.Format("2006")+"&expirationMonth="+strings.TrimLeft(until.Format("01"), "0"),
		"LinkedIn is told when it lapses")
}

func TestAnExpiredCertificateSaysSo(t *testing.T) {
	h := newHarness(t, nil)
	code := h.expiring()
	until := h.now.Add(24 * time.Hour).UTC()
	h.now = until // the date has come
	w := h.get(t, "/certificates/"+code)
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	require.Contains(t, body, `class="banner expired">This certificate expired on <time datetime="`+until.Format(time.RFC3339)+`">`)
	require.Contains(t, body, "It is no longer valid.")
	require.NotContains(t, body, "is valid")
	require.Contains(t, body, ".pdf\"", "the file the learner got can still be checked")
	facts := decodeJSON(t, h.get(t, "/certificates/"+code, "Accept", "application/json"))
	require.Equal(t, "expired", facts["status"])
	require.Equal(t, until.Format(time.RFC3339), facts["expiresAt"])
	require.NotContains(t, facts, "linkedInUrl", "a lapsed certificate is not to be added to a profile")
	require.Contains(t, facts, "credentialUrl", "its credential, whose validUntil has passed, still says what it was")
	require.Equal(t, http.StatusOK, h.get(t, "/certificates/"+code+"/credential").Code)
}

func TestARevokedCertificateStaysRevokedAfterItsDate(t *testing.T) {
	h := newHarness(t, nil)
	c := h.revoked
	c.ExpiresAt = h.now.Add(-time.Hour)
	h.store.certs[c.Code] = c
	facts := decodeJSON(t, h.get(t, "/certificates/"+c.Code, "Accept", "application/json"))
	require.Equal(t, "revoked", facts["status"])
	require.Contains(t, h.get(t, "/certificates/"+c.Code).Body.String(), "was revoked")
}

func TestASupersededCertificateLinksItsRenewal(t *testing.T) {
	h := newHarness(t, nil)
	c := h.valid
	c.Code = h.keys.Code("old-event")
	renewal := h.keys.Code("renewal-event")
	c.ExpiresAt, c.Superseded, c.SupersededBy = h.now.Add(-time.Hour), true, renewal
	h.store.certs[c.Code] = c
	body := h.get(t, "/certificates/"+c.Code).Body.String()
	require.Contains(t, body, `class="banner superseded">This certificate was superseded: the learner completed the course again and holds <a href="`+
		base+"/certificates/"+renewal+`">a newer certificate (`+renewal+`)</a>.`)
	require.NotContains(t, body, "is valid")
	facts := decodeJSON(t, h.get(t, "/certificates/"+c.Code, "Accept", "application/json"))
	require.Equal(t, "superseded", facts["status"], "renewed outranks expired")
	require.Equal(t, renewal, facts["supersededBy"])
	require.Equal(t, base+"/certificates/"+renewal, facts["supersededByUrl"])
	require.NotContains(t, facts, "linkedInUrl")
}
