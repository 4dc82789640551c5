// Package slacktest runs a local stand-in for Slack's Web API, so tests can
// post real chat.postMessage requests with slack-go, read them back with
// conversations.history, check what arrived, and make Slack fail, stall or
// rate-limit on cue.
//
// It speaks the wire format: a form-encoded (or JSON) POST to
// <URL>/chat.postMessage, the token in the form or an Authorization: Bearer
// header, blocks and metadata as JSON, and Slack's {"ok":...} answers,
// including not_authed without a token, missing_scope for a scope SetScopes
// left out, invalid_blocks for blocks past Block Kit's limits, and a 429 with
// Retry-After past SetRateLimit.
//
// Message timestamps come from the wall clock, as Slack's do, so a client
// can search history "since" a real time; each is at least a microsecond
// after the one before, so they are unique and ordered.
//
// Channels: a message posted to a name (such as "#business") lands in
// ChannelID, one posted to an id lands in that id, so a test can post to
// many channels at once (a course's own channel, say) and count them apart
// with MessagesIn and MessagesPerChannel. conversations.history takes only
// an id, and knows ChannelID, the ids AddChannels declared and every id a
// message was posted to; any other is channel_not_found. Each channel has
// its own history, its own pages and its own rate limit, which is off until
// SetRateLimit.
//
// Digests: DigestsFor finds the messages whose metadata is a digest's
// (event_type DigestEventType, event_payload.window_id), and Posted.Meta
// decodes any message's metadata.
package slacktest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coursehook/coursehook/internal/standin"
)

// ChannelID is the channel id the server answers with when a message was
// posted to a channel name rather than an id, as Slack resolves names to ids.
const ChannelID = "C0123"

// DigestEventType is the metadata event_type of a course completion digest,
// as slacknotify writes it.
const DigestEventType = "course_completion_digest"

// rateWindow is the sliding window SetRateLimit counts posts in: Slack allows
// about one message per second per channel, with short bursts.
const rateWindow = time.Second

// History page sizes: Slack's default, and the most it returns.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 999
)

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
	// Channel is the channel as the client sent it, a name or an id.
	Channel string
	// ChannelID is the id the server answered with: Channel when it is an
	// id, ChannelID for a name.
	ChannelID string
	// TS is the message timestamp the server answered with.
	TS string
	// ThreadTS is the message this one replies to, in its thread; empty
	// for a message of the channel.
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	Metadata json.RawMessage
	Token    string
	At       time.Time
}

// Metadata is a message's metadata, decoded.
type Metadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// Meta decodes p's metadata; ok is false when the message carried none or
// it is not a JSON object.
func (p Posted) Meta() (m Metadata, ok bool) {
	if p.Metadata == nil || json.Unmarshal(p.Metadata, &m) != nil {
		return Metadata{}, false
	}
	return m, true
}

// Server is a running stand-in. Its methods are safe to call from any
// goroutine.
type Server struct {
	srv *httptest.Server
	// posts records chat.postMessage: its calls, the messages it accepted,
	// its scripted failures and its response delay.
	posts *standin.Recorder[Posted, Failure]
	// history records conversations.history calls and their scripted
	// failures; it accepts no messages of its own.
	history *standin.Recorder[struct{}, Failure]

	// mu guards the fields below. accept holds it while posts stores the
	// message, so posts' lock is only ever taken inside it.
	mu          sync.Mutex
	rateLimit   int
	rateLimited int
	// recent holds, per channel id, when posts were accepted within the last
	// rateWindow.
	recent map[string][]time.Time
	// scopes are the token's scopes; nil grants every scope.
	scopes map[string]bool
	// channels are the ids AddChannels declared.
	channels map[string]bool
	// lastTS is the newest message timestamp, in microseconds.
	lastTS int64
}

// NewServer starts a server and closes it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		posts:    standin.NewRecorder[Posted, Failure](),
		history:  standin.NewRecorder[struct{}, Failure](),
		recent:   map[string][]time.Time{},
		channels: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/chat.postMessage", s.postMessage)
	mux.HandleFunc("/api/conversations.history", s.conversationsHistory)
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
func (s *Server) Close() { s.posts.Close(s.srv.Close) }

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Posted { return s.posts.Messages() }

