package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
)

// cleanups is the testing.TB the stand-ins take outside a test: they only
// mark helpers and register their Close, which Close here runs. Any other
// method of testing.TB would panic on the nil embedded interface; the bench
// calls none.
type cleanups struct {
	testing.TB
	mu  sync.Mutex
	fns []func()
}

func (c *cleanups) Helper() {}

func (c *cleanups) Cleanup(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, f)
}

// Close runs the registered functions, last first, as testing does.
func (c *cleanups) Close() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// slackCounts counts the stand-in's accepted messages by the event id in
// their metadata, in one pass (MessagesFor would read every message once per
// event).
func slackCounts(s *slacktest.Server) map[string]int {
	counts := map[string]int{}
	for _, p := range s.Messages() {
		if id := slackEventID(p.Metadata); id != "" {
			counts[id]++
		}
	}
	return counts
}

// slackEventID is the event id a Slack message's metadata names, if any.
func slackEventID(metadata json.RawMessage) string {
	var m struct {
		EventPayload struct {
			EventID string `json:"event_id"`
		} `json:"event_payload"`
	}
	if metadata == nil || json.Unmarshal(metadata, &m) != nil {
		return ""
	}
	return m.EventPayload.EventID
}

// emailCounts counts the SendGrid stand-in's accepted messages by their
// event_id custom argument.
func emailCounts(s *sendgridtest.Server) (map[string]int, error) {
	counts := map[string]int{}
	for _, sent := range s.Messages() {
		m, err := sent.Mail()
		if err != nil {
			return nil, fmt.Errorf("count emails: %w", err)
		}
		counts[m.CustomArgs["event_id"]]++
	}
	return counts, nil
}
