package mail

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
	"github.com/stretchr/testify/require"
)

const sampleEventID = "32ed16df-27cb-5f72-90ff-4eaf39346f86"

var sampleFrom = From{Email: "certificates@coursehook.example", Name: "Coursehook Certificates"}

// samplePDF is enough of a PDF to tell bytes apart; the mail package never
// parses it.
var samplePDF = []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\nfake certificate\n%%EOF\n")

func sampleMessage() Message {
	return Message{
		EventID:         sampleEventID,
		To:              "bob.johnson@example.com",
		LearnerName:     "Bob Johnson",
		CourseTitle:     "New Student Orientation",
		CompletedAt:     time.Date(2019, 10, 17, 20, 50, 53, 0, time.UTC),
		Certificate:     samplePDF,
		CertificateName: "certificate-" + sampleEventID + ".pdf",
	}
}

// wire is the v3 body as SendGrid reads it, decoded independently of the
// helper's structs so that the test checks JSON, not Go values.
type wire struct {
	From struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"from"`
	Subject          string `json:"subject"`
	Personalizations []struct {
		To []struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"to"`
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
	CustomArgs map[string]string `json:"custom_args"`
}

func decode(t *testing.T, m *sgmail.SGMailV3) wire {
	t.Helper()
	var w wire
	require.NoError(t, json.Unmarshal(sgmail.GetRequestBody(m), &w))
	return w
}

func contentOf(t *testing.T, w wire, typ string) string {
	t.Helper()
	for _, c := range w.Content {
		if c.Type == typ {
			return c.Value
		}
	}
	t.Fatalf("no %s content in %+v", typ, w.Content)
	return ""
}

func TestBuildSample(t *testing.T) {
	t.Parallel()
	w := decode(t, Build(sampleFrom, sampleMessage()))

	require.Equal(t, sampleFrom.Email, w.From.Email)
	require.Equal(t, sampleFrom.Name, w.From.Name)
	require.Equal(t, "Your certificate for New Student Orientation", w.Subject)
	require.Len(t, w.Personalizations, 1)
	require.Len(t, w.Personalizations[0].To, 1)
	require.Equal(t, "bob.johnson@example.com", w.Personalizations[0].To[0].Email)
	require.Equal(t, "Bob Johnson", w.Personalizations[0].To[0].Name)
	require.Equal(t, map[string]string{"event_id": sampleEventID}, w.CustomArgs)

	require.Len(t, w.Content, 2)
	require.Equal(t, "text/plain", w.Content[0].Type, "SendGrid requires text/plain before text/html")
	for _, typ := range []string{"text/plain", "text/html"} {
		body := contentOf(t, w, typ)
		require.Contains(t, body, "Bob Johnson", typ)
		require.Contains(t, body, "New Student Orientation", typ)
		require.Contains(t, body, "17 October 2019", typ)
		require.Contains(t, body, sampleEventID, typ)
	}

	require.Len(t, w.Attachments, 1)
	a := w.Attachments[0]
	require.Equal(t, "certificate-"+sampleEventID+".pdf", a.Filename)
	require.Equal(t, "application/pdf", a.Type)
	require.Equal(t, "attachment", a.Disposition)
	pdf, err := base64.StdEncoding.DecodeString(a.Content)
	require.NoError(t, err)
	require.Equal(t, samplePDF, pdf)
}

func TestBuildDateIsUTC(t *testing.T) {
	t.Parallel()
	m := sampleMessage()
	// 23:30 on the 17th in New York is already the 18th in UTC.
	m.CompletedAt = time.Date(2019, 10, 17, 23, 30, 0, 0, time.FixedZone("EDT", -4*60*60))
	w := decode(t, Build(sampleFrom, m))
	require.Contains(t, contentOf(t, w, "text/plain"), "18 October 2019")
}

