package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/workflows"
)

// delivered is what one event turned into: the Slack notice's text, as the
// blocks and the fallback carry it, the email, and the certificate's text.
type delivered struct {
	SlackTexts []string
	Mail       sendgridtest.Mail
	PDFText    string
}

// deliver posts an edited sample through a whole stack and collects what
// reached Slack, SendGrid and the PDF.
func deliver(t *testing.T, change func(m map[string]any)) delivered {
	t.Helper()
	s := newStack(t)
	id, body := sample(t, "course-completion.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	change(m)
	body, err := json.Marshal(m)
	require.NoError(t, err)

	a := s.post(t, body)
	require.Equal(t, http.StatusAccepted, a.Status, "odd but legitimate input is never refused: %v", a.Body)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	n, err := s.Store.Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)

	var d delivered
	msgs := s.Slack.Messages()
	require.Len(t, msgs, 1)
	d.SlackTexts = append(blockTexts(t, msgs[0].Blocks), msgs[0].Text)

	sent := s.SendGrid.Messages()
	require.Len(t, sent, 1)
	d.Mail, err = sent[0].Mail()
	require.NoError(t, err)
	require.Len(t, d.Mail.Attachments, 1)
	doc, err := pdftext.Read(d.Mail.Attachments[0].Content)
	require.NoError(t, err)
	d.PDFText = doc.Text()
	return d
}

// blockTexts returns every "text" string in Block Kit blocks, decoded from
// JSON, so the assertions see what Slack renders rather than JSON escapes.
func blockTexts(t *testing.T, blocks json.RawMessage) []string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(blocks, &v))
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				if s, ok := child.(string); ok && k == "text" {
					out = append(out, s)
				}
				walk(child)
			}
		case []any:
			for _, child := range x {
				walk(child)
			}
		}
	}
	walk(v)
	require.NotEmpty(t, out)
	return out
}

func (d delivered) slack() string { return strings.Join(d.SlackTexts, "\n--\n") }

func setNames(first, last string) func(m map[string]any) {
	return func(m map[string]any) {
		ud := m["userDetail"].(map[string]any)
		ud["firstName"], ud["lastName"] = first, last
	}
}

func setTitle(title string) func(m map[string]any) {
	return func(m map[string]any) { m["title"] = title }
}

func TestHostileNamesAreEscapedEverywhere(t *testing.T) {
	t.Parallel()
	d := deliver(t, setNames("<!channel>", "<https://evil|click>"))

	slack := d.slack()
	require.Contains(t, slack, "&lt;!channel&gt; &lt;https://evil|click&gt;")
	require.NotContains(t, slack, "<!channel>", "a name must not mention the whole channel")
	require.NotContains(t, slack, "<https://evil", "a name must not open a link")

	require.NotContains(t, d.Mail.HTML, "<!channel>")
	require.NotContains(t, d.Mail.HTML, "<https://evil|click>")
	require.Contains(t, d.Mail.HTML, "&lt;!channel&gt; &lt;https://evil|click&gt;")
	require.Contains(t, d.Mail.Text, "<!channel> <https://evil|click>", "plain text shows the name as sent")
	require.Len(t, d.Mail.ToNames, 1)
	require.NotContains(t, d.Mail.ToNames[0], "<", "angle brackets would read as an address")
	require.NotContains(t, d.Mail.ToNames[0], ">")
	require.Contains(t, d.Mail.ToNames[0], "!channel")

	require.Contains(t, d.PDFText, "<!channel> <https://evil|click>", "the certificate shows the name as sent")
}

func TestSQLMetacharactersAreJustText(t *testing.T) {
	t.Parallel()
	title := `Robert'); DROP TABLE completions; -- "x" \ %_`
	s := newStack(t)
	id, body := sample(t, "course-completion.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["title"] = title
	m["userDetail"].(map[string]any)["lastName"] = "O'Brien; DELETE FROM completions"
	body, err := json.Marshal(m)
	require.NoError(t, err)

	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	rec, err := s.Store.Get(context.Background(), id)
	require.NoError(t, err, "the table is still there")
	require.Equal(t, title, rec.CourseTitle)
	require.Equal(t, "O'Brien; DELETE FROM completions", rec.LastName)
	n, err := s.Store.Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, s.Slack.Messages(), 1)
}

func TestApostropheAndAmpersandInATitle(t *testing.T) {
	t.Parallel()
	title := "Health & Safety: Don't <Panic>"
	d := deliver(t, setTitle(title))

	slack := d.slack()
	require.Contains(t, slack, "Health &amp; Safety: Don't &lt;Panic&gt;", "Slack escapes &, < and > and nothing else")
	require.NotContains(t, slack, "<Panic>")

	require.Equal(t, "Your certificate for "+title, d.Mail.Subject, "a subject is not HTML")
	require.Contains(t, d.Mail.HTML, "Health &amp; Safety: Don&#39;t &lt;Panic&gt;")
	require.NotContains(t, d.Mail.HTML, "<Panic>")
	require.Contains(t, d.Mail.Text, title)

	require.Contains(t, d.PDFText, "Health & Safety: Don't <Panic>")
}

func TestLineBreaksInATitleStayOnOneLine(t *testing.T) {
	t.Parallel()
	d := deliver(t, setTitle("Safety\r\nBcc: all@example.com\nSubject: prize"))

	require.NotContains(t, d.Mail.Subject, "\r")
	require.NotContains(t, d.Mail.Subject, "\n")
	require.Equal(t, "Your certificate for Safety Bcc: all@example.com Subject: prize", d.Mail.Subject)
	require.Equal(t, []string{"bob.johnson@example.com"}, d.Mail.To, "no address was added")

	// Slack turns each of CR and LF into a space; only the line matters.
	require.Regexp(t, `Safety +Bcc: all@example.com Subject: prize`, d.slack())
	for _, text := range d.SlackTexts {
		require.NotContains(t, text, "\nBcc", "a title cannot add a line that looks like a label")
	}
	require.NotContains(t, d.Mail.HTML, "Safety\r\n")
	require.Contains(t, d.PDFText, "Safety")
	require.Contains(t, d.PDFText, "Bcc: all@example.com")
}
