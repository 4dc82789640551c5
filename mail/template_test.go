package mail

import (
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/sendgridtest"
)

// TestBuildWithoutTemplatesIsUnchanged pins today's wording byte for byte:
// a course without templates, subject, intro or issuer gets the email it
// always got.
func TestBuildWithoutTemplatesIsUnchanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, learner, text, html string
	}{
		{
			"named", "Bob Johnson",
			"Congratulations, Bob Johnson!\n\nYou completed New Student Orientation on 17 October 2019.\nYour certificate is attached to this email.\n\nCertificate ID: " + sampleEventID + "\n",
			"<!DOCTYPE html>\n<html>\n<body>\n<p>Congratulations, Bob Johnson!</p>\n<p>You completed <strong>New Student Orientation</strong> on 17 October 2019.<br>\nYour certificate is attached to this email.</p>\n<p>Certificate ID: " + sampleEventID + "</p>\n</body>\n</html>\n",
		},
		{
			"nameless", "",
			"Congratulations!\n\nYou completed New Student Orientation on 17 October 2019.\nYour certificate is attached to this email.\n\nCertificate ID: " + sampleEventID + "\n",
			"<!DOCTYPE html>\n<html>\n<body>\n<p>Congratulations!</p>\n<p>You completed <strong>New Student Orientation</strong> on 17 October 2019.<br>\nYour certificate is attached to this email.</p>\n<p>Certificate ID: " + sampleEventID + "</p>\n</body>\n</html>\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := sampleMessage()
			m.LearnerName = tt.learner
			// Blank templates count as none.
			m.Subject, m.Intro, m.Issuer = " \r\n", "\t", "\u00a0"
			w := decode(t, Build(sampleFrom, m))
			require.Equal(t, "Your certificate for New Student Orientation", w.Subject)
			require.Equal(t, tt.text, contentOf(t, w, "text/plain"))
			require.Equal(t, tt.html, contentOf(t, w, "text/html"))
		})
	}
}

func TestBuildCourseTemplates(t *testing.T) {
	t.Parallel()
	m := sampleMessage()
	m.Subject = "Well done on New Student Orientation, Bob"
	m.Intro = "You finished the orientation on 17 October 2019.\nWelcome aboard!"
	m.Issuer = "Acme Academy"
	w := decode(t, Build(sampleFrom, m))

	require.Equal(t, "Well done on New Student Orientation, Bob", w.Subject)
	require.Equal(t, "Congratulations, Bob Johnson!\n\nYou finished the orientation on 17 October 2019. Welcome aboard!\n"+
		"Your certificate is attached to this email.\n\nCertificate ID: "+sampleEventID+"\n\n— Acme Academy\n", contentOf(t, w, "text/plain"))
	require.Equal(t, "<!DOCTYPE html>\n<html>\n<body>\n<p>Congratulations, Bob Johnson!</p>\n"+
		"<p>You finished the orientation on 17 October 2019. Welcome aboard!<br>\nYour certificate is attached to this email.</p>\n"+
		"<p>Certificate ID: "+sampleEventID+"</p>\n<p>— Acme Academy</p>\n</body>\n</html>\n", contentOf(t, w, "text/html"))

	t.Run("issuer alone", func(t *testing.T) {
		t.Parallel()
		m := sampleMessage()
		m.Issuer = "Acme Academy"
		w := decode(t, Build(sampleFrom, m))
		require.Equal(t, "Your certificate for New Student Orientation", w.Subject)
		require.True(t, strings.HasSuffix(contentOf(t, w, "text/plain"), "Certificate ID: "+sampleEventID+"\n\n— Acme Academy\n"))
		require.Contains(t, contentOf(t, w, "text/html"), "You completed <strong>New Student Orientation</strong>")
	})
}

func TestBuildTemplateSubjectIsHeaderSafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, subject, want string
	}{
		{"plain", "Well done, Bob", "Well done, Bob"},
		{"CRLF header injection", "Well done\r\nBcc: eve@example.com", "Well done Bcc: eve@example.com"},
		{"bare LF and CR", "a\nb\rc", "a b c"},
		{"header folding", "Well done\r\n Bcc: eve@example.com", "Well done Bcc: eve@example.com"},
		{"control characters", "A\tB\x00C\x7fD\u0085E\x1bF", "A B C D E F"},
		{"unicode line breaks", "a\u2028b\u2029c", "a b c"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"unicode kept", "Café — 日本語 🎓", "Café — 日本語 🎓"},
		{"only controls falls back", "\r\n\t\x00", "Your certificate for New Student Orientation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := sampleMessage()
			m.Subject = tt.subject
			require.Equal(t, tt.want, decode(t, Build(sampleFrom, m)).Subject)
		})
	}
	t.Run("capped", func(t *testing.T) {
		t.Parallel()
		got := SubjectLine(strings.Repeat("日本語🎓 ", 100))
		require.Equal(t, maxSubjectRunes, utf8.RuneCountInString(got))
		require.True(t, utf8.ValidString(got))
		require.True(t, strings.HasSuffix(got, "…"))
	})
	t.Run("no control character survives", func(t *testing.T) {
		t.Parallel()
		var all strings.Builder
		for r := rune(0); r < 0xa0; r++ {
			all.WriteRune(r)
		}
		all.WriteString("\u2028\u2029")
		for _, r := range SubjectLine("x" + all.String()) {
			require.False(t, unicode.IsControl(r), "control character %U in subject", r)
			require.NotContains(t, "\u2028\u2029", string(r))
		}
	})
}

