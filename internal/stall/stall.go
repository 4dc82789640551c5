// Package stall lets the Slack and SendGrid stand-ins answer late, to open
// the window in which a provider has a message and its caller has no answer.
package stall

import (
	"net/http"
	"time"
)

// Wait waits d before the handler answers. When the client hangs up or the
// server closes first, it drops the connection without an answer, as a
// stalled server would; returning from the handler would send an empty 200.
func Wait(r *http.Request, d time.Duration, closed <-chan struct{}) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return
	case <-r.Context().Done():
	case <-closed:
	}
	panic(http.ErrAbortHandler)
}