// MessagesFor returns the accepted messages whose metadata carries eventID as
// event_payload.event_id, oldest first: more than one is a duplicate notice.
func (s *Server) MessagesFor(eventID string) []Posted {
	var out []Posted
	for _, p := range s.Messages() {
		if id, ok := metadataEventID(p.Metadata); ok && id == eventID {
			out = append(out, p)
		}
	}
	return out
}

// RepliesTo returns the accepted messages posted in the thread of the
// message threadTS, oldest first.
func (s *Server) RepliesTo(threadTS string) []Posted {
	var out []Posted
	for _, m := range s.Messages() {
		if m.ThreadTS == threadTS {
			out = append(out, m)
		}
	}
	return out
}

// MessagesIn returns the accepted messages in one channel, oldest first. A
// channel name stands for ChannelID, as it does when posting.
func (s *Server) MessagesIn(channel string) []Posted {
	return inChannel(s.Messages(), channelID(channel))
}

// MessagesPerChannel counts the accepted messages by channel id.
func (s *Server) MessagesPerChannel() map[string]int {
	counts := map[string]int{}
	for _, p := range s.Messages() {
		counts[p.ChannelID]++
	}
	return counts
}

// DigestsFor returns the accepted digests of windowID, whatever their
// channel, oldest first: more than one is a duplicate digest.
func (s *Server) DigestsFor(windowID string) []Posted {
	var out []Posted
	for _, p := range s.Messages() {
		m, ok := p.Meta()
		if !ok || m.EventType != DigestEventType {
			continue
		}
		if id, ok := m.EventPayload["window_id"].(string); ok && id == windowID {
			out = append(out, p)
		}
	}
	return out
}

// AddChannels declares channel ids that exist before anything is posted to
// them, such as a course's own channel, so conversations.history answers
// them with an empty history rather than channel_not_found.
func (s *Server) AddChannels(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.channels[id] = true
	}
}

// WaitForMessagesIn waits until at least n messages were accepted in channel
// (a name stands for ChannelID) and returns them, or fails the test after
// timeout. Call it from the test's goroutine.
func (s *Server) WaitForMessagesIn(t testing.TB, channel string, n int, timeout time.Duration) []Posted {
	t.Helper()
	id := channelID(channel)
	deadline := time.Now().Add(timeout)
	for {
		// One snapshot for both the check and the wait, so a message
		// accepted between them still wakes the wait.
		all := s.Messages()
		if in := inChannel(all, id); len(in) >= n {
			return in
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			t.Fatalf("slacktest: %d messages in %s after %s, want %d (%d attempts)", len(inChannel(s.Messages(), id)), id, timeout, n, s.Attempts())
			return nil
		}
		s.posts.Wait(len(all)+1, remaining)
	}
}

// inChannel returns the messages in channel id, in their order.
func inChannel(msgs []Posted, id string) []Posted {
	var out []Posted
	for _, p := range msgs {
		if p.ChannelID == id {
			out = append(out, p)
		}
	}
	return out
}

// channelID is the id a message posted to channel lands in: the channel
// itself when it is an id, ChannelID for a name.
func channelID(channel string) string {
	if isChannelID(channel) {
		return channel
	}
	return ChannelID
}

// knownChannel reports whether AddChannels declared id.
func (s *Server) knownChannel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[id]
}

// HistoryCalls counts every conversations.history call, failed ones
// included.
func (s *Server) HistoryCalls() int { return s.history.Attempts() }

// RateLimited counts the 429s answered because of SetRateLimit. Failures
// scripted with FailNext or FailAlways are not counted, whatever their
// status.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// SetResponseDelay makes every successful chat.postMessage wait d after the
// message is recorded and before the answer is sent: Slack has the message,
// the client does not know yet. That is the window in which a worker can
// crash or a client time out, and a retry post a duplicate. The wait ends
// early when the client hangs up or the server closes, and then no answer is
// sent. Zero turns it off.
func (s *Server) SetResponseDelay(d time.Duration) { s.posts.SetResponseDelay(d) }

