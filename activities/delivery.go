package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// DeliveryStore is the part of the database SendGrid's delivery events
// use.
type DeliveryStore interface {
	ApplyDeliveryEvents(ctx context.Context, batchID string, ids []string) (store.ApplyResult, error)
	GetEmail(ctx context.Context, key store.EmailKey) (store.Email, error)
	AlertPosted(ctx context.Context, key store.EmailKey, ts string) error
	EmailSent(ctx context.Context, e store.Email) error
}

// replyOff marks a failed email whose course sends no Slack notices: there
// is no thread to reply in, and nothing is posted.
const replyOff = "off"

// ApplyDeliveryEvents applies a stored batch of SendGrid's events and
// returns the failed emails whose Slack reply the batch owes.
func (a *Activities) ApplyDeliveryEvents(ctx context.Context, in workflows.ApplyDeliveryInput) (workflows.ApplyDeliveryResult, error) {
	ds, err := a.deliveryStore()
	if err != nil {
		return workflows.ApplyDeliveryResult{}, err
	}
	res, err := ds.ApplyDeliveryEvents(ctx, in.BatchID, in.IDs)
	if err != nil {
		return workflows.ApplyDeliveryResult{}, a.recordFailure(ctx, err)
	}
	out := workflows.ApplyDeliveryResult{Applied: res.Applied, Unmatched: res.Unmatched}
	for _, e := range res.Alerts {
		out.Alerts = append(out.Alerts, workflows.DeliveryAlert{EventID: e.EventID, ResendID: e.ResendID, State: string(e.State)})
	}
	if ch := a.channel(workflows.StepNameSlack); ch != nil {
		if _, ok := a.replyPoster(); ok {
			step := ch.Spec().Step(false)
			out.Slack = &step
		}
	}
	a.Metrics.DeliveryUnmatched(res.Unmatched)
	activity.GetLogger(ctx).Info("delivery events applied", "batch", in.BatchID, "applied", res.Applied,
		"unmatched", res.Unmatched, "replies", len(out.Alerts))
	return out, nil
}

// PostDeliveryAlert posts one reply, in the thread of the event's Slack
// notice (or its digest), about a certificate email that bounced, was
// dropped or reported as spam, with the command that resends it to a
// corrected address. It posts once: the email's row keeps the reply, and a
// retry looks for the reply an earlier attempt posted before its answer
// was lost.
func (a *Activities) PostDeliveryAlert(ctx context.Context, in workflows.DeliveryAlert) (workflows.Receipt, error) {
	ds, err := a.deliveryStore()
	if err != nil {
		return workflows.Receipt{}, err
	}
	poster, ok := a.replyPoster()
	if !ok {
		return workflows.Receipt{}, errors.New("post delivery reply: this worker's slack poster cannot reply in a thread")
	}
	key := store.EmailKey{EventID: in.EventID, ResendID: in.ResendID}
	email, err := ds.GetEmail(ctx, key)
	if err != nil {
		return workflows.Receipt{}, a.recordFailure(ctx, fmt.Errorf("post delivery reply of %s: %w", in.EventID, err))
	}
	if email.AlertTS != "" {
		return workflows.Receipt{ID: email.AlertTS}, nil
	}
	rec, err := a.Store.Get(ctx, in.EventID)
	if err != nil {
		return workflows.Receipt{}, a.recordFailure(ctx, fmt.Errorf("post delivery reply of %s: %w", in.EventID, err))
	}
	reply, on, err := a.reply(rec, email)
	if err != nil {
		return workflows.Receipt{}, a.recordFailure(ctx, fmt.Errorf("post delivery reply of %s: %w", in.EventID, err))
	}
	if !on {
		activity.GetLogger(ctx).Info("delivery problem not posted: the course sends no slack notices", "eventId", in.EventID, "state", in.State)
		return workflows.Receipt{}, a.recordFailure(ctx, ds.AlertPosted(ctx, key, replyOff))
	}
	spec := channel.Spec{Name: workflows.StepNameSlack}
	r, found, err := a.deliveredBefore(ctx, spec, in.EventID, slackLook(func(since time.Time) (slacknotify.Receipt, bool, error) {
		return poster.FindReply(ctx, reply, since)
	}))
	if err != nil {
		return workflows.Receipt{}, err
	}
	if !found {
		start := time.Now()
		sr, err := poster.PostReply(ctx, reply)
		a.Metrics.ProviderCall("slack", time.Since(start), err)
		if err != nil {
			return workflows.Receipt{}, failure(spec, in.EventID, slacknotify.Failure(err))
		}
		r = workflows.Receipt{ID: sr.TS, Where: sr.Channel}
	}
	if err := ds.AlertPosted(ctx, key, r.ID); err != nil {
		return workflows.Receipt{}, a.recordFailure(ctx, err)
	}
	activity.GetLogger(ctx).Info("delivery problem posted", "eventId", in.EventID, "resendId", in.ResendID,
		"state", in.State, "receipt", r.String())
	return r, nil
}

