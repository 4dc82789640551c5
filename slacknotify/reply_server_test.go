package slacknotify

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/coursehook/coursehook/internal/slacktest"
)

// threadSlack is a stand-in for the two Web API methods a reply uses and
// internal/slacktest does not speak: chat.postMessage with thread_ts, and
// conversations.replies. It takes Slack's wire format: a form-encoded POST
// (or, for conversations.replies, a GET with a query), the token in the
// form or an Authorization: Bearer header, blocks and metadata as JSON; and
// answers as Slack does, {"ok":true,...} or {"ok":false,"error":...}, a 429
// with Retry-After, or an HTML 5xx.
//
// A message posted with thread_ts joins the thread of that message (or of
// its parent, when it is itself a reply); a thread_ts naming no message is
// dropped and the message posted to the channel, as Slack does when the
// parent was deleted. conversations.replies lists a thread oldest first: the
// parent first on the first page, whatever oldest says, then the replies
// newer than oldest, limit to a page and a next_cursor while more remain.
// Timestamps come from the wall clock, unique and ordered, so a test can
// search "since" a real time.
type threadSlack struct {
	srv *httptest.Server

	mu          sync.Mutex
	msgs        []threadPosted
	lastTS      int64
	postFails   []slacktest.Failure
	repliesFail []slacktest.Failure
	posts       int
	replies     []url.Values
	noHistory   bool
}

// threadPosted is one message the stand-in accepted.
type threadPosted struct {
	Channel, ChannelID, ThreadTS, TS, Text, Token string
	Blocks, Metadata                              json.RawMessage
}

func newThreadSlack(t *testing.T) *threadSlack {
	t.Helper()
	s := &threadSlack{}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/chat.postMessage", s.postMessage)
	mux.HandleFunc("/api/conversations.replies", s.conversationsReplies)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method"})
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the Web API base to hand to New.
func (s *threadSlack) URL() string { return s.srv.URL + "/api/" }

func (s *threadSlack) Messages() []threadPosted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Posts counts chat.postMessage calls, failed ones included.
func (s *threadSlack) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// Replies returns the form of every conversations.replies call.
func (s *threadSlack) Replies() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.replies)
}

// FailPostNext and FailRepliesNext make the next call of the method fail
// with f; they queue up.
func (s *threadSlack) FailPostNext(f slacktest.Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.postFails = append(s.postFails, f)
}

func (s *threadSlack) FailRepliesNext(f slacktest.Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repliesFail = append(s.repliesFail, f)
}

// DenyHistory takes channels:history and groups:history from the token.
func (s *threadSlack) DenyHistory() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noHistory = true
}

func (s *threadSlack) postMessage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.posts++
	f, fail := popFailure(&s.postFails)
	s.mu.Unlock()
	if fail {
		writeReplyFailure(w, f)
		return
	}
	if err := r.ParseForm(); err != nil {
		replyError(w, "invalid_form_data")
		return
	}
	p := threadPosted{
		Channel:  r.PostForm.Get("channel"),
		ThreadTS: r.PostForm.Get("thread_ts"),
		Text:     r.PostForm.Get("text"),
		Token:    requestToken(r),
	}
	if code := replyTokenError(p.Token); code != "" {
		replyError(w, code)
		return
	}
	if p.Channel == "" {
		replyError(w, "channel_not_found")
		return
	}
	if b := r.PostForm.Get("blocks"); b != "" {
		var blocks slack.Blocks
		if err := json.Unmarshal([]byte(b), &blocks); err != nil {
			replyError(w, "invalid_blocks_format")
			return
		}
		p.Blocks = json.RawMessage(b)
	}
	if m := r.PostForm.Get("metadata"); m != "" {
		if !json.Valid([]byte(m)) {
			replyError(w, "invalid_metadata_format")
			return
		}
		p.Metadata = json.RawMessage(m)
	}
	if p.Text == "" && p.Blocks == nil {
		replyError(w, "no_text")
		return
	}
	p = s.accept(p)
	replyJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": p.ChannelID, "ts": p.TS, "message": threadMessageJSON(p, true)})
}

