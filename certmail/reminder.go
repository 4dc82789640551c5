package certmail

import (
	"cmp"
	"context"
	"strings"

	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// IsReminder reports whether in asks for a reminder before the
// certificate's expiry rather than the certificate itself.
func IsReminder(in workflows.NoticeInput) bool {
	return strings.HasPrefix(in.Kind, workflows.ReminderNotice(""))
}

// sendReminder emails the learner that the certificate expires soon: the
// course, the date and, where the courses file gives one, the course's
// link, in the course's reminder wording. It goes through the same sender
// as the certificate, on the same throttled queue, without the PDF. The
// reminder's name is its ResendID at SendGrid and in the outbox, so it is
// told apart from the certificate's email and from the other reminders.
func (c Channel) sendReminder(ctx context.Context, in workflows.NoticeInput) (workflows.Receipt, error) {
	e := in.Event
	completed := e.CompletionTime(in.ReceivedAt)
	msg := mail.Message{
		EventID:     e.ID,
		ResendID:    in.Kind,
		To:          cmp.Or(in.To, e.User),
		LearnerName: e.LearnerName(),
		CourseTitle: e.Title,
		CompletedAt: completed,
		Reminder:    &mail.Reminder{ExpiresAt: in.ExpiresAt},
	}
	if in.VerificationCode != "" && c.PublicBaseURL != "" {
		msg.Reminder.VerificationURL = verify.PageURL(c.PublicBaseURL, in.VerificationCode)
	}
	if r := in.Route; r != nil {
		msg.Reminder.CourseURL = r.URL
		fields := routeFields(r, e, completed)
		fields.ExpiresOn = in.ExpiresAt.UTC().Format("2 January 2006")
		if err := applyWording(r, r.Email.Reminder, fields, e.NotifiableID, &msg); err != nil {
			return workflows.Receipt{}, err
		}
	}
	r, err := c.Mail.Send(ctx, msg)
	if err != nil {
		return workflows.Receipt{}, Failure(err)
	}
	return workflows.Receipt{ID: r.MessageID}, nil
}
