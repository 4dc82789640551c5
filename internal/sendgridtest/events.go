package sendgridtest

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coursehook/coursehook/sgevents"
)

// reporter posts SendGrid's Event Webhook for the accepted messages.
type reporter struct {
	url   string
	key   *ecdsa.PrivateKey
	delay time.Duration

	mu     sync.Mutex
	posted int
	failed int
}

// ReportEvents makes the server report each message it accepts to
// SendGrid's Event Webhook at url, as SendGrid does: a "processed" event per
// recipient, with the message's custom args and its sg_message_id, in a
// batch signed with key, delay after the answer (SendGrid batches its
// events, seconds apart). A refused post is retried, as SendGrid retries.
func (s *Server) ReportEvents(url string, key *ecdsa.PrivateKey, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = &reporter{url: url, key: key, delay: delay}
}

// EventsPosted counts the batches the Event Webhook took (2xx), and those
// it refused every time.
func (s *Server) EventsPosted() (posted, failed int) {
	s.mu.Lock()
	r := s.events
	s.mu.Unlock()
	if r == nil {
		return 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posted, r.failed
}

// report posts the events of one accepted message, in the background.
func (s *Server) report(id string, body []byte) {
	s.mu.Lock()
	r := s.events
	s.mu.Unlock()
	if r == nil {
		return
	}
	var m wireMail
	if json.Unmarshal(body, &m) != nil {
		return
	}
	var events []map[string]any
	for i, p := range m.Personalizations {
		for _, to := range p.To {
			e := map[string]any{
				"email": to.Email, "timestamp": time.Now().Unix(), "event": sgevents.TypeProcessed,
				"sg_event_id":   fmt.Sprintf("%s-%d-processed", id, i),
				"sg_message_id": id + ".filterdrecv-sendgridtest-1-0",
				"smtp-id":       "<" + id + "@sendgridtest>",
			}
			for k, v := range m.CustomArgs {
				e[k] = v
			}
			for k, v := range p.CustomArgs {
				e[k] = v
			}
			events = append(events, e)
		}
	}
	batch, err := json.Marshal(events)
	if err != nil {
		return
	}
	go r.post(batch)
}

func (r *reporter) post(batch []byte) {
	// The stand-in's model of SendGrid's batching interval, not a wait for
	// anything the test does.
	time.Sleep(r.delay)
	for range 5 {
		sig, ts, err := sgevents.SignNow(r.key, batch, time.Now())
		if err == nil {
			req, _ := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(batch))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(sgevents.SignatureHeader, sig)
			req.Header.Set(sgevents.TimestampHeader, ts)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					r.mu.Lock()
					r.posted++
					r.mu.Unlock()
					return
				}
			}
		}
		time.Sleep(time.Second)
	}
	r.mu.Lock()
	r.failed++
	r.mu.Unlock()
}
