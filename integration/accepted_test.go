package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/coursehook/coursehook/internal/pgtest"
	sampletest "github.com/coursehook/coursehook/internal/samples"
	"github.com/coursehook/coursehook/webhook"
	"github.com/coursehook/coursehook/workflows"
)

// shape is one body the webhook accepts, and what its workflow must end as.
type shape struct {
	name string
	id   string
	body []byte
	want workflows.Status
}

// shapeSet builds shapes from the samples, each with a fresh event id.
type shapeSet struct {
	t      *testing.T
	shapes []shape
}

// edit adds the named sample changed by change. The event id is replaced
// after the change, unless the change set an id of its own.
func (s *shapeSet) edit(name, sampleFile string, want workflows.Status, change func(m map[string]any)) {
	s.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", sampleFile))
	require.NoError(s.t, err)
	var m map[string]any
	require.NoError(s.t, json.Unmarshal(raw, &m))
	m["id"] = uuid.NewString()
	if change != nil {
		change(m)
	}
	body, err := json.Marshal(m)
	require.NoError(s.t, err)
	s.add(name, m["id"].(string), body, want)
}

func (s *shapeSet) add(name, id string, body []byte, want workflows.Status) {
	s.shapes = append(s.shapes, shape{name: name, id: id, body: body, want: want})
}

func detail(m map[string]any) map[string]any { return m["userDetail"].(map[string]any) }

// acceptedShapes is every kind of body validation lets through: the samples,
// each optional field missing or null, the hostile suite's odd but
// legitimate input, every field at its longest, names that clean to nothing,
// odd timestamps, and the largest body of each kind of event.
func acceptedShapes(t *testing.T, maxBody int) []shape {
	s := &shapeSet{t: t}
	done := workflows.StatusCompleted
	for _, f := range []string{"course-completion.json", "course-completion-minimal.json", "course-completion-unicode.json"} {
		s.edit("sample "+f, f, done, nil)
	}
	for _, field := range []string{"source", "timestamp", "type", "companyId", "userDetail"} {
		s.edit("no "+field, "course-completion.json", done, func(m map[string]any) { delete(m, field) })
		s.edit("null "+field, "course-completion.json", done, func(m map[string]any) { m[field] = nil })
	}
	for _, field := range []string{"id", "firstName", "lastName", "externalCustomerId", "sfContactId", "sfAccountId", "client", "ref1", "ref2", "ref3"} {
		s.edit("no userDetail."+field, "course-completion.json", done, func(m map[string]any) { delete(detail(m), field) })
		s.edit("null userDetail."+field, "course-completion.json", done, func(m map[string]any) { detail(m)[field] = nil })
	}
	s.edit("no names at all", "course-completion.json", done, func(m map[string]any) {
		delete(detail(m), "firstName")
		delete(detail(m), "lastName")
	})

	// The hostile suite's odd but legitimate input.
	for name, change := range map[string]func(m map[string]any){
		"Slack mention and link in names": func(m map[string]any) {
			detail(m)["firstName"], detail(m)["lastName"] = "<!channel>", "<https://evil|click>"
		},
		"SQL metacharacters":     func(m map[string]any) { m["title"] = "Robert'); DROP TABLE completions; -- \"x\" \\ %_" },
		"apostrophe, ampersand":  func(m map[string]any) { m["title"] = "Health & Safety: Don't <Panic>" },
		"CR/LF and tab in title": func(m map[string]any) { m["title"] = "Safety\r\nBcc: all@example.com\tSubject: prize" },
		"right-to-left override": func(m map[string]any) { detail(m)["firstName"] = "\u202eboB" },
		"emoji and astral name": func(m map[string]any) {
			detail(m)["firstName"], detail(m)["lastName"] = "😀", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
		},
		"unknown fields":         func(m map[string]any) { m["extra"] = map[string]any{"nested": []any{1, "two"}} },
		"documented event name":  func(m map[string]any) { m["event"] = "courseComplete" },
		"same key, other object": func(m map[string]any) { detail(m)["title"] = "not the course title" },
		"plus address":           func(m map[string]any) { m["user"] = "bob+certs@example.com" },
		"HTML in title":          func(m map[string]any) { m["title"] = `<script>alert(1)</script><img src=x onerror=alert(2)>` },
		"odd event id": func(m map[string]any) {
			m["id"] = "évènement / " + uuid.NewString() + " ?#%&<>"
		},
	} {
		s.edit(name, "course-completion.json", done, change)
	}

	// Names that are there, but draw nothing once cleaned.
	for name, names := range map[string][2]string{
		"blank name: space and zero-width space": {" ", "\u200b"},
		"blank name: bidi and joiners":           {"\u202e\u2060", "\u200d\ufeff"},
		"blank name: no-break spaces":            {"\u00a0\u3000", "\u2007"},
	} {
		s.edit(name, "course-completion.json", done, func(m map[string]any) {
			detail(m)["firstName"], detail(m)["lastName"] = names[0], names[1]
		})
	}

	// Odd timestamps validation accepts.
	for _, ts := range []string{"0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"2019-10-17T20:50:53.103+14:00", "2019-10-17T20:50:53-12:00", "2019-10-17T20:50:53.123456789123Z"} {
		s.edit("timestamp "+ts, "course-completion.json", done, func(m map[string]any) { m["timestamp"] = ts })
	}

	// Every field at its longest, in wide and in multi-byte characters.
	for _, ch := range []string{"W", "Ж", "漢"} {
		s.edit("longest fields in "+ch, "course-completion.json", done, func(m map[string]any) {
			m["id"] = strings.Repeat(ch, 128-37) + "-" + uuid.NewString()
			m["user"] = longestEmail()
			m["title"] = strings.Repeat(ch, 500)
			m["notifiableId"] = strings.Repeat(ch, 128)
			m["companyId"] = strings.Repeat(ch, 128)
			d := detail(m)
			d["firstName"], d["lastName"] = strings.Repeat(ch, 200), strings.Repeat(ch, 200)
			d["id"], d["externalCustomerId"] = strings.Repeat(ch, 128), strings.Repeat(ch, 128)
		})
	}
	s.edit("longest title in words", "course-completion.json", done, func(m map[string]any) {
		m["title"] = strings.Repeat("Orientation ", 42)[:500]
	})

	// The largest bodies, of a completion and of an event coursehook ignores.
	for _, kind := range []struct {
		name string
		want workflows.Status
		set  func(m map[string]any)
	}{
		{"completion", done, nil},
		{"ignored event", workflows.StatusIgnored, func(m map[string]any) { m["event"] = "courseStarted" }},
		{"ignored event with a huge type", workflows.StatusIgnored, func(m map[string]any) {
			m["event"] = strings.Repeat("courseStarted", 2000)
		}},
	} {
		id := uuid.NewString()
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "course-completion.json"))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		m["id"] = id
		if kind.set != nil {
			kind.set(m)
		}
		body, err := json.Marshal(m)
		require.NoError(t, err)
		body, err = sampletest.Pad(body, maxBody)
		require.NoError(t, err)
		s.add("largest body: "+kind.name, id, body, kind.want)
	}
	s.edit("ignored event type with NUL and invisible characters", "course-completion.json", workflows.StatusIgnored, func(m map[string]any) {
		m["event"] = "course\u200bCompletion\u0000"
	})
	s.edit("minimal ignored event", "course-completion.json", workflows.StatusIgnored, func(m map[string]any) {
		for k := range m {
			if k != "id" {
				delete(m, k)
			}
		}
		m["event"] = "courseStarted"
	})
	return s.shapes
}