// accept stamps p with its channel id, its thread and a timestamp, and
// stores it.
func (s *threadSlack) accept(p threadPosted) threadPosted {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ChannelID = p.Channel
	if !IsChannelID(p.Channel) {
		p.ChannelID = slacktest.ChannelID
	}
	if p.ThreadTS != "" {
		parent, ok := s.message(p.ChannelID, p.ThreadTS)
		switch {
		case !ok:
			p.ThreadTS = ""
		case parent.ThreadTS != "":
			p.ThreadTS = parent.ThreadTS
		}
	}
	s.lastTS = max(time.Now().UnixMicro(), s.lastTS+1)
	p.TS = fmt.Sprintf("%d.%06d", s.lastTS/1e6, s.lastTS%1e6)
	s.msgs = append(s.msgs, p)
	return p
}

// message finds the message ts in channel; the caller holds mu.
func (s *threadSlack) message(channel, ts string) (threadPosted, bool) {
	for _, m := range s.msgs {
		if m.ChannelID == channel && m.TS == ts {
			return m, true
		}
	}
	return threadPosted{}, false
}

// repliesQuery is a conversations.replies request, timestamps in
// microseconds.
type repliesQuery struct {
	channel, ts    string
	oldest, latest int64
	inclusive      bool
	limit          int
	// from, from the cursor, is the timestamp the page starts at; zero
	// means the first page.
	from         int64
	withMetadata bool
}

func (s *threadSlack) conversationsReplies(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		replyError(w, "invalid_form_data")
		return
	}
	s.mu.Lock()
	s.replies = append(s.replies, r.Form)
	f, fail := popFailure(&s.repliesFail)
	noHistory := s.noHistory
	s.mu.Unlock()
	if fail {
		writeReplyFailure(w, f)
		return
	}
	if code := replyTokenError(requestToken(r)); code != "" {
		replyError(w, code)
		return
	}
	if noHistory {
		replyJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "missing_scope", "needed": "channels:history", "provided": "chat:write"})
		return
	}
	q, code := readRepliesQuery(r.Form)
	if code != "" {
		replyError(w, code)
		return
	}
	page, next, code := s.repliesPage(q)
	if code != "" {
		replyError(w, code)
		return
	}
	messages := make([]map[string]any, 0, len(page))
	for _, p := range page {
		messages = append(messages, threadMessageJSON(p, q.withMetadata))
	}
	replyJSON(w, http.StatusOK, map[string]any{
		"ok":                true,
		"messages":          messages,
		"has_more":          next != "",
		"response_metadata": map[string]any{"next_cursor": next},
	})
}

// readRepliesQuery reads the form, or returns Slack's error code for what
// it cannot read.
func readRepliesQuery(form url.Values) (repliesQuery, string) {
	q := repliesQuery{
		channel:      form.Get("channel"),
		ts:           form.Get("ts"),
		limit:        1000,
		inclusive:    truthy(form.Get("inclusive")),
		withMetadata: truthy(form.Get("include_all_metadata")),
	}
	if !IsChannelID(q.channel) {
		return q, "channel_not_found"
	}
	if _, err := parseReplyTS(q.ts); err != nil {
		return q, "invalid_arguments"
	}
	var err error
	if v := form.Get("oldest"); v != "" {
		if q.oldest, err = parseReplyTS(v); err != nil {
			return q, "invalid_ts_oldest"
		}
	}
	if v := form.Get("latest"); v != "" {
		if q.latest, err = parseReplyTS(v); err != nil {
			return q, "invalid_ts_latest"
		}
	}
	if v := form.Get("limit"); v != "" {
		if q.limit, err = strconv.Atoi(v); err != nil || q.limit < 1 {
			return q, "invalid_limit"
		}
		q.limit = min(q.limit, 1000)
	}
	if v := form.Get("cursor"); v != "" {
		raw, err := base64.StdEncoding.DecodeString(v)
		rest, ok := strings.CutPrefix(string(raw), "next_ts:")
		if err != nil || !ok {
			return q, "invalid_cursor"
		}
		if q.from, err = strconv.ParseInt(rest, 10, 64); err != nil {
			return q, "invalid_cursor"
		}
	}
	return q, ""
}

