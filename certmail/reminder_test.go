package certmail

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/workflows"
)

// TestSendReminder: a reminder goes through the same sender without
// rendering a certificate, in the course's reminder wording, with the
// date, the course's link and the certificate's page.
func TestSendReminder(t *testing.T) {
	sent, rendered := &sentMail{}, &renderData{}
	c := Channel{Mail: sent, Render: rendered.render, PublicBaseURL: baseURL}
	in := input()
	in.Kind = workflows.ReminderNotice("30d")
	in.ExpiresAt = time.Date(2027, 12, 6, 10, 0, 0, 0, time.UTC)
	in.To = "bob@corrected.example.com"
	in.Route.URL = "https://learn.example.com/orientation"
	in.Route.Email.Reminder = courses.Wording{
		Subject: "Renew {{.CourseTitle}} by {{.ExpiresOn}}",
		Intro:   "{{.FirstName}}, take it again at {{.CourseURL}}.",
	}
	r, err := c.Send(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, workflows.Receipt{ID: "msg-1"}, r, "no certificate, so no certificate hash")
	require.Empty(t, rendered.data, "no certificate is rendered for a reminder")
	require.Len(t, sent.msgs, 1)
	m := sent.msgs[0]
	require.Equal(t, "reminder-30d", m.ResendID, "SendGrid's events tell it from the certificate's email")
	require.Equal(t, "bob@corrected.example.com", m.To, "the corrected address an operator gave")
	require.Equal(t, "Renew Q&A #1: \"C++\" für 100% — 入门 by 6 December 2027", m.Subject)
	require.Equal(t, "Bob, take it again at https://learn.example.com/orientation.", m.Intro)
	require.Nil(t, m.Certificate)
	require.Equal(t, in.ExpiresAt, m.Reminder.ExpiresAt)
	require.Equal(t, "https://learn.example.com/orientation", m.Reminder.CourseURL)
	require.Equal(t, baseURL+"/certificates/"+code, m.Reminder.VerificationURL)
}