// SetRateLimit accepts at most n chat.postMessage calls per channel in any
// sliding one-second window, and answers the ones beyond with a 429,
// Retry-After: 1 and {"ok":false,"error":"ratelimited"}, as Slack does. Posts
// accepted before the call count towards the window. Zero or less turns it
// off.
func (s *Server) SetRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = n
}

// SetScopes gives the token exactly these scopes, so a method whose scope is
// missing answers missing_scope with needed and provided, as Slack does:
// chat.postMessage needs chat:write, conversations.history needs
// channels:history for a C… channel, groups:history for G… and im:history
// for D…. Until it is called, the token has every scope.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = map[string]bool{}
	for _, sc := range scopes {
		s.scopes[sc] = true
	}
}

// FailHistoryNext makes the next n conversations.history calls fail with f,
// queued in order like FailNext, which only applies to chat.postMessage.
func (s *Server) FailHistoryNext(n int, f Failure) { s.history.FailNext(n, f) }

// Attempts counts every chat.postMessage call, failed ones included.
func (s *Server) Attempts() int { return s.posts.Attempts() }

// AttemptTimes returns when each chat.postMessage call arrived, so a test can
// check the spacing of retries.
func (s *Server) AttemptTimes() []time.Time { return s.posts.AttemptTimes() }

// FailNext makes the next n chat.postMessage calls fail with f. Calls to
// FailNext queue up in order; once the queue is used up, calls succeed again
// (unless FailAlways).
func (s *Server) FailNext(n int, f Failure) { s.posts.FailNext(n, f) }

// FailAlways makes every chat.postMessage call fail with f, after any queued failures, until
// FailAlways(Failure{}) turns it off.
func (s *Server) FailAlways(f Failure) {
	if f.isZero() {
		s.posts.ClearFailAlways()
		return
	}
	s.posts.FailAlways(f)
}

// WaitForMessages waits until at least n messages were accepted and returns
// them, or fails the test after timeout. Call it from the test's goroutine.
func (s *Server) WaitForMessages(t testing.TB, n int, timeout time.Duration) []Posted {
	t.Helper()
	return s.posts.WaitForMessages(t, n, timeout, "slacktest: %d messages after %s, want %d (%d attempts)")
}

// accept stores p, stamping its channel id and timestamp, unless the rate
// limit is reached, which it reports with ok false. Checking and storing
// under one lock keeps concurrent posts from slipping past the limit, and
// timestamps in the order Messages lists.
func (s *Server) accept(p Posted) (Posted, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	p.ChannelID = channelID(p.Channel)
	recent := slices.DeleteFunc(s.recent[p.ChannelID], func(at time.Time) bool {
		return now.Sub(at) >= rateWindow
	})
	if s.rateLimit > 0 && len(recent) >= s.rateLimit {
		s.recent[p.ChannelID] = recent
		s.rateLimited++
		return p, false
	}
	s.recent[p.ChannelID] = append(recent, now)
	s.lastTS = max(now.UnixMicro(), s.lastTS+1)
	p.TS = formatTS(s.lastTS)
	return s.posts.Accept(func(int) Posted { return p }), true
}