// longestEmail is an address of exactly 254 characters that net/mail takes.
func longestEmail() string {
	addr := strings.Repeat("l", 64) + "@" + strings.Repeat("d", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 57) + ".org"
	if len(addr) != 254 {
		panic(fmt.Sprintf("longestEmail is %d characters", len(addr)))
	}
	return addr
}

// TestEveryAcceptedShapeCompletes is the promise behind every 2xx: whatever
// passes validation runs through the whole workflow, on a real dev server
// with the real activities, and ends completed (or ignored, for other event
// types), never with a CertificateInvalid failure or a Temporal error.
//
// It runs on SQLite, the default, and on PostgreSQL, which refuses some text
// SQLite stores (a NUL character, say).
func TestEveryAcceptedShapeCompletes(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			var dbURL string
			if db == "postgres" {
				dbURL = pgtest.URL(t)
			}
			everyAcceptedShapeCompletes(t, dbURL)
		})
	}
}

func everyAcceptedShapeCompletes(t *testing.T, dbURL string) {
	maxBody := config.DefaultMaxBodyBytes
	s := newStack(t, stackOptions{SlackPerSecond: 200, DatabaseURL: dbURL, Webhook: webhook.Options{MaxBodyBytes: int64(maxBody)}})
	shapes := acceptedShapes(t, maxBody)
	require.GreaterOrEqual(t, len(shapes), 64, "docs/development.md counts them")

	ids := map[string]bool{}
	for _, sh := range shapes {
		require.False(t, ids[sh.id], "each shape has its own event id: %s", sh.name)
		ids[sh.id] = true
	}

	type outcome struct {
		res workflows.CourseCompletionResult
		err error
	}
	outcomes := make([]outcome, len(shapes))
	var wg sync.WaitGroup
	for i, sh := range shapes {
		a := s.post(t, sh.body)
		require.Equal(t, http.StatusAccepted, a.Status, "%s: %v", sh.name, a.Body)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			err := s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(sh.id), "").Get(ctx, &outcomes[i].res)
			outcomes[i].err = err
		}()
	}
	wg.Wait()

	completions := 0
	for i, sh := range shapes {
		o := outcomes[i]
		var appErr *sdktemporal.ApplicationError
		if errors.As(o.err, &appErr) {
			require.NoError(t, o.err, "%s: workflow failed with %s", sh.name, appErr.Type())
		}
		require.NoError(t, o.err, sh.name)
		require.Equal(t, sh.want, o.res.Status, "%s: %+v", sh.name, o.res)
		if sh.want == workflows.StatusCompleted {
			completions++
			require.NotEmpty(t, o.res.Receipts[workflows.StepNameSlack].ID, sh.name)
			require.NotEmpty(t, o.res.Receipts[workflows.StepNameEmail].ID, sh.name)
			require.NotEmpty(t, o.res.Receipts[workflows.StepNameEmail].SHA256, sh.name)
		}
		rec, err := s.Store.Get(context.Background(), sh.id)
		require.NoError(t, err, sh.name)
		require.Equal(t, string(sh.want), string(rec.Status), sh.name)
		require.Equal(t, sh.body, rec.Payload, "%s: the raw body is stored byte for byte", sh.name)
		require.False(t, rec.CompletedAt.IsZero() && sh.want == workflows.StatusCompleted, "%s: every completion has a date", sh.name)
	}
	require.Len(t, s.Slack.Messages(), completions, "one Slack notice per completion")
	sent := s.SendGrid.Messages()
	require.Len(t, sent, completions, "one email per completion")
	for _, m := range sent {
		mail, err := m.Mail()
		require.NoError(t, err)
		require.Len(t, mail.Attachments, 1)
		_, err = pdftext.Read(mail.Attachments[0].Content)
		require.NoError(t, err, "every certificate is a PDF that parses")
	}
}

