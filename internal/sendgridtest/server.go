// Package sendgridtest is a local stand-in for SendGrid's /v3/mail/send, for
// tests that must exercise the real HTTP client, its headers and its error
// handling without an account or the network.
package sendgridtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coursehook/coursehook/internal/standin"
)

// SendPath is the endpoint the server answers.
const SendPath = "/v3/mail/send"

// maxBodyBytes is SendGrid's documented limit on a whole message.
const maxBodyBytes = 30 << 20

// Server answers like SendGrid's mail send endpoint and records what it got.
type Server struct {
	srv *httptest.Server
	rec *standin.Recorder[Sent, Failure]

	mu sync.Mutex
	// events reports accepted messages to an Event Webhook (ReportEvents).
	events *reporter
}

// Sent is one message the server accepted.
type Sent struct {
	Body      json.RawMessage // the request body as received
	Auth      string          // the Authorization header, "Bearer <key>"
	MessageID string          // the X-Message-Id the server answered with
	At        time.Time
}

// Failure is an answer to give instead of accepting a message.
type Failure struct {
	// Status is the HTTP status; 0 means 503.
	Status int
	// Errors are the messages of the errors[] body; empty means one message
	// naming the status.
	Errors []string
	// RateLimitReset is sent as X-RateLimit-Reset (Unix seconds); zero means
	// one second from now. Only used with 429.
	RateLimitReset time.Time
}

// NewServer starts a server that t closes when it ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{rec: standin.NewRecorder[Sent, Failure]()}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL to give the client, without the endpoint path.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server; later requests fail to connect. It is safe to call
// more than once.
func (s *Server) Close() { s.rec.Close(s.srv.Close) }

// Messages returns the accepted messages in the order they arrived.
func (s *Server) Messages() []Sent { return s.rec.Messages() }

// MessagesFor returns the accepted messages whose custom_args carry eventID
// as event_id, in the order they arrived: more than one is a duplicate mail.
// A personalization's custom_args override the top-level ones, as SendGrid
// combines them.
func (s *Server) MessagesFor(eventID string) []Sent {
	var out []Sent
	for _, m := range s.Messages() {
		if slices.Contains(eventIDs(m.Body), eventID) {
			out = append(out, m)
		}
	}
	return out
}

// MessagesPerEvent counts the accepted messages by event id (as
// MessagesFor reads it), in one pass: a count over 1 is a duplicate mail.
func (s *Server) MessagesPerEvent() map[string]int {
	counts := map[string]int{}
	for _, m := range s.Messages() {
		for _, id := range eventIDs(m.Body) {
			counts[id]++
		}
	}
	return counts
}

// SetResponseDelay makes every accepted message wait d after it is recorded
// and before the 202 is sent: SendGrid has the mail, the client does not know
// yet, which is when a timeout or a crash makes a retry send it twice. The
// wait ends early when the client hangs up or the server closes, and then no
// answer is sent. Failures are answered at once. Zero turns it off.
func (s *Server) SetResponseDelay(d time.Duration) { s.rec.SetResponseDelay(d) }

// Attempts counts requests to the send endpoint, accepted or not.
func (s *Server) Attempts() int { return s.rec.Attempts() }

// AttemptTimes returns when each request to the send endpoint arrived, so a
// test can check the client's backoff.
func (s *Server) AttemptTimes() []time.Time { return s.rec.AttemptTimes() }

// FailNext answers the next n requests with f, before any other check.
func (s *Server) FailNext(n int, f Failure) { s.rec.FailNext(n, f) }

// FailAlways answers every request after the queued FailNext ones with f.
// Unlike slacktest's, a zero Failure does not turn it off: it fails with 503.
func (s *Server) FailAlways(f Failure) { s.rec.FailAlways(f) }

// ClearFailAlways undoes FailAlways; queued failures stay.
func (s *Server) ClearFailAlways() { s.rec.ClearFailAlways() }

