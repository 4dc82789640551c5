package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/gin-gonic/gin"
)

// tokenParam names the path segment that carries the token, as in
// POST /webhooks/events/<token>; the query form is ?token=<token>.
const tokenParam = "token"

// secrets holds the accepted tokens as HMAC digests under a key made fresh
// for each server. Comparing digests takes the same time whatever the token
// and however long it is, so timing tells an attacker neither.
type secrets struct {
	key     []byte
	digests [][]byte
}

func newSecrets(tokens ...string) secrets {
	s := secrets{key: make([]byte, 32)}
	// crypto/rand.Read never fails: the runtime crashes first.
	_, _ = rand.Read(s.key)
	for _, t := range tokens {
		if t != "" {
			s.digests = append(s.digests, s.digest(t))
		}
	}
	return s
}

func (s secrets) enabled() bool { return len(s.digests) > 0 }

func (s secrets) digest(token string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(token))
	return m.Sum(nil)
}

// accepts reports whether token is one of the secrets. It compares against
// every secret, so which one matched does not show in the time taken.
func (s secrets) accepts(token string) bool {
	d := s.digest(token)
	match := 0
	for _, want := range s.digests {
		match |= subtle.ConstantTimeCompare(d, want)
	}
	return match == 1
}

// requireToken answers 401 unless the request carries a configured secret,
// in the path or in the query. Every token it carries must be right: a
// request that says two things is not believed. The token is never logged
// or echoed, and the log names the route pattern, never the URL. A request
// Admit let through has met it there.
func (s *Server) requireToken(c *gin.Context) {
	if !s.secrets.enabled() || admitted(c.Request) {
		c.Next()
		return
	}
	var tokens []string
	if t := c.Param(tokenParam); t != "" {
		tokens = append(tokens, t)
	}
	tokens = append(tokens, c.Request.URL.Query()[tokenParam]...)
	reason := ""
	switch {
	case len(tokens) == 0:
		reason = "missing"
	default:
		for _, t := range tokens {
			if !s.secrets.accepts(t) {
				reason = "wrong"
			}
		}
	}
	if reason == "" {
		c.Next()
		return
	}
	s.log.Warn("webhook token refused", "reason", reason, "route", c.FullPath(), "source", s.source(c))
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{
		"error": reason + " webhook token",
		"hint":  "post to the URL configured on the platform, which carries the token: " + Path + "/<token>",
	})
}
