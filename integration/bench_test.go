package integration

import (
	"net/http"
	"testing"
)

// BenchmarkWebhook measures how long the platform waits for an answer,
// through the real handler and a real dev server: a new event (a workflow
// start) and a re-delivery (a refused start), side by side.
// Run with `make bench`.
func BenchmarkWebhook(b *testing.B) {
	b.Run("new-event", func(b *testing.B) {
		s := newStack(b)
		bodies := make([][]byte, 0, 1024)
		for b.Loop() {
			if len(bodies) == 0 {
				b.StopTimer()
				_, bodies = samples(b, 1024)
				b.StartTimer()
			}
			body := bodies[len(bodies)-1]
			bodies = bodies[:len(bodies)-1]
			if st, _, err := postStatus(s.Server.URL, body); err != nil || st != http.StatusAccepted {
				b.Fatalf("status %d, error %v", st, err)
			}
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		s := newStack(b)
		_, bodies := samples(b, 1)
		if st, _, err := postStatus(s.Server.URL, bodies[0]); err != nil || st != http.StatusAccepted {
			b.Fatalf("status %d, error %v", st, err)
		}
		for b.Loop() {
			if st, _, err := postStatus(s.Server.URL, bodies[0]); err != nil || st != http.StatusOK {
				b.Fatalf("status %d, error %v", st, err)
			}
		}
	})
}
