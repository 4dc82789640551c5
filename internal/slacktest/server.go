// Package slacktest runs a local stand-in for Slack's Web API, so tests can
// post real chat.postMessage requests with slack-go, read back what arrived,
// and make Slack fail on cue.
//
// It speaks the wire format: a form-encoded (or JSON) POST to
// <URL>/chat.postMessage, the token in the form or an Authorization: Bearer
// header, blocks and metadata as JSON, and Slack's {"ok":...} answers,
// including not_authed without a token and invalid_blocks for blocks past
// Block Kit's limits.
package slacktest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// ChannelID is the channel id the server answers with when a message was
// posted to a channel name rather than an id, as Slack resolves names to ids.
const ChannelID = "C0123"

// firstTS is the timestamp of the first message, in microseconds; each
// following message is 100µs later, so timestamps are unique and ordered.
const firstTS = 1700000000_000100

// Failure is a scripted answer in place of a successful post.
type Failure struct {
	// Status is the HTTP status; zero means 200.
	Status int
	// RetryAfter is sent as the Retry-After header when not empty, as given,
	// so a test can also send one that is not a number.
	RetryAfter string
	// SlackError is the error code of the ok:false answer sent with a 200 or
	// a 429; empty means internal_error and ratelimited respectively. Other
	// statuses get an HTML page, as Slack sends, which slack-go does not read.
	SlackError string
}

func (f Failure) isZero() bool { return f == Failure{} }

// Posted is one message the server accepted.
type Posted struct {
	Channel  string
	Text     string
	Blocks   json.RawMessage
	Metadata json.RawMessage
	Token    string
	At       time.Time
}

// Server is a running stand-in. Its methods are safe to call from any
// goroutine.
type Server struct {
	srv       *httptest.Server
	closeOnce sync.Once

	mu       sync.Mutex
	messages []Posted
	attempts []time.Time
	queued   []Failure
	always   Failure
	// changed is closed and replaced on every accepted message, so waiters
	// wake on the event instead of polling.
	changed chan struct{}
}

// NewServer starts a server and closes it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/chat.postMessage", s.postMessage)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method"})
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// URL is the Web API base URL to hand to a client, ending in "/api/".
func (s *Server) URL() string { return s.srv.URL + "/api/" }

// Close stops the server; later calls fail to connect. Safe to call twice.
func (s *Server) Close() { s.closeOnce.Do(s.srv.Close) }

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Posted(nil), s.messages...)
}

// Attempts counts every chat.postMessage call, failed ones included.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.attempts)
}

// AttemptTimes returns when each chat.postMessage call arrived, so a test can
// check the spacing of retries.
func (s *Server) AttemptTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

// FailNext makes the next n calls fail with f. Calls to FailNext queue up in
// order; once the queue is used up, calls succeed again (unless FailAlways).
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.queued = append(s.queued, f)
	}
}

// FailAlways makes every call fail with f, after any queued failures, until
// FailAlways(Failure{}) turns it off.
func (s *Server) FailAlways(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always = f
}

// WaitForMessages waits until at least n messages were accepted and returns
// them, or fails the test after timeout. Call it from the test's goroutine.
func (s *Server) WaitForMessages(t testing.TB, n int, timeout time.Duration) []Posted {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.messages), s.changed
		if got >= n {
			msgs := append([]Posted(nil), s.messages...)
			s.mu.Unlock()
			return msgs
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("slacktest: %d messages after %s, want %d (%d attempts)", got, timeout, n, s.Attempts())
			return nil
		}
	}
}

// nextFailure records an attempt and returns the failure to answer it with,
// if any.
func (s *Server) nextFailure(at time.Time) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, at)
	if len(s.queued) > 0 {
		f := s.queued[0]
		s.queued = s.queued[1:]
		return f, true
	}
	return s.always, !s.always.isZero()
}

// accept stores p and answers with its channel id and timestamp.
func (s *Server) accept(p Posted) (channel, ts string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, p)
	close(s.changed)
	s.changed = make(chan struct{})
	micros := firstTS + int64(len(s.messages)-1)*100
	channel = p.Channel
	if !isChannelID(channel) {
		channel = ChannelID
	}
	return channel, fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000)
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if f, ok := s.nextFailure(at); ok {
		writeFailure(w, f)
		return
	}
	p, err := readPost(r)
	if err != nil {
		slackError(w, "invalid_form_data", err.Error())
		return
	}
	p.At = at
	if p.Token == "" {
		slackError(w, "not_authed")
		return
	}
	if !strings.HasPrefix(p.Token, "xox") {
		slackError(w, "invalid_auth")
		return
	}
	if p.Channel == "" {
		slackError(w, "channel_not_found")
		return
	}
	var blocks []block
	if p.Blocks != nil {
		if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
			slackError(w, "invalid_blocks_format", err.Error())
			return
		}
		if problems := validateBlocks(blocks); len(problems) > 0 {
			slackError(w, "invalid_blocks", problems...)
			return
		}
	}
	if p.Text == "" && len(blocks) == 0 {
		slackError(w, "no_text")
		return
	}
	if p.Metadata != nil && !json.Valid(p.Metadata) {
		slackError(w, "invalid_metadata_format")
		return
	}
	channel, ts := s.accept(p)
	message := map[string]any{
		"type":    "message",
		"subtype": "bot_message",
		"bot_id":  "B0123",
		"text":    p.Text,
		"ts":      ts,
	}
	if p.Blocks != nil {
		message["blocks"] = p.Blocks
	}
	if p.Metadata != nil {
		message["metadata"] = p.Metadata
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": channel, "ts": ts, "message": message})
}

