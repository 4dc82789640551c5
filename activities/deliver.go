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
func (a *Activities) Deliver(ctx context.Context, in workflows.DeliverInput) (workflows.Receipt, error) {
	ch := a.channel(in.Channel)
	if ch == nil {
		// A worker without the channel the record step named: another
		// worker of the deployment, newer or older, may have it.
		return workflows.Receipt{}, temporal.NewApplicationError("this worker has no channel "+in.Channel, channel.RetryableType(in.Channel))
	}
	return a.deliver(ctx, ch, in.Notice)
}

// PostSlackNotice is the Slack notice of the workflows from before the
// channels change, which schedule it by this name: Deliver on the slack
// channel, with their result.
func (a *Activities) PostSlackNotice(ctx context.Context, in workflows.NoticeInput) (workflows.SlackResult, error) {
	r, err := a.legacy(ctx, workflows.StepNameSlack, in)
	return workflows.SlackResult{Channel: r.Where, TS: r.ID}, err
}

// EmailCertificate is the certificate email of the workflows from before
// the channels change: Deliver on the email channel, with their result.
func (a *Activities) EmailCertificate(ctx context.Context, in workflows.NoticeInput) (workflows.EmailResult, error) {
	r, err := a.legacy(ctx, workflows.StepNameEmail, in)
	return workflows.EmailResult{MessageID: r.ID, CertificateSHA256: r.SHA256}, err
}

func (a *Activities) legacy(ctx context.Context, name string, in workflows.NoticeInput) (workflows.Receipt, error) {
	ch := a.channel(name)
	if ch == nil {
		return workflows.Receipt{}, errors.New("this worker has no channel " + name)
	}
	return a.deliver(ctx, ch, in)
}

func (a *Activities) channel(name string) channel.Channel {
	for _, ch := range a.Channels {
		if ch.Spec().Name == name {
			return ch
		}
	}
	return nil
}

func (a *Activities) deliver(ctx context.Context, ch channel.Channel, n workflows.NoticeInput) (workflows.Receipt, error) {
	spec := ch.Spec()
	log := activity.GetLogger(ctx)
	if info := activity.GetInfo(ctx); info.Attempt > 1 {
		r, found, err := ch.Find(ctx, n, info.ScheduledTime.Add(-findSkew))
		switch {
		case err == nil && found:
			log.Info(spec.Name+" notice was already delivered by an earlier attempt", "eventId", n.Event.ID, "receipt", r.String())
			a.Metrics.Notice(spec.Name, metrics.FoundExisting)
			return r, nil
		case err == nil:
		case errors.Is(err, channel.ErrCannotLook):
			log.Warn("cannot check for an earlier "+spec.Name+" notice; sending anyway", "eventId", n.Event.ID, "error", err)
		default:
			// The provider is unreachable: sending would fail too, and a
			// blind send could duplicate. Retry the whole attempt later.
			return workflows.Receipt{}, a.counted(spec.Name, failure(spec, n.Event.ID, err))
		}
	}
	start := time.Now()
	r, err := ch.Send(ctx, n)
	a.Metrics.ProviderCall(spec.Provider, time.Since(start), err)
	if err != nil {
		return workflows.Receipt{}, a.counted(spec.Name, failure(spec, n.Event.ID, err))
	}
	a.Metrics.Notice(spec.Name, metrics.Sent)
	log.Info(spec.Name+" notice delivered", "eventId", n.Event.ID, "receipt", r.String())
	return r, nil
}
