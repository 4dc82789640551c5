package mail

import (
	"html"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sampleReminder() Message {
	m := sampleMessage()
	m.Certificate, m.CertificateName = nil, ""
	m.ResendID = "reminder-30d"
	m.Reminder = &Reminder{
		ExpiresAt:       time.Date(2027, 12, 6, 23, 30, 0, 0, time.UTC),
		CourseURL:       "https://learn.example.com/orientation",
		VerificationURL: "https://certs.example.com/certificates/ABCDE-FGHJK-MNPQR-STVWX",
	}
	return m
}

func TestBuildReminder(t *testing.T) {
	t.Parallel()
	w := decode(t, Build(sampleFrom, sampleReminder()))
	require.Equal(t, "Your certificate for New Student Orientation expires on 6 December 2027", w.Subject)
	require.Empty(t, w.Attachments, "a reminder carries no certificate")
	require.Equal(t, map[string]string{"event_id": sampleEventID, "resend_id": "reminder-30d"}, w.CustomArgs,
		"SendGrid's events tell the reminder from the certificate's email")
	for _, typ := range []string{"text/plain", "text/html"} {
		body := contentOf(t, w, typ)
		require.Contains(t, body, "Bob Johnson", typ)
		require.Contains(t, body, "6 December 2027", typ)
		require.Contains(t, body, "https://learn.example.com/orientation", typ)
		require.Contains(t, body, "https://certs.example.com/certificates/ABCDE-FGHJK-MNPQR-STVWX", typ)
		require.Contains(t, body, sampleEventID, typ)
	}
}

func TestBuildReminderIsSafe(t *testing.T) {
	t.Parallel()
	m := sampleReminder()
	m.CourseTitle = "Fire <b>Safety</b>\r\nBcc: everyone@example.com"
	m.Reminder.CourseURL = "javascript:alert(1)"
	m.Subject = "Renew now\r\nBcc: x@example.com"
	w := decode(t, Build(sampleFrom, m))
	require.Equal(t, "Renew now Bcc: x@example.com", w.Subject, "one line: no header can be added")
	body := contentOf(t, w, "text/html")
	require.Contains(t, body, html.EscapeString("Fire <b>Safety</b> Bcc: everyone@example.com"))
	require.NotContains(t, body, "javascript:", "only https links")
	require.NotContains(t, contentOf(t, w, "text/plain"), "javascript:")
}

func TestOutboxWritesAReminderWithoutAPDF(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r, err := Outbox{Dir: dir, From: sampleFrom}.Send(t.Context(), sampleReminder())
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "email", sampleEventID+"-reminder-30d.json"), r.MessageID)
	entries, err := os.ReadDir(filepath.Join(dir, "email"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the envelope only")
}