// TestMissingTimestampIsDatedByReceipt follows the acceptance: the
// sample without its timestamp is accepted, completes, and its certificate,
// email and row are dated by the time coursehook received it.
func TestMissingTimestampIsDatedByReceipt(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	id, body := sample(t, "course-completion.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	delete(m, "timestamp")
	body, err := json.Marshal(m)
	require.NoError(t, err)

	before := time.Now().UTC()
	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	after := time.Now().UTC()
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	recordHistory(t, id, "history-no-timestamp.json")

	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, rec.ReceivedAt, rec.CompletedAt, "the row's completion date is its receipt")
	require.False(t, rec.CompletedAt.Before(before.Truncate(time.Microsecond)) || rec.CompletedAt.After(after))

	sent := s.SendGrid.Messages()
	require.Len(t, sent, 1)
	mail, err := sent[0].Mail()
	require.NoError(t, err)
	doc, err := pdftext.Read(mail.Attachments[0].Content)
	require.NoError(t, err)
	require.Contains(t, doc.Text(), "Completed on "+rec.ReceivedAt.Format("2 January 2006"))
	require.Contains(t, mail.Text, rec.ReceivedAt.Format("2 January 2006"))
}

// TestNameBlankOnceCleanedFallsBackEverywhere: a first name of a space and a
// last name of a zero-width space read as no name, so the certificate, the
// email and Slack all address the learner by their email.
func TestNameBlankOnceCleanedFallsBackEverywhere(t *testing.T) {
	t.Parallel()
	d := deliver(t, setNames(" ", "\u200b"))
	const email = "bob.johnson@example.com"
	require.Contains(t, d.PDFText, email)
	require.Contains(t, d.slack(), email)
	require.Contains(t, d.Mail.Text, email)
	require.NotContains(t, d.PDFText, "\u200b")
	require.NotContains(t, d.slack(), "\u200b")
	require.NotContains(t, fmt.Sprint(d.Mail.ToNames), "\u200b")
}

// TestLargestAllowedBodyFitsTemporal: WEBHOOK_MAX_BODY_BYTES cannot be set
// above config.MaxMaxBodyBytes, and a body of that size, encrypted as in
// production, still fits Temporal's payload limit, for either kind of event.
func TestLargestAllowedBodyFitsTemporal(t *testing.T) {
	t.Parallel()
	keys := codecKeys(t, newSpec(t, "k1"))
	s := newStack(t, stackOptions{
		SlackPerSecond: 50, DataConverter: codec.DataConverter(keys), FailureConverter: codec.FailureConverter(keys),
		// The start carries the largest body, encrypted, to a server the
		// whole suite shares; this test is about sizes, so the start gets
		// the platform's whole wait rather than the 5 s default, which a
		// busy machine has overrun.
		Webhook: webhook.Options{MaxBodyBytes: config.MaxMaxBodyBytes, StartTimeout: 12 * time.Second},
	})
	for _, kind := range []struct {
		event string
		want  workflows.Status
	}{{"courseCompletion", workflows.StatusCompleted}, {"courseStarted", workflows.StatusIgnored}} {
		id, body := sample(t, "course-completion.json")
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		m["event"] = kind.event
		body, err := json.Marshal(m)
		require.NoError(t, err)
		body, err = sampletest.Pad(body, config.MaxMaxBodyBytes)
		require.NoError(t, err)
		a := s.post(t, body)
		require.Equal(t, http.StatusAccepted, a.Status, "%v", a.Body)
		require.Equal(t, kind.want, s.result(t, id).Status)
		rec, err := s.Store.Get(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, body, rec.Payload)
	}
}