func TestBuildEscapesHTML(t *testing.T) {
	t.Parallel()
	m := sampleMessage()
	m.LearnerName = "<script>alert(1)</script>"
	m.CourseTitle = "Tom & Jerry's <b>"
	w := decode(t, Build(sampleFrom, m))

	body := contentOf(t, w, "text/html")
	require.Contains(t, body, html.EscapeString(m.LearnerName))
	require.Contains(t, body, html.EscapeString(m.CourseTitle))
	require.NotContains(t, body, "<script>")
	require.NotContains(t, body, "<b>")
	require.NotContains(t, body, "Tom & Jerry")

	require.Contains(t, contentOf(t, w, "text/plain"), m.CourseTitle, "plain text is not markup and stays as typed")
}

func TestBuildDisplayNames(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, want string }{
		{"Bob Johnson", "Bob Johnson"},
		{"Bob\r\nBcc: eve@example.com", "Bob Bcc: eve@example.com"},
		{`Bob "The Builder" Johnson`, "Bob The Builder Johnson"},
		{"Johnson, Bob; Jr", "Johnson Bob Jr"},
		{"Eve <eve@example.com>", "Eve eve@example.com"},
		{"Zoë Ñúñez 李", "Zoë Ñúñez 李"},
		{"\t\x00 ", ""},
		{strings.Repeat("a", 300), strings.Repeat("a", maxNameRunes-1) + "…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := sampleMessage()
			m.LearnerName = c.name
			w := decode(t, Build(From{Email: sampleFrom.Email, Name: c.name}, m))
			require.Equal(t, c.want, w.Personalizations[0].To[0].Name)
			require.Equal(t, c.want, w.From.Name)
		})
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Advanced Topics ", 30)
	cases := []struct {
		name, title, want string
	}{
		{"plain", "New Student Orientation", "Your certificate for New Student Orientation"},
		{"header injection", "Evil\r\nBcc: x@y", "Your certificate for Evil Bcc: x@y"},
		{"control characters", "A\tB\x00C\x7fD\u0085E", "Your certificate for A B C D E"},
		{"surrounding space", "  \n Course \r ", "Your certificate for Course"},
		{"unicode kept", "Café für Anfänger — 日本語 🎓", "Your certificate for Café für Anfänger — 日本語 🎓"},
		{"empty", "", "Your certificate"},
		{"only controls", "\r\n\t", "Your certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, Subject(c.title))
		})
	}

	t.Run("long title capped", func(t *testing.T) {
		t.Parallel()
		got := Subject(long)
		require.Equal(t, maxSubjectRunes, utf8.RuneCountInString(got))
		require.True(t, strings.HasPrefix(got, "Your certificate for Advanced Topics"))
		require.True(t, strings.HasSuffix(got, "…"))
	})

	t.Run("cut never splits a rune", func(t *testing.T) {
		t.Parallel()
		got := Subject(strings.Repeat("日本語🎓", 100))
		require.True(t, utf8.ValidString(got))
		require.LessOrEqual(t, utf8.RuneCountInString(got), maxSubjectRunes)
	})

	t.Run("no control character survives", func(t *testing.T) {
		t.Parallel()
		var all strings.Builder
		for r := rune(0); r < 0xa0; r++ {
			all.WriteRune(r)
		}
		for _, r := range Subject(all.String()) {
			require.False(t, unicode.IsControl(r), "control character %U in subject", r)
		}
	})
}

func TestAttachmentName(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, want string }{
		{"certificate-" + sampleEventID + ".pdf", "certificate-" + sampleEventID + ".pdf"},
		{"../../etc/passwd", "passwd.pdf"},
		{`..\..\boot.ini`, "boot_ini.pdf"},
		{"report.PDF", "report.pdf"},
		{"two words\r\n.pdf", "two_words__.pdf"},
		{"", "certificate-" + sampleEventID + ".pdf"},
		{"..", "certificate-" + sampleEventID + ".pdf"},
		{"dir/", "certificate-" + sampleEventID + ".pdf"},
		{strings.Repeat("x", 300) + ".pdf", strings.Repeat("x", maxFileNameBytes) + ".pdf"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, attachmentName(c.name, sampleEventID), "name %q", c.name)
	}
}