// WaitForMessages waits until at least n messages were accepted and returns
// them all; it fails t when timeout passes first.
func (s *Server) WaitForMessages(t testing.TB, n int, timeout time.Duration) []Sent {
	t.Helper()
	return s.rec.WaitForMessages(t, n, timeout, "sendgridtest: got %d messages after %s, want %d (%d attempts)")
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != SendPath {
		writeErrors(w, http.StatusNotFound, apiError{Message: "not found"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeErrors(w, http.StatusMethodNotAllowed, apiError{Message: "method not allowed"})
		return
	}

	_, f, fail := s.rec.Attempt()
	if fail {
		writeFailure(w, f)
		return
	}

	auth := r.Header.Get("Authorization")
	if key, ok := strings.CutPrefix(auth, "Bearer "); !ok || strings.TrimSpace(key) == "" {
		writeErrors(w, http.StatusUnauthorized, apiError{Message: "The provided authorization grant is invalid, expired, or revoked"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeErrors(w, http.StatusUnsupportedMediaType, apiError{Message: "Content-Type should be application/json."})
		return
	}

	body, err := readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeErrors(w, http.StatusRequestEntityTooLarge, apiError{Message: "The JSON payload you have included in your request is too large."})
			return
		}
		writeErrors(w, http.StatusBadRequest, apiError{Message: "could not read the request body"})
		return
	}
	if problems := validate(body); len(problems) > 0 {
		writeErrors(w, http.StatusBadRequest, problems...)
		return
	}

	hold := s.rec.Hold()
	id := s.accept(body, auth)
	s.report(id, body)
	hold(r)
	w.Header().Set("X-Message-Id", id)
	w.WriteHeader(http.StatusAccepted)
}

// eventIDs returns the event_id custom arg each personalization ends up
// with, the top-level one where a personalization sets none.
func eventIDs(body []byte) []string {
	var m wireMail
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	top, hasTop := m.CustomArgs["event_id"]
	var ids []string
	for _, p := range m.Personalizations {
		if id, ok := p.CustomArgs["event_id"]; ok {
			ids = append(ids, id)
		} else if hasTop {
			ids = append(ids, top)
		}
	}
	if len(m.Personalizations) == 0 && hasTop {
		ids = append(ids, top)
	}
	return ids
}

// accept records the message and returns the X-Message-Id to answer with.
func (s *Server) accept(body []byte, auth string) string {
	return s.rec.Accept(func(seq int) Sent {
		id := fmt.Sprintf("sendgridtest-%06d", seq)
		return Sent{Body: body, Auth: auth, MessageID: id, At: time.Now()}
	}).MessageID
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
}

func writeFailure(w http.ResponseWriter, f Failure) {
	status := f.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusTooManyRequests {
		reset := f.RateLimitReset
		if reset.IsZero() {
			reset = time.Now().Add(time.Second)
		}
		w.Header().Set("X-RateLimit-Limit", "600")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	}
	errs := make([]apiError, 0, len(f.Errors))
	for _, m := range f.Errors {
		errs = append(errs, apiError{Message: m})
	}
	if len(errs) == 0 {
		errs = append(errs, apiError{Message: strings.ToLower(http.StatusText(status))})
	}
	writeErrors(w, status, errs...)
}

// apiError is one entry of SendGrid's errors[]; field and help are null when
// they do not apply, as SendGrid sends them.
type apiError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

func fieldError(field, message string) apiError {
	return apiError{Message: message, Field: &field}
}

func writeErrors(w http.ResponseWriter, status int, errs ...apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Errors []apiError `json:"errors"`
	}{errs}) // the client hung up; nothing to tell it
}

// wireMail is the part of the v3 body the server checks and tests read. It is
// declared here rather than borrowed from sendgrid-go so that a change in the
// helper's JSON tags shows up as a failed test.
type wireMail struct {
	From             *wireAddress `json:"from"`
	Subject          string       `json:"subject"`
	Personalizations []struct {
		To         []wireAddress     `json:"to"`
		Subject    string            `json:"subject"`
		CustomArgs map[string]string `json:"custom_args"`
	} `json:"personalizations"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	Attachments []struct {
		Content     string `json:"content"`
		Type        string `json:"type"`
		Filename    string `json:"filename"`
		Disposition string `json:"disposition"`
	} `json:"attachments"`
	TemplateID string            `json:"template_id"`
	CustomArgs map[string]string `json:"custom_args"`
}

type wireAddress struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// validate checks what SendGrid rejects most often, naming the fields the way
// SendGrid does.
func validate(body []byte) []apiError {
	var m wireMail
	if err := json.Unmarshal(body, &m); err != nil {
		return []apiError{{Message: "Bad Request: the request body is not valid JSON"}}
	}
	var problems []apiError
	if m.From == nil || m.From.Email == "" {
		problems = append(problems, fieldError("from.email", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."))
	}
	if len(m.Personalizations) == 0 {
		problems = append(problems, fieldError("personalizations", "The personalizations field is required and must have at least one personalization."))
	}
	subjectEverywhere := len(m.Personalizations) > 0
	for i, p := range m.Personalizations {
		if len(p.To) == 0 {
			problems = append(problems, fieldError(fmt.Sprintf("personalizations.%d.to", i), "The to array is required for all personalization objects, and must have at least one email object with a valid email address."))
		}
		for j, to := range p.To {
			if to.Email == "" {
				problems = append(problems, fieldError(fmt.Sprintf("personalizations.%d.to.%d.email", i, j), "The email address is required."))
			}
		}
		if p.Subject == "" {
			subjectEverywhere = false
		}
	}
	if m.TemplateID == "" {
		if m.Subject == "" && !subjectEverywhere {
			problems = append(problems, fieldError("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."))
		}
		if len(m.Content) == 0 {
			problems = append(problems, fieldError("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block."))
		}
	}
	for i, c := range m.Content {
		if c.Type == "" || c.Value == "" {
			problems = append(problems, fieldError(fmt.Sprintf("content.%d", i), "Each content block must have a type and a value of at least one character."))
		}
	}
	for i, a := range m.Attachments {
		if a.Filename == "" {
			problems = append(problems, fieldError(fmt.Sprintf("attachments.%d.filename", i), "The attachment filename parameter is required."))
		}
		if _, err := base64.StdEncoding.DecodeString(a.Content); err != nil || a.Content == "" {
			problems = append(problems, fieldError(fmt.Sprintf("attachments.%d.content", i), "The attachment content must be base64 encoded."))
		}
	}
	return problems
}