// missingScope returns the scope the token lacks for a method, if any.
func (s *Server) missingScope(needed string) (provided string, missing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scopes == nil || s.scopes[needed] {
		return "", false
	}
	return strings.Join(slices.Sorted(maps.Keys(s.scopes)), ","), true
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	at, f, fail := s.posts.Attempt()
	if fail {
		writeFailure(w, f)
		return
	}
	p, err := readPost(r)
	if err != nil {
		slackError(w, "invalid_form_data", err.Error())
		return
	}
	p.At = at
	if code := tokenError(p.Token); code != "" {
		slackError(w, code)
		return
	}
	if s.rejectScope(w, "chat:write") {
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
	p, ok := s.accept(p)
	if !ok {
		writeFailure(w, Failure{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		return
	}
	s.posts.Stall(r)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": p.ChannelID, "ts": p.TS, "message": messageJSON(p, true)})
}

// rejectScope answers missing_scope, with Slack's needed and provided
// fields, when the token lacks needed.
func (s *Server) rejectScope(w http.ResponseWriter, needed string) bool {
	provided, missing := s.missingScope(needed)
	if missing {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "missing_scope", "needed": needed, "provided": provided})
	}
	return missing
}

// tokenError is Slack's error code for a missing or malformed token, or "".
func tokenError(token string) string {
	switch {
	case token == "":
		return "not_authed"
	case !strings.HasPrefix(token, "xox"):
		return "invalid_auth"
	}
	return ""
}

// messageJSON is p as Slack lists it in an answer or in history. Metadata is
// left out unless asked for, as conversations.history does without
// include_all_metadata.
func messageJSON(p Posted, withMetadata bool) map[string]any {
	message := map[string]any{
		"type":    "message",
		"subtype": "bot_message",
		"bot_id":  "B0123",
		"text":    p.Text,
		"ts":      p.TS,
	}
	if p.Blocks != nil {
		message["blocks"] = p.Blocks
	}
	if withMetadata && p.Metadata != nil {
		message["metadata"] = p.Metadata
	}
	return message
}

// conversationsHistory answers conversations.history: the channel's
// messages newest first, newer than oldest and older than latest (either
// bound included with inclusive), limit to a page, with a next_cursor while
// more remain.
func (s *Server) conversationsHistory(w http.ResponseWriter, r *http.Request) {
	_, f, fail := s.history.Attempt()
	if fail {
		writeFailure(w, f)
		return
	}
	if err := r.ParseForm(); err != nil {
		slackError(w, "invalid_form_data", err.Error())
		return
	}
	token := r.Form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	if code := tokenError(token); code != "" {
		slackError(w, code)
		return
	}
	channel := r.Form.Get("channel")
	if s.rejectScope(w, historyScope(channel)) {
		return
	}
	if !isChannelID(channel) {
		slackError(w, "channel_not_found")
		return
	}
	q, code := readHistoryQuery(r)
	if code != "" {
		slackError(w, code)
		return
	}
	page, next, found := s.historyPage(channel, q)
	if !found {
		slackError(w, "channel_not_found")
		return
	}
	messages := make([]map[string]any, 0, len(page))
	for _, p := range page {
		messages = append(messages, messageJSON(p, q.withMetadata))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok":                true,
		"messages":          messages,
		"has_more":          next != "",
		"pin_count":         0,
		"response_metadata": map[string]any{"next_cursor": next},
	})
}

// historyScope is the scope conversations.history needs for a channel id;
// anything else is asked as a public channel.
func historyScope(channel string) string {
	switch {
	case strings.HasPrefix(channel, "G"):
		return "groups:history"
	case strings.HasPrefix(channel, "D"):
		return "im:history"
	}
	return "channels:history"
}

// historyQuery is a conversations.history request, timestamps in
// microseconds.
type historyQuery struct {
	oldest, latest int64
	inclusive      bool
	limit          int
	// before, from the cursor, is the newest timestamp of the page; zero
	// means the first page.
	before       int64
	withMetadata bool
}

// readHistoryQuery reads the form, or returns Slack's error code for what
// it cannot read.
func readHistoryQuery(r *http.Request) (historyQuery, string) {
	q := historyQuery{latest: -1, limit: defaultHistoryLimit}
	var err error
	if v := r.Form.Get("oldest"); v != "" {
		if q.oldest, err = parseTS(v); err != nil {
			return q, "invalid_ts_oldest"
		}
	}
	if v := r.Form.Get("latest"); v != "" {
		if q.latest, err = parseTS(v); err != nil {
			return q, "invalid_ts_latest"
		}
	}
	if v := r.Form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, "invalid_limit"
		}
		if n > 0 {
			q.limit = min(n, maxHistoryLimit)
		}
	}
	if v := r.Form.Get("cursor"); v != "" {
		if q.before, err = parseCursor(v); err != nil {
			return q, "invalid_cursor"
		}
	}
	q.inclusive = isTrue(r.Form.Get("inclusive"))
	q.withMetadata = isTrue(r.Form.Get("include_all_metadata"))
	return q, ""
}

