// Package slacktest runs a local stand-in for Slack's Web API, so tests can
// post real chat.postMessage requests with slack-go, read them back with
// conversations.history and conversations.replies, check what arrived, and
// make Slack fail, stall or rate-limit on cue.
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
// Threads: a message posted with thread_ts is a reply in the thread of that
// message, or of its parent when thread_ts names a reply, and its
// Posted.ThreadTS then names the parent. A thread_ts naming no message of
// the channel is kept as sent: Slack answers ok, and the reply then shows
// neither in the channel's history nor in any message's thread.
// conversations.history lists a channel's own messages, and replies only
// when posted with reply_broadcast; a parent carries thread_ts, reply_count
// and latest_reply. conversations.replies (a GET with a query, or a POST
// form) lists the thread of the message ts, its parent or one of its
// replies: the parent first on the first page, whatever oldest says, then
// the replies oldest first; thread_not_found for a ts naming no message of
// the channel. It takes conversations.history's arguments, tokens, scopes
// and errors, counts its own calls (RepliesCalls, RepliesRequests) and
// fails on its own cue (FailRepliesNext). RepliesTo lists a thread's
// replies as posted.
//
// Digests: DigestsFor finds the messages whose metadata is a digest's
// (event_type DigestEventType, event_payload.window_id), and Posted.Meta
// decodes any message's metadata.
package slacktest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// Page sizes of conversations.history and conversations.replies: Slack's
// default, and the most it returns.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 999
	defaultRepliesLimit = 1000
	maxRepliesLimit     = 1000
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
	// ThreadTS is the ts of the parent of the thread this message replies
	// in; empty for a message of the channel.
	ThreadTS string
	// Broadcast is set for a reply also shown in the channel
	// (reply_broadcast), which conversations.history lists.
	Broadcast bool
	Text      string
	Blocks    json.RawMessage
	Metadata  json.RawMessage
	Token     string
	At        time.Time
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
	// history and replies record conversations.history and
	// conversations.replies calls and their scripted failures; they accept
	// no messages of their own.
	history *standin.Recorder[struct{}, Failure]
	replies *standin.Recorder[struct{}, Failure]

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
	// repliesForms are the arguments of every conversations.replies call.
	repliesForms []url.Values
}

// NewServer starts a server and closes it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		posts:    standin.NewRecorder[Posted, Failure](),
		history:  standin.NewRecorder[struct{}, Failure](),
		replies:  standin.NewRecorder[struct{}, Failure](),
		recent:   map[string][]time.Time{},
		channels: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/chat.postMessage", s.postMessage)
	mux.HandleFunc("/api/conversations.history", s.conversationsHistory)
	mux.HandleFunc("/api/conversations.replies", s.conversationsReplies)
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

// MessagesPerEvent counts the accepted messages by the event id their
// metadata carries (as MessagesFor reads it), in one pass: a count over 1
// is a duplicate notice.
func (s *Server) MessagesPerEvent() map[string]int {
	counts := map[string]int{}
	for _, p := range s.Messages() {
		if id, ok := metadataEventID(p.Metadata); ok {
			counts[id]++
		}
	}
	return counts
}

// RepliesTo returns the accepted messages posted in the thread of the
// message threadTS, oldest first; a reply to a reply counts as the
// parent's.
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

// RepliesCalls counts every conversations.replies call, failed ones
// included.
func (s *Server) RepliesCalls() int { return s.replies.Attempts() }

// RepliesRequests returns the arguments of every conversations.replies call
// whose form could be read, failed ones included, oldest first: query and
// form alike.
func (s *Server) RepliesRequests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.repliesForms)
}

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
// chat.postMessage needs chat:write, conversations.history and
// conversations.replies need channels:history for a C… channel,
// groups:history for G… and im:history for D…. Until it is called, the
// token has every scope.
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

// FailRepliesNext makes the next n conversations.replies calls fail with f,
// queued in order like FailHistoryNext.
func (s *Server) FailRepliesNext(n int, f Failure) { s.replies.FailNext(n, f) }

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

