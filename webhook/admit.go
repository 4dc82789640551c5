package webhook

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Admit puts the router's body-free checks in front of next, where an event
// request waits for its turn (the starter's pool of workers): the source
// (403), the route (404), the token (401), and the content type, encoding
// and declared size (415, 413). A request they refuse is
// answered at once, with the router's own status, body, headers, log line
// and metrics, instead of waiting for a worker only to be refused there. A
// request they pass goes on to next unanswered and uncounted, marked so that
// the router does not check it again and counts it once, when it answers.
//
// It is meant for the event requests, POST Path and below it: on another
// route (the probes, the public pages) it would refuse what the router lets
// through.
func (s *Server) Admit(next http.Handler) http.Handler {
	e := s.engine(s.admit)
	s.notFound(e)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &precheck{ResponseWriter: w}
		e.ServeHTTP(p, r.WithContext(context.WithValue(r.Context(), precheckKey{}, p)))
		if p.admitted {
			// From r, not the pre-check's request: the router must not
			// take this for a pre-check.
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), admittedKey{}, true)))
		}
	})
}

// precheckKey holds, in the context of a request in Admit's checks, its
// *precheck.
type precheckKey struct{}

// admittedKey marks a request Admit has checked and let through.
type admittedKey struct{}

// precheck is the ResponseWriter of a request in Admit's checks. It passes a
// refusal through, and drops the 200 that gin writes for a request whose
// handlers wrote nothing: a request let through is answered by the router.
type precheck struct {
	http.ResponseWriter
	admitted bool
}

func (p *precheck) WriteHeader(code int) {
	if !p.admitted {
		p.ResponseWriter.WriteHeader(code)
	}
}

// admit ends Admit's checks: a request whose headers rule it out is
// answered here, and one that passes them all is let through, unanswered.
// The router checks the headers again when it reads the body; they pass.
func (s *Server) admit(c *gin.Context) {
	if s.refuseHeaders(c) {
		return
	}
	c.Request.Context().Value(precheckKey{}).(*precheck).admitted = true
}

// admitted reports whether Admit has run the source and token checks on r
// and let it through, so that the router need not run them again.
func admitted(r *http.Request) bool {
	return r.Context().Value(admittedKey{}) != nil
}

// letThrough reports whether r is in Admit's checks and has passed them:
// the router counts it when it answers, so Admit's metrics do not.
func letThrough(r *http.Request) bool {
	p, _ := r.Context().Value(precheckKey{}).(*precheck)
	return p != nil && p.admitted
}