// readPost reads a chat.postMessage request in either encoding Slack takes.
// slack-go sends a form, with blocks and metadata as JSON strings.
func readPost(r *http.Request) (Posted, error) {
	var p Posted
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		p.Token = token
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		var body struct {
			Channel  string          `json:"channel"`
			Text     string          `json:"text"`
			Blocks   json.RawMessage `json:"blocks"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return p, fmt.Errorf("decode json body: %w", err)
		}
		p.Channel, p.Text, p.Blocks, p.Metadata = body.Channel, body.Text, body.Blocks, body.Metadata
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return p, fmt.Errorf("parse form: %w", err)
	}
	if p.Token == "" {
		p.Token = r.PostForm.Get("token")
	}
	p.Channel, p.Text = r.PostForm.Get("channel"), r.PostForm.Get("text")
	if b := r.PostForm.Get("blocks"); b != "" {
		p.Blocks = json.RawMessage(b)
	}
	if m := r.PostForm.Get("metadata"); m != "" {
		p.Metadata = json.RawMessage(m)
	}
	return p, nil
}

// writeFailure answers like Slack does: ok:false JSON with a 200 or 429, and
// a bare page for other statuses, which slack-go does not read.
func writeFailure(w http.ResponseWriter, f Failure) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	code := f.SlackError
	switch {
	case status == http.StatusOK:
		if code == "" {
			code = "internal_error"
		}
	case status == http.StatusTooManyRequests:
		if code == "" {
			code = "ratelimited"
		}
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return
	}
	writeJSON(w, status, map[string]any{"ok": false, "error": code})
}

// slackError answers ok:false with code; messages go where Slack puts its
// explanations, in response_metadata.messages.
func slackError(w http.ResponseWriter, code string, messages ...string) {
	body := map[string]any{"ok": false, "error": code}
	if len(messages) > 0 {
		body["response_metadata"] = map[string]any{"messages": messages}
	}
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client hung up; nothing to tell it
}

// isChannelID reports whether s looks like a conversation id (C…, G…, D…)
// rather than a name such as "#business".
func isChannelID(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("CGD", rune(s[0])) {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// block is the part of a Block Kit block the server checks.
type block struct {
	Type     string            `json:"type"`
	Text     *textObject       `json:"text"`
	Fields   []textObject      `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
}

type textObject struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji *bool  `json:"emoji"`
}

// Block Kit limits from Slack's reference pages
// (docs.slack.dev/reference/block-kit), counted in runes as slack-go's own
// validation counts them; the production code counts more strictly, so the
// server catches a limit missed, not a counting disagreement.
const (
	maxBlocks        = 50
	maxHeaderText    = 150
	maxSectionText   = 3000
	maxFields        = 10
	maxFieldText     = 2000
	maxContextItems  = 10
	maxTextObjectLen = 3000
)

// validateBlocks checks what Slack checks for the blocks a notice uses
// (header, section, context) and returns messages in Slack's style, or none.
// Other block types pass unchecked.
func validateBlocks(blocks []block) []string {
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, "[ERROR] "+fmt.Sprintf(format, args...))
	}
	if len(blocks) > maxBlocks {
		fail("no more than %d items allowed [json-pointer:/blocks]", maxBlocks)
	}
	checkText := func(t *textObject, ptr string, limit int, plainOnly bool) {
		switch {
		case t == nil:
			fail("missing required field: text [json-pointer:%s]", ptr)
		case t.Type != "plain_text" && t.Type != "mrkdwn":
			fail("must be plain_text or mrkdwn [json-pointer:%s/type]", ptr)
		case plainOnly && t.Type != "plain_text":
			fail("must be plain_text [json-pointer:%s/type]", ptr)
		case t.Type == "mrkdwn" && t.Emoji != nil:
			fail("emoji is not allowed in mrkdwn [json-pointer:%s/emoji]", ptr)
		case t.Text == "":
			fail("must be more than 0 characters [json-pointer:%s/text]", ptr)
		case utf8.RuneCountInString(t.Text) > limit:
			fail("must be less than %d characters [json-pointer:%s/text]", limit+1, ptr)
		}
	}
	for i, b := range blocks {
		ptr := fmt.Sprintf("/blocks/%d", i)
		switch b.Type {
		case "":
			fail("missing required field: type [json-pointer:%s]", ptr)
		case "header":
			checkText(b.Text, ptr+"/text", maxHeaderText, true)
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				fail("must provide text or fields [json-pointer:%s]", ptr)
			}
			if b.Text != nil {
				checkText(b.Text, ptr+"/text", maxSectionText, false)
			}
			if len(b.Fields) > maxFields {
				fail("no more than %d items allowed [json-pointer:%s/fields]", maxFields, ptr)
			}
			for j := range b.Fields {
				checkText(&b.Fields[j], fmt.Sprintf("%s/fields/%d", ptr, j), maxFieldText, false)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > maxContextItems {
				fail("must have 1 to %d items [json-pointer:%s/elements]", maxContextItems, ptr)
			}
			for j, raw := range b.Elements {
				var t textObject
				if err := json.Unmarshal(raw, &t); err != nil {
					fail("invalid element [json-pointer:%s/elements/%d]", ptr, j)
					continue
				}
				if t.Type == "plain_text" || t.Type == "mrkdwn" {
					checkText(&t, fmt.Sprintf("%s/elements/%d", ptr, j), maxTextObjectLen, false)
				}
			}
		}
	}
	return problems
}