// accept stores p, stamping its channel id, its thread and timestamp,
// unless the rate limit is reached, which it reports with ok false; a reply
// counts towards its channel's limit. Checking and storing under one lock
// keeps concurrent posts from slipping past the limit, and timestamps in
// the order Messages lists.
func (s *Server) accept(p Posted) (Posted, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	p.ChannelID = channelID(p.Channel)
	if parent, ok := findMessage(s.posts.Messages(), p.ChannelID, p.ThreadTS); ok {
		p.ThreadTS = cmp.Or(parent.ThreadTS, parent.TS)
	}
	// Slack ignores reply_broadcast without a thread.
	p.Broadcast = p.Broadcast && p.ThreadTS != ""
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
	hold := s.posts.Hold()
	p, ok := s.accept(p)
	if !ok {
		writeFailure(w, Failure{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		return
	}
	hold(r)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": p.ChannelID, "ts": p.TS, "message": messageJSON(p, true, nil)})
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

// thread is what Slack shows on a thread's parent about its replies.
type thread struct {
	replies int
	latest  string
}

// threadsIn sums up the threads of channel in messages, by parent ts.
func threadsIn(messages []Posted, channel string) map[string]thread {
	threads := map[string]thread{}
	for _, p := range messages {
		if p.ChannelID == channel && p.ThreadTS != "" {
			threads[p.ThreadTS] = thread{replies: threads[p.ThreadTS].replies + 1, latest: p.TS}
		}
	}
	return threads
}

// messageJSON is p as Slack lists it in an answer, in history or in a
// thread: a reply with the thread_ts of its parent (and, when broadcast,
// the subtype thread_broadcast), a parent with replies with its own ts as
// thread_ts, its reply_count and latest_reply, from threads. Metadata is
// left out unless asked for, as the read methods do without
// include_all_metadata.
func messageJSON(p Posted, withMetadata bool, threads map[string]thread) map[string]any {
	message := map[string]any{
		"type":    "message",
		"subtype": "bot_message",
		"bot_id":  "B0123",
		"text":    p.Text,
		"ts":      p.TS,
	}
	if p.ThreadTS != "" {
		message["thread_ts"] = p.ThreadTS
		if p.Broadcast {
			message["subtype"] = "thread_broadcast"
		}
	} else if t, ok := threads[p.TS]; ok {
		message["thread_ts"] = p.TS
		message["reply_count"] = t.replies
		message["latest_reply"] = t.latest
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
// messages newest first, replies left out unless broadcast, newer than
// oldest and older than latest (either bound included with inclusive),
// limit to a page, with a next_cursor while more remain.
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
	q, messages, ok := s.readQuery(w, r, defaultHistoryLimit, maxHistoryLimit)
	if !ok {
		return
	}
	body := pageJSON(messages, q, historyPage(messages, q))
	body["pin_count"] = 0
	writeJSON(w, http.StatusOK, body)
}

// conversationsReplies answers conversations.replies: the thread of the
// message ts, as repliesPage lists it, or thread_not_found when no message
// of the channel has that ts.
func (s *Server) conversationsReplies(w http.ResponseWriter, r *http.Request) {
	_, f, fail := s.replies.Attempt()
	err := r.ParseForm()
	if err == nil {
		s.mu.Lock()
		s.repliesForms = append(s.repliesForms, r.Form)
		s.mu.Unlock()
	}
	switch {
	case fail:
		writeFailure(w, f)
		return
	case err != nil:
		slackError(w, "invalid_form_data", err.Error())
		return
	}
	q, messages, ok := s.readQuery(w, r, defaultRepliesLimit, maxRepliesLimit)
	if !ok {
		return
	}
	pg, found := repliesPage(messages, q, r.Form.Get("ts"))
	if !found {
		slackError(w, "thread_not_found")
		return
	}
	writeJSON(w, http.StatusOK, pageJSON(messages, q, pg))
}

// readQuery reads what conversations.history and conversations.replies
// share from r's parsed form: the token, the channel, which must be an id
// the server knows and needs its history scope, and the paging arguments,
// limit defaulting to byDefault and capped at most. It answers what it
// refuses, as Slack does, and then returns ok false; else the query and the
// messages to answer it from.
func (s *Server) readQuery(w http.ResponseWriter, r *http.Request, byDefault, most int) (q historyQuery, messages []Posted, ok bool) {
	token := r.Form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	if code := tokenError(token); code != "" {
		slackError(w, code)
		return q, nil, false
	}
	channel := r.Form.Get("channel")
	if s.rejectScope(w, historyScope(channel)) {
		return q, nil, false
	}
	if !isChannelID(channel) {
		slackError(w, "channel_not_found")
		return q, nil, false
	}
	q, code := readHistoryQuery(r.Form, byDefault, most)
	if code != "" {
		slackError(w, code)
		return q, nil, false
	}
	q.channel = channel
	messages = s.posts.Messages()
	if !s.hasChannel(channel, messages) {
		slackError(w, "channel_not_found")
		return q, nil, false
	}
	return q, messages, true
}

// hasChannel reports whether the server knows the channel id: ChannelID,
// one AddChannels declared, or one a message in messages was posted to.
func (s *Server) hasChannel(id string, messages []Posted) bool {
	return id == ChannelID || s.knownChannel(id) ||
		slices.ContainsFunc(messages, func(p Posted) bool { return p.ChannelID == id })
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

// historyQuery is a conversations.history or conversations.replies request,
// timestamps in microseconds.
type historyQuery struct {
	channel        string
	oldest, latest int64
	inclusive      bool
	limit          int
	// cursor, from the cursor argument, is the timestamp the page starts
	// at: its newest message in history, its oldest in a thread. Zero means
	// the first page.
	cursor       int64
	withMetadata bool
}

// readHistoryQuery reads the paging arguments of form, limit defaulting to
// byDefault and capped at most, or returns Slack's error code for what it
// cannot read.
func readHistoryQuery(form url.Values, byDefault, most int) (historyQuery, string) {
	q := historyQuery{latest: -1, limit: byDefault}
	var err error
	if v := form.Get("oldest"); v != "" {
		if q.oldest, err = parseTS(v); err != nil {
			return q, "invalid_ts_oldest"
		}
	}
	if v := form.Get("latest"); v != "" {
		if q.latest, err = parseTS(v); err != nil {
			return q, "invalid_ts_latest"
		}
	}
	if v := form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, "invalid_limit"
		}
		if n > 0 {
			q.limit = min(n, most)
		}
	}
	if v := form.Get("cursor"); v != "" {
		if q.cursor, err = parseCursor(v); err != nil {
			return q, "invalid_cursor"
		}
	}
	q.inclusive = isTrue(form.Get("inclusive"))
	q.withMetadata = isTrue(form.Get("include_all_metadata"))
	return q, ""
}

// page is one page of an answer, and the cursor of the next page, or ""
// when this is the last.
type page struct {
	messages []Posted
	next     string
}

// add appends p, at ts, to the page unless it is full, and then sets the
// cursor to ts and reports false.
func (pg *page) add(p Posted, ts int64, limit int) bool {
	if len(pg.messages) == limit {
		pg.next = formatCursor(ts)
		return false
	}
	pg.messages = append(pg.messages, p)
	return true
}

// historyPage returns one page of the channel's history, newest first;
// replies are left out unless broadcast.
func historyPage(messages []Posted, q historyQuery) page {
	var pg page
	for _, p := range slices.Backward(messages) {
		if p.ChannelID != q.channel || p.ThreadTS != "" && !p.Broadcast {
			continue
		}
		ts, _ := parseTS(p.TS) // the server wrote it
		if q.cursor > 0 && ts > q.cursor || !q.matches(ts) {
			continue
		}
		if !pg.add(p, ts, q.limit) {
			break
		}
	}
	return pg
}

// repliesPage returns one page of the thread the message ts is in, whether
// ts is its parent's or a reply's: the parent first on the first page,
// whatever the bounds say, as Slack lists it, then the replies within them,
// oldest first. found is false when no message in the channel has ts.
func repliesPage(messages []Posted, q historyQuery, ts string) (pg page, found bool) {
	m, found := findMessage(messages, q.channel, ts)
	if !found {
		return pg, false
	}
	root := cmp.Or(m.ThreadTS, m.TS)
	if parent, ok := findMessage(messages, q.channel, root); ok && q.cursor == 0 {
		pg.add(parent, 0, q.limit)
	}
	for _, p := range messages {
		if p.ChannelID != q.channel || p.ThreadTS != root {
			continue
		}
		ts, _ := parseTS(p.TS) // the server wrote it
		if ts < q.cursor || !q.matches(ts) {
			continue
		}
		if !pg.add(p, ts, q.limit) {
			break
		}
	}
	return pg, true
}

// findMessage returns the message ts in channel; ts may be written in any
// form Slack reads, such as without trailing zeros.
func findMessage(messages []Posted, channel, ts string) (Posted, bool) {
	micros, err := parseTS(ts)
	if err != nil {
		return Posted{}, false
	}
	ts = formatTS(micros)
	for _, p := range messages {
		if p.ChannelID == channel && p.TS == ts {
			return p, true
		}
	}
	return Posted{}, false
}

// pageJSON is the answer of a read method with pg; messages are all the
// server's, for the threads' reply counts.
func pageJSON(messages []Posted, q historyQuery, pg page) map[string]any {
	threads := threadsIn(messages, q.channel)
	list := make([]map[string]any, 0, len(pg.messages))
	for _, p := range pg.messages {
		list = append(list, messageJSON(p, q.withMetadata, threads))
	}
	return map[string]any{
		"ok":                true,
		"messages":          list,
		"has_more":          pg.next != "",
		"response_metadata": map[string]any{"next_cursor": pg.next},
	}
}

// matches reports whether a message at ts is within the query's oldest and
// latest bounds.
func (q historyQuery) matches(ts int64) bool {
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
			Channel   string          `json:"channel"`
			ThreadTS  string          `json:"thread_ts"`
			Broadcast bool            `json:"reply_broadcast"`
			Text      string          `json:"text"`
			Blocks    json.RawMessage `json:"blocks"`
			Metadata  json.RawMessage `json:"metadata"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return p, fmt.Errorf("decode json body: %w", err)
		}
		p.Channel, p.ThreadTS, p.Broadcast = body.Channel, body.ThreadTS, body.Broadcast
		p.Text, p.Blocks, p.Metadata = body.Text, body.Blocks, body.Metadata
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return p, fmt.Errorf("parse form: %w", err)
	}
	if p.Token == "" {
		p.Token = r.PostForm.Get("token")
	}
	p.Channel, p.Text, p.ThreadTS = r.PostForm.Get("channel"), r.PostForm.Get("text"), r.PostForm.Get("thread_ts")
	p.Broadcast = isTrue(r.PostForm.Get("reply_broadcast"))
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