// historyPage returns one page of the channel's history, newest first, and
// the cursor of the next page, or "" when this is the last. found is false
// for a channel the server does not know.
func (s *Server) historyPage(channel string, q historyQuery) (page []Posted, next string, found bool) {
	messages := s.posts.Messages()
	found = channel == ChannelID || s.knownChannel(channel)
	for i := len(messages) - 1; i >= 0; i-- {
		p := messages[i]
		if p.ChannelID != channel {
			continue
		}
		found = true
		ts, _ := parseTS(p.TS) // the server wrote it
		if !q.matches(ts) {
			continue
		}
		if len(page) == q.limit {
			return page, formatCursor(ts), true
		}
		page = append(page, p)
	}
	return page, "", found
}

// matches reports whether a message at ts belongs in the answer.
func (q historyQuery) matches(ts int64) bool {
	if q.before > 0 && ts > q.before {
		return false
	}
	if q.inclusive {
		return ts >= q.oldest && (q.latest < 0 || ts <= q.latest)
	}
	return ts > q.oldest && (q.latest < 0 || ts < q.latest)
}

// formatTS renders microseconds since the epoch as Slack's "seconds.micros".
func formatTS(micros int64) string {
	return fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000)
}

// parseTS reads a Slack timestamp, "seconds" or "seconds.fraction", into
// microseconds; digits past the sixth are dropped.
func parseTS(s string) (int64, error) {
	secs, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseUint(secs, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", s, err)
	}
	if sec > math.MaxInt64/1_000_000-1 {
		return 0, fmt.Errorf("timestamp %q: out of range", s)
	}
	var micros uint64
	if frac != "" {
		frac = (frac + "000000")[:6]
		if micros, err = strconv.ParseUint(frac, 10, 32); err != nil {
			return 0, fmt.Errorf("timestamp %q: %w", s, err)
		}
	}
	return int64(sec)*1_000_000 + int64(micros), nil
}

// cursorPrefix is what Slack's history cursors decode to before the
// timestamp of the next page's newest message, in microseconds.
const cursorPrefix = "next_ts:"

func formatCursor(micros int64) string {
	return base64.StdEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(micros, 10)))
}

func parseCursor(cursor string) (int64, error) {
	raw, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return 0, fmt.Errorf("cursor %q: %w", cursor, err)
	}
	ts, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, fmt.Errorf("cursor %q: no %s", cursor, cursorPrefix)
	}
	micros, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || micros <= 0 {
		return 0, fmt.Errorf("cursor %q: bad timestamp", cursor)
	}
	return micros, nil
}

// isTrue reads a Web API boolean, which Slack takes as 1 or true.
func isTrue(v string) bool { return v == "1" || v == "true" }

// metadataEventID reads event_payload.event_id from message metadata.
func metadataEventID(meta json.RawMessage) (string, bool) {
	var m struct {
		EventPayload struct {
			EventID *string `json:"event_id"`
		} `json:"event_payload"`
	}
	if meta == nil || json.Unmarshal(meta, &m) != nil || m.EventPayload.EventID == nil {
		return "", false
	}
	return *m.EventPayload.EventID, true
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
			ThreadTS string          `json:"thread_ts"`
			Text     string          `json:"text"`
			Blocks   json.RawMessage `json:"blocks"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return p, fmt.Errorf("decode json body: %w", err)
		}
		p.Channel, p.ThreadTS, p.Text, p.Blocks, p.Metadata = body.Channel, body.ThreadTS, body.Text, body.Blocks, body.Metadata
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return p, fmt.Errorf("parse form: %w", err)
	}
	if p.Token == "" {
		p.Token = r.PostForm.Get("token")
	}
	p.Channel, p.Text, p.ThreadTS = r.PostForm.Get("channel"), r.PostForm.Get("text"), r.PostForm.Get("thread_ts")
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