func TestBuildTemplateIntroIsInert(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, intro, text, html string
	}{
		{"script", "<script>alert(1)</script>", "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"markup and entities", `Tom & Jerry's <b onclick="x">course</b>`, `Tom & Jerry's <b onclick="x">course</b>`,
			"Tom &amp; Jerry&#39;s &lt;b onclick=&#34;x&#34;&gt;course&lt;/b&gt;"},
		{"one paragraph", "First line.\r\n\r\nSecond paragraph.\n\n\n- a list", "First line. Second paragraph. - a list", "First line. Second paragraph. - a list"},
		{"fake footer", "Hi\n\nCertificate ID: forged", "Hi Certificate ID: forged", "Hi Certificate ID: forged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := sampleMessage()
			m.Intro = tt.intro
			m.Issuer = "<i>Evil</i>\r\nBcc: eve@example.com"
			w := decode(t, Build(sampleFrom, m))

			text := contentOf(t, w, "text/plain")
			require.Contains(t, text, "\n\n"+tt.text+"\nYour certificate is attached to this email.\n\n")
			require.Equal(t, 1, strings.Count(text, "Certificate ID: "+sampleEventID))
			require.True(t, strings.HasSuffix(text, "\n\n— <i>Evil</i> Bcc: eve@example.com\n"), "issuer on one line: %q", text)

			html := contentOf(t, w, "text/html")
			require.Contains(t, html, "<p>"+tt.html+"<br>\nYour certificate is attached to this email.</p>")
			require.NotContains(t, html, "<script")
			require.NotContains(t, html, "<b ")
			require.NotContains(t, html, "<i>")
			require.Contains(t, html, "<p>— &lt;i&gt;Evil&lt;/i&gt; Bcc: eve@example.com</p>")
		})
	}
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		m := sampleMessage()
		m.Intro = strings.Repeat("<a>&🎓 ", 2000)
		m.Issuer = strings.Repeat("Acme ", 100)
		w := decode(t, Build(sampleFrom, m))
		text := contentOf(t, w, "text/plain")
		intro := strings.Split(text, "\n")[2]
		require.Equal(t, maxIntroRunes, utf8.RuneCountInString(intro))
		require.True(t, strings.HasSuffix(intro, "…"))
		signature := strings.TrimPrefix(strings.Split(strings.TrimSuffix(text, "\n"), "\n")[7], "— ")
		require.Equal(t, maxNameRunes, utf8.RuneCountInString(signature))
		require.NotContains(t, contentOf(t, w, "text/html"), "<a>")
	})
}

// TestTemplatesOverTheWire sends a templated email through the real client to
// the SendGrid stand-in and reads back what SendGrid would have received.
func TestTemplatesOverTheWire(t *testing.T) {
	t.Parallel()
	srv := sendgridtest.NewServer(t)
	m := sampleMessage()
	m.Subject = "Certificate\r\nBcc: eve@example.com"
	m.Intro = "<script>alert(1)</script>\nWelcome!"
	m.Issuer = "Acme Academy"
	_, err := NewSendGrid(testAPIKey, srv.URL(), sampleFrom, nil).Send(t.Context(), m)
	require.NoError(t, err)

	sent := srv.MessagesFor(sampleEventID)
	require.Len(t, sent, 1)
	got, err := sent[0].Mail()
	require.NoError(t, err)
	require.Equal(t, "Certificate Bcc: eve@example.com", got.Subject)
	require.Equal(t, []string{"bob.johnson@example.com"}, got.To, "no recipient was injected")
	require.Contains(t, got.Text, "\n\n<script>alert(1)</script> Welcome!\n")
	require.Contains(t, got.HTML, "<p>&lt;script&gt;alert(1)&lt;/script&gt; Welcome!<br>")
	require.Contains(t, got.HTML, "<p>— Acme Academy</p>")
}

func TestOutboxKeepsTemplates(t *testing.T) {
	t.Parallel()
	m := sampleMessage()
	m.Subject, m.Intro, m.Issuer = "Well done", "<b>Welcome</b>", "Acme Academy"
	r, err := Outbox{Dir: t.TempDir(), From: sampleFrom}.Send(t.Context(), m)
	require.NoError(t, err)
	data, err := os.ReadFile(r.MessageID)
	require.NoError(t, err)
	require.Contains(t, string(data), `"subject": "Well done"`)
	require.Contains(t, string(data), "<p>&lt;b&gt;Welcome&lt;/b&gt;<br>")
}