// reply is the Slack reply about email, in the thread of rec's notice;
// on is false when the course sends no Slack notices.
func (a *Activities) reply(rec store.Record, email store.Email) (r slacknotify.Reply, on bool, err error) {
	ev, err := rec.Event()
	if err != nil {
		return r, false, err
	}
	r = slacknotify.Reply{
		EventID: rec.EventID, ResendID: email.ResendID,
		LearnerName: ev.LearnerName(), LearnerEmail: email.To, CourseTitle: rec.CourseTitle,
		State: string(email.State), Reason: email.Reason, At: email.StateAt,
		Command: ResendCommand(rec.EventID),
	}
	if r.LearnerEmail == "" {
		r.LearnerEmail = rec.EmailAddress()
	}
	if email.Classification != "" && email.Reason == "" {
		r.Reason = email.Classification
	}
	if n, ok := rec.Receipts[workflows.StepNameSlack]; ok && n.ID != "" {
		r.Channel, r.ThreadTS = n.Where, n.ID
		return r, true, nil
	}
	// No notice yet (its digest is still gathering) or none at all: a
	// message of its own in the course's channel, if it has Slack.
	if a.Routes != nil {
		route, err := a.recordedRoute(rec)
		if err != nil {
			return r, false, err
		}
		if !route.Slack.Enabled {
			return r, false, nil
		}
		r.Channel = route.Slack.Channel
	}
	return r, true, nil
}

// ResendCommand is the command an operator runs to send an event's
// certificate to a corrected address.
func ResendCommand(eventID string) string {
	return "coursehookctl resend --event " + shellWord(eventID) + ` --what email --to NEW@ADDRESS --reason "corrected address"`
}

// shellWord is s as one shell word: as it is when it is plain (the
// platform's ids are UUIDs), else single-quoted, so that nothing in an
// event id the platform chose runs when an operator pastes the command.
func shellWord(s string) string {
	plain := s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:@", r))
	})
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (a *Activities) deliveryStore() (DeliveryStore, error) {
	ds, ok := a.Store.(DeliveryStore)
	if !ok {
		return nil, errors.New("this worker's store does not keep delivery events")
	}
	return ds, nil
}

func (a *Activities) replyPoster() (slacknotify.ReplyPoster, bool) {
	ch, ok := a.channel(workflows.StepNameSlack).(slacknotify.Channel)
	if !ok {
		return nil, false
	}
	rp, ok := ch.Poster.(slacknotify.ReplyPoster)
	return rp, ok
}

// emailSent records a sent certificate email for its delivery events. It
// is best effort: the email is gone, and failing the attempt would send it
// again; the outcome's receipt is the record that counts.
func (a *Activities) emailSent(ctx context.Context, n workflows.NoticeInput, r workflows.Receipt) {
	ds, err := a.deliveryStore()
	if err != nil {
		return
	}
	to := n.To
	if to == "" {
		to = n.Event.User
	}
	err = ds.EmailSent(ctx, store.Email{
		EmailKey: store.EmailKey{EventID: n.Event.ID, ResendID: n.ResendID},
		To:       to, MessageID: r.ID, SentAt: time.Now(),
	})
	if err != nil {
		activity.GetLogger(ctx).Warn("cannot record the sent email for its delivery events", "eventId", n.Event.ID, "error", err)
	}
}
