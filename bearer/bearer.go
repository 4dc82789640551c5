// Package bearer checks "Authorization: Bearer <token>" headers for the
// private endpoints (the codec endpoint, the completions export).
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token is the digest of the token a request must present.
type Token [sha256.Size]byte

// New returns the Token for token.
func New(token string) Token {
	return sha256.Sum256([]byte(token))
}

// Matches reports whether r carries the token. Digests are compared, so the
// comparison takes the same time whatever the presented token's length and
// content. The scheme is matched regardless of case, as HTTP defines it.
func (t Token) Matches(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], t[:]) == 1
}
