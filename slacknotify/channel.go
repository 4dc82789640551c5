package slacknotify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/workflows"
)

// Channel is the Slack notice as a notice channel: the business team's
// channel, or the course's own, hears of each completion, through the
// course's cohort digest unless the route turns it off.
type Channel struct {
	Poster Poster
	// Finder looks for the notice an earlier attempt posted; nil turns the
	// check off.
	Finder ChannelFinder
	// PerSecond caps the notices across every worker; zero means 1, the
	// rate Slack allows per channel.
	PerSecond float64
}

var _ channel.Channel = Channel{}

// Spec: the Slack queue, 15 s an attempt (the client gives up after 10).
func (c Channel) Spec() channel.Spec {
	perSecond := c.PerSecond
	if perSecond <= 0 {
		perSecond = 1
	}
	return channel.Spec{
		Name:     workflows.StepNameSlack,
		Provider: "slack",
		Queue:    channel.Queue{Suffix: "-slack", PerSecond: perSecond, StartToClose: 15 * time.Second},
		Digest:   true,
	}
}

// Enabled follows the route's slack.enabled.
func (Channel) Enabled(r courses.Route) bool { return r.Slack.Enabled }

// Send posts the notice to the route's channel, or the configured one.
func (c Channel) Send(ctx context.Context, in workflows.NoticeInput) (workflows.Receipt, error) {
	r, err := c.Poster.Post(ctx, notice(in))
	if err != nil {
		return workflows.Receipt{}, Failure(err)
	}
	return workflows.Receipt{ID: r.TS, Where: r.Channel, Via: workflows.AnnouncedMessage}, nil
}

// Find looks in the notice's channel for the message an earlier attempt
// posted, tagged with the event id (and the resend's id, for a resend).
func (c Channel) Find(ctx context.Context, in workflows.NoticeInput, since time.Time) (workflows.Receipt, bool, error) {
	if c.Finder == nil {
		return workflows.Receipt{}, false, nil
	}
	r, found, err := c.Finder.FindIn(ctx, routeChannel(in.Route), in.Event.ID, since)
	if err != nil {
		return workflows.Receipt{}, false, FindError(err)
	}
	if !found {
		return workflows.Receipt{}, false, nil
	}
	return workflows.Receipt{ID: r.TS, Where: r.Channel, Via: workflows.AnnouncedMessage}, true, nil
}

// FindError classifies a failed look for an earlier message (a notice's or
// a digest's) as the activities take it: a channel name or a token
// without the history scope cannot look, and posting is still better than
// never telling the team (channel.ErrCannotLook); Slack unreachable is a
// failure to retry, since a blind post could duplicate.
func FindError(err error) error {
	var se *Error
	if errors.Is(err, ErrChannelNotID) || errors.As(err, &se) && se.Permanent {
		return fmt.Errorf("%w: %w", channel.ErrCannotLook, err)
	}
	return Failure(err)
}

// Failure classifies a failed Slack call for the activities: permanent
// ones stop the retries, and a rate limit waits as long as Slack asked.
func Failure(err error) error {
	var se *Error
	if !errors.As(err, &se) {
		return fmt.Errorf("slack: %w", err)
	}
	return &channel.Failure{Permanent: se.Permanent, RetryAfter: se.RetryAfter, Message: "slack: " + se.Code, Err: err}
}

// notice is the Slack notice of a completion.
func notice(in workflows.NoticeInput) Notice {
	e := in.Event
	n := Notice{
		EventID:      e.ID,
		LearnerName:  e.LearnerName(),
		LearnerEmail: e.User,
		CourseTitle:  e.Title,
		CourseID:     e.NotifiableID,
		CompanyID:    e.CompanyID,
		CompletedAt:  e.CompletionTime(in.ReceivedAt),
		ResendID:     in.ResendID,
		Channel:      routeChannel(in.Route),
	}
	if in.Route != nil {
		n.CourseName = in.Route.CourseName
	}
	if p := in.Previous; p != nil {
		n.PreviousEventID, n.PreviousCompletedAt = p.EventID, p.CompletedAt
	}
	if in.Kind == workflows.ExpiryNotice {
		n.Expiry, n.ExpiresAt = true, in.ExpiresAt
	}
	return n
}

func routeChannel(r *courses.Route) string {
	if r == nil {
		return ""
	}
	return r.Slack.Channel
}