// repliesPage returns one page of the thread and the cursor of the next, or
// Slack's error code.
func (s *threadSlack) repliesPage(q repliesQuery) (page []threadPosted, next, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, ok := s.message(q.channel, q.ts)
	if !ok || parent.ThreadTS != "" {
		return nil, "", "thread_not_found"
	}
	if q.from == 0 {
		page = append(page, parent)
	}
	for _, m := range s.msgs {
		if m.ChannelID != q.channel || m.ThreadTS != q.ts {
			continue
		}
		ts, _ := parseReplyTS(m.TS) // stamped by accept
		if ts < q.from || !inRange(ts, q) {
			continue
		}
		if len(page) == q.limit {
			return page, base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "next_ts:%d", ts)), ""
		}
		page = append(page, m)
	}
	return page, "", ""
}

func inRange(ts int64, q repliesQuery) bool {
	if q.oldest > 0 && (ts < q.oldest || ts == q.oldest && !q.inclusive) {
		return false
	}
	if q.latest > 0 && (ts > q.latest || ts == q.latest && !q.inclusive) {
		return false
	}
	return true
}

// threadMessageJSON is p as Slack lists it; metadata only when asked.
func threadMessageJSON(p threadPosted, withMetadata bool) map[string]any {
	m := map[string]any{"type": "message", "subtype": "bot_message", "bot_id": "B0123", "text": p.Text, "ts": p.TS}
	if p.ThreadTS != "" {
		m["thread_ts"] = p.ThreadTS
	}
	if p.Blocks != nil {
		m["blocks"] = p.Blocks
	}
	if withMetadata && p.Metadata != nil {
		m["metadata"] = p.Metadata
	}
	return m
}

func truthy(s string) bool { return s == "1" || s == "true" }

// parseReplyTS reads "seconds.micros" into microseconds.
func parseReplyTS(ts string) (int64, error) {
	sec, frac, ok := strings.Cut(ts, ".")
	if !ok || len(frac) != 6 {
		return 0, fmt.Errorf("bad ts %q", ts)
	}
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, err
	}
	return s*1e6 + f, nil
}

func requestToken(r *http.Request) string {
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return bearer
	}
	return r.Form.Get("token")
}

func replyTokenError(token string) string {
	switch {
	case token == "":
		return "not_authed"
	case !strings.HasPrefix(token, "xox"):
		return "invalid_auth"
	}
	return ""
}

func popFailure(queue *[]slacktest.Failure) (slacktest.Failure, bool) {
	if len(*queue) == 0 {
		return slacktest.Failure{}, false
	}
	f := (*queue)[0]
	*queue = (*queue)[1:]
	return f, true
}

// writeReplyFailure answers as Slack does: ok:false with a 200, JSON with a
// 429 and Retry-After, an HTML page with any other status.
func writeReplyFailure(w http.ResponseWriter, f slacktest.Failure) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch f.Status {
	case 0, http.StatusOK:
		replyError(w, cmp.Or(f.SlackError, "internal_error"))
	case http.StatusTooManyRequests:
		replyJSON(w, f.Status, map[string]any{"ok": false, "error": cmp.Or(f.SlackError, "ratelimited")})
	default:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = fmt.Fprintf(w, "<html><body>%d</body></html>", f.Status) // the client hung up; nothing to tell it
	}
}

func replyError(w http.ResponseWriter, code string) {
	replyJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
}

func replyJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client hung up; nothing to tell it
}
