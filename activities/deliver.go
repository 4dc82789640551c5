package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/workflows"
)

// Deliver sends one notice on one channel, the channel the workflow's step
// names. A retry first asks the channel for the delivery an earlier attempt
// may have made before its answer was lost, to a worker crash or a timeout,
// and returns that receipt rather than send twice.
func (a *Activities) Deliver(ctx context.Context, in workflows.DeliverInput) (workflows.DeliverResult, error) {
	ch := a.channel(in.Channel)
	if ch == nil {
		// A worker without the channel the record step named: another
		// worker of the deployment, newer or older, may have it.
		return workflows.DeliverResult{}, temporal.NewApplicationError("this worker has no channel "+in.Channel, channel.RetryableType(in.Channel))
	}
	n, spec := in.Notice, ch.Spec()
	find := func(since time.Time) (workflows.Receipt, bool, error) { return ch.Find(ctx, n, since) }
	if r, found, err := a.deliveredBefore(ctx, spec, n.Event.ID, find); found || err != nil {
		if err != nil {
			return workflows.DeliverResult{}, err
		}
		if spec.Name == workflows.StepNameEmail {
			a.emailSent(ctx, n, r)
		}
		return a.keep(ctx, in, r), nil
	}
	start := time.Now()
	r, err := ch.Send(ctx, n)
	a.Metrics.ProviderCall(spec.Provider, time.Since(start), err)
	if err != nil {
		return workflows.DeliverResult{}, a.counted(spec.Name, failure(spec, n.Event.ID, err))
	}
	a.Metrics.Notice(spec.Name, metrics.Sent)
	if spec.Name == workflows.StepNameEmail {
		a.emailSent(ctx, n, r)
	}
	activity.GetLogger(ctx).Info(spec.Name+" notice delivered", "eventId", n.Event.ID, "receipt", r.String())
	return a.keep(ctx, in, r), nil
}

// keep stores the receipt in the event's row when the run asks for it
// (in.Expect), and says whether that completed the row. The notice has
// gone: a database that fails now must not fail it, or a retry would
// look for it again at the provider for nothing. The run then records the
// outcome itself, with the receipt, as runs before the lean change do.
func (a *Activities) keep(ctx context.Context, in workflows.DeliverInput, r workflows.Receipt) workflows.DeliverResult {
	if len(in.Expect) == 0 || in.Notice.ResendID != "" {
		return workflows.DeliverResult{Receipt: r}
	}
	completed, err := a.Store.KeepReceipt(ctx, in.Notice.Event.ID, in.Channel, r, in.Expect)
	if err != nil {
		activity.GetLogger(ctx).Warn("the receipt was not kept with the row; the workflow records it with the outcome",
			"eventId", in.Notice.Event.ID, "channel", in.Channel, "error", err)
		return workflows.DeliverResult{Receipt: r}
	}
	return workflows.DeliverResult{Receipt: r, Completed: completed}
}

// PostSlackNotice is the Slack notice of the workflows from before the
// channels change, which schedule it by this name: Deliver on the slack
// channel, with their result.
func (a *Activities) PostSlackNotice(ctx context.Context, in workflows.NoticeInput) (workflows.SlackResult, error) {
	r, err := a.Deliver(ctx, workflows.DeliverInput{Channel: workflows.StepNameSlack, Notice: in})
	return workflows.SlackResult{Channel: r.Where, TS: r.ID}, err
}

// EmailCertificate is the certificate email of the workflows from before
// the channels change: Deliver on the email channel, with their result.
func (a *Activities) EmailCertificate(ctx context.Context, in workflows.NoticeInput) (workflows.EmailResult, error) {
	r, err := a.Deliver(ctx, workflows.DeliverInput{Channel: workflows.StepNameEmail, Notice: in})
	return workflows.EmailResult{MessageID: r.ID, CertificateSHA256: r.SHA256}, err
}

func (a *Activities) channel(name string) channel.Channel {
	for _, ch := range a.Channels {
		if ch.Spec().Name == name {
			return ch
		}
	}
	return nil
}

// deliveredBefore looks, on a retry, for the delivery (a notice, id its
// event id, or a digest, id its window) that an earlier attempt may have
// made before its answer was lost, to a worker crash or a timeout. found
// means return that receipt rather than send; an error means retry the
// whole attempt. A channel that cannot look with its configuration
// (channel.ErrCannotLook) sends anyway.
func (a *Activities) deliveredBefore(ctx context.Context, spec channel.Spec, id string,
	find func(since time.Time) (workflows.Receipt, bool, error)) (workflows.Receipt, bool, error) {
	info := activity.GetInfo(ctx)
	if info.Attempt <= 1 {
		return workflows.Receipt{}, false, nil
	}
	log := activity.GetLogger(ctx)
	r, found, err := find(info.ScheduledTime.Add(-findSkew))
	switch {
	case err == nil && found:
		log.Info(spec.Name+" delivery was already made by an earlier attempt", "id", id, "receipt", r.String())
		a.Metrics.Notice(spec.Name, metrics.FoundExisting)
		return r, true, nil
	case err == nil:
	case errors.Is(err, channel.ErrCannotLook):
		log.Warn("cannot check for an earlier "+spec.Name+" delivery; sending anyway", "id", id, "error", err)
	default:
		// The provider is unreachable: sending would fail too, and a blind
		// send could duplicate. Retry the whole attempt later.
		return workflows.Receipt{}, false, a.counted(spec.Name, failure(spec, id, err))
	}
	return workflows.Receipt{}, false, nil
}
