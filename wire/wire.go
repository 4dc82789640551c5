// Package wire builds the worker's side of coursehook from a Config: its
// notice channels (the real clients, or the outbox), its activities, and
// the workers that poll each task queue. It is apart from package app so
// that the webhook server and coursehookctl, which only dial Temporal, do
// not link the providers the activities are built on.
package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/activities"
	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/certmail"
	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/onward"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// NoticeChannels are the worker's notice channels, built from cfg, in the
// order an event's steps and its FailedSteps list them. A new channel is a
// line here. st is the worker's store, for a channel that sends more of an
// event than the brief one the workflow carries.
func NoticeChannels(cfg config.Config, log *slog.Logger, httpClient *http.Client, st *store.Store) []channel.Channel {
	poster, sender := Providers(cfg, log, httpClient)
	return append(Builtin(poster, sender, Builtins{
		SlackPerSecond: cfg.SlackPerSecond, EmailsPerSecond: cfg.EmailsPerSecond, PublicBaseURL: cfg.PublicBaseURL,
		CertificateIssuer: cfg.CertificateIssuer, Events: events(st), EventsWait: cfg.SendGridEventsWait,
	}), webhookChannel(cfg, log, st))
}

// events are SendGrid's delivery events in st, which a retried email
// looks in for its first attempt's send; none without a store.
func events(st *store.Store) certmail.Events {
	if st == nil {
		return nil
	}
	return st
}

// webhookChannel posts completions onward, signed, to the URLs COURSES_FILE
// names (onward.Channel), with the event read whole from st.
func webhookChannel(cfg config.Config, log *slog.Logger, st *store.Store) onward.Channel {
	if cfg.WebhookOutAllowPrivate {
		log.Warn("onward webhooks may reach private, loopback and link-local addresses (WEBHOOK_OUT_ALLOW_PRIVATE=true): for a local receiver only")
	}
	ch := onward.Channel{
		Sender:        onward.NewSender(onward.Options{PerSecond: cfg.WebhookOutPerSecond, AllowPrivate: cfg.WebhookOutAllowPrivate}),
		Getenv:        os.Getenv,
		PublicBaseURL: cfg.PublicBaseURL,
		OutboxDir:     cfg.OutboxDir,
	}
	if st != nil {
		ch.Event = func(ctx context.Context, eventID string) (event.Event, error) {
			rec, err := st.Get(ctx, eventID)
			if err != nil {
				return event.Event{}, err
			}
			return rec.Event()
		}
	}
	return ch
}

// Builtins tune the Slack and email channels.
type Builtins struct {
	// SlackPerSecond caps Slack notices across every worker of the
	// deployment (the server enforces it per task queue). Zero means 1, the
	// rate Slack allows per channel.
	SlackPerSecond float64
	// EmailsPerSecond caps certificate emails likewise, for SendGrid's
	// per-account rate limit. Zero means config.DefaultEmailsPerSecond.
	EmailsPerSecond float64
	// PublicBaseURL is where verification pages are served: with
	// verification on, certificates print their page's address.
	PublicBaseURL string
	// CertificateIssuer names the issuer of a course that names none, as
	// the "Add to LinkedIn" link's organization.
	CertificateIssuer string
	// Events are SendGrid's delivery events, which a retried email looks
	// in for the send of an earlier attempt, waiting up to EventsWait.
	Events     certmail.Events
	EventsWait time.Duration
}

// Builtin are the Slack notice and the certificate email, on poster and
// sender.
func Builtin(poster slacknotify.Poster, sender mail.Sender, o Builtins) []channel.Channel {
	finder, _ := poster.(slacknotify.ChannelFinder)
	return []channel.Channel{
		slacknotify.Channel{Poster: poster, Finder: finder, PerSecond: o.SlackPerSecond},
		certmail.Channel{Mail: sender, Render: certificate.RenderVersion, PublicBaseURL: o.PublicBaseURL, PerSecond: o.EmailsPerSecond,
			IssuerName: o.CertificateIssuer, Events: o.Events, Wait: o.EventsWait},
	}
}

// Sections are the keys the channels bring to COURSES_FILE.
func Sections(chs []channel.Channel) []courses.Section {
	var out []courses.Section
	for _, ch := range chs {
		if s := ch.Spec().Section; s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// Providers builds the Slack poster and the mail sender: the real clients
// when their credentials are set, otherwise outbox writers. It logs which.
func Providers(cfg config.Config, log *slog.Logger, httpClient *http.Client) (slacknotify.Poster, mail.Sender) {
	var poster slacknotify.Poster
	if cfg.SlackOutbox() {
		poster = slacknotify.Outbox{Dir: cfg.OutboxDir, Channel: cfg.SlackChannel}
		log.Info("slack notices go to the outbox (SLACK_BOT_TOKEN is unset)", "mode", "outbox", "dir", cfg.OutboxDir)
	} else {
		poster = slacknotify.New(cfg.SlackBotToken, cfg.SlackChannel, cfg.SlackAPIURL, httpClient)
		log.Info("slack notices go to slack", "mode", "slack", "channel", cfg.SlackChannel, "api", cfg.SlackAPIURL)
	}
	from := mail.From{Email: cfg.EmailFrom, Name: cfg.EmailFromName}
	var sender mail.Sender
	if cfg.EmailOutbox() {
		sender = mail.Outbox{Dir: cfg.OutboxDir, From: from}
		log.Info("certificate emails go to the outbox (SENDGRID_API_KEY is unset)", "mode", "outbox", "dir", cfg.OutboxDir)
	} else {
		sender = mail.NewSendGrid(cfg.SendGridAPIKey, cfg.SendGridAPIURL, from, httpClient)
		log.Info("certificate emails go to sendgrid", "mode", "sendgrid", "api", cfg.SendGridAPIURL)
	}
	return poster, sender
}

// WorkerOptions tune the workers.
type WorkerOptions struct {
	// StopTimeout lets running activities finish on shutdown.
	StopTimeout time.Duration
	// Namespace, with NamespaceCheckEvery, is checked by Run at that
	// interval; a namespace that no longer exists stops the workers. Zero
	// leaves it to the SDK, which calls a lost namespace fatal only after
	// its two-minute grace period and a long poll that may add another.
	Namespace           string
	NamespaceCheckEvery time.Duration
}

// DefaultNamespaceCheckEvery is how often the worker process makes sure its
// namespace still exists: a deleted namespace then stops it within seconds.
const DefaultNamespaceCheckEvery = 10 * time.Second

// Workers are the workers of one deployment, and the channel on which any
// of them reports the fatal error that stopped it.
type Workers struct {
	workers []worker.Worker
	queues  []string
	fatal   chan error
	// describe, when set, is called every checkEvery by Run.
	describe   func(ctx context.Context) error
	checkEvery time.Duration
}

// NewWorkers returns the workers of a deployment: one on taskQueue for the
// workflows and the database, and one on each notice channel's queue,
// throttled at the channel's rate (Slack's per-channel limit, SendGrid's
// per-account one), so a burst of completions never meets the provider's
// limit.
func NewWorkers(c client.Client, taskQueue string, acts *activities.Activities, opts WorkerOptions) *Workers {
	// The SDK reports at most one fatal error per worker, so a slot each
	// means reporting never blocks.
	ws := &Workers{queues: []string{taskQueue}, fatal: make(chan error, 1+len(acts.Channels))}
	main := worker.New(c, taskQueue, worker.Options{
		WorkerStopTimeout: opts.StopTimeout,
		OnFatalError:      ws.reportFatal(taskQueue),
	})
	main.RegisterWorkflow(workflows.CourseCompletion)
	main.RegisterWorkflow(workflows.Resend)
	main.RegisterWorkflow(workflows.DeliveryEvents)
	main.RegisterWorkflowWithOptions(workflows.CourseDigest, workflow.RegisterOptions{Name: workflows.DigestWorkflowType})
	main.RegisterWorkflowWithOptions(workflows.CertificateValidity, workflow.RegisterOptions{Name: workflows.ValidityWorkflowType})
	main.RegisterActivity(acts)
	ws.workers = []worker.Worker{main}
	// Only the notices (Deliver, PostDigest, and the older PostSlackNotice
	// and EmailCertificate) are ever scheduled on the throttled queues;
	// registering the struct keeps the activity names in one place.
	for _, ch := range acts.Channels {
		q := ch.Spec().Queue
		name := taskQueue + q.Suffix
		w := worker.New(c, name, worker.Options{
			// No workflow runs on a notice queue, but the SDK starts
			// workflow-task pollers on every worker that does not say so:
			// long polls held open on the server for nothing.
			DisableWorkflowWorker:        true,
			WorkerStopTimeout:            opts.StopTimeout,
			TaskQueueActivitiesPerSecond: q.PerSecond,
			// The server's limit holds across every worker but lets a short
			// burst through as the queue starts; a worker of its own never
			// goes faster either.
			WorkerActivitiesPerSecond: q.PerSecond,
			OnFatalError:              ws.reportFatal(name),
		})
		w.RegisterActivity(acts)
		ws.workers = append(ws.workers, w)
		ws.queues = append(ws.queues, name)
	}
	if opts.NamespaceCheckEvery > 0 && opts.Namespace != "" {
		ws.checkEvery = opts.NamespaceCheckEvery
		ws.describe = func(ctx context.Context) error {
			_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: opts.Namespace})
			return err
		}
	}
	return ws
}

// reportFatal is the OnFatalError of the worker on queue. The SDK stops
// that worker by itself, but not its sibling, and a process whose workers
// poll nothing must not look alive.
func (ws *Workers) reportFatal(queue string) func(error) {
	return func(err error) {
		select {
		case ws.fatal <- fmt.Errorf("worker on task queue %s stopped: %w", queue, err):
		default:
		}
	}
}

// StartWorkers starts every worker, and returns a function that stops them.
// It leaves fatal errors unwatched; Run is for processes that must exit on
// one.
func StartWorkers(ws *Workers) (stop func(), err error) {
	for i, w := range ws.workers {
		if err := w.Start(); err != nil {
			stopAll(ws.workers[:i])
			return nil, fmt.Errorf("start worker on task queue %s: %w", ws.queues[i], err)
		}
	}
	return func() { stopAll(ws.workers) }, nil
}

// Run starts every worker and runs them until ctx ends, then stops them
// and returns nil, or until one of them stops on a fatal error (its
// namespace deleted, say), then stops the others and returns that error.
func (ws *Workers) Run(ctx context.Context) error {
	stop, err := StartWorkers(ws)
	if err != nil {
		return err
	}
	defer stop()
	if ws.describe != nil {
		watchCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go ws.watchNamespace(watchCtx)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-ws.fatal:
		return err
	}
}

// watchNamespace reports a fatal error once the namespace is gone. Only
// NamespaceNotFound counts: an unreachable server is an outage the SDK rides
// out, and Temporal itself renames a deleted namespace, so the name no
// longer resolves from the moment it is deleted.
func (ws *Workers) watchNamespace(ctx context.Context) {
	tick := time.NewTicker(ws.checkEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		callCtx, cancel := context.WithTimeout(ctx, ws.checkEvery)
		err := ws.describe(callCtx)
		cancel()
		var gone *serviceerror.NamespaceNotFound
		if errors.As(err, &gone) {
			ws.reportFatal(ws.queues[0])(fmt.Errorf("namespace check: %w", err))
			return
		}
	}
}

// stopAll stops the workers side by side, so shutdown waits for one
// WorkerStopTimeout, not one per worker.
func stopAll(ws []worker.Worker) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(w.Stop)
	}
	wg.Wait()
}

// NewActivities builds the activities on an open store, sending on chs.
// Routing, verification and the digests' Temporal client are set by the
// caller (Activities.Routes, Verifier and Digests), when it has them.
func NewActivities(st *store.Store, chs []channel.Channel) *activities.Activities {
	acts := &activities.Activities{Store: st, Channels: chs}
	// The cohort digest is Slack's: it posts with the Slack channel's
	// poster.
	for _, ch := range chs {
		if sc, ok := ch.(slacknotify.Channel); ok {
			acts.DigestPoster, _ = sc.Poster.(slacknotify.DigestPoster)
			acts.DigestFinder, _ = sc.Poster.(slacknotify.DigestFinder)
		}
	}
	return acts
}

// Verifier is the worker's certificate verification: nil, and a log line
// saying so, without PUBLIC_BASE_URL, when certificates are as they were.
func Verifier(cfg config.Config, log *slog.Logger) (*activities.Verifier, error) {
	if cfg.PublicBaseURL == "" {
		log.Info("certificate verification off: set PUBLIC_BASE_URL to print a verification code and QR code on certificates")
		return nil, nil
	}
	keys, err := verify.NewKeys(cfg.CertificateSigningKey, cfg.CertificateSigningKeyPrevious...)
	if err != nil {
		return nil, fmt.Errorf("CERTIFICATE_SIGNING_KEY: %w", err)
	}
	log.Info("certificate verification on", "pages", cfg.PublicBaseURL+verify.CertificatesPath+"/<code>")
	return &activities.Verifier{Keys: keys}, nil
}

// BaseRoute is the routing the environment gives every course, which
// COURSES_FILE's defaults and courses refine.
func BaseRoute(cfg config.Config) courses.Route {
	return courses.Route{
		Slack:  courses.SlackRoute{Channel: cfg.SlackChannel, Enabled: true},
		Email:  courses.EmailRoute{Enabled: true},
		Digest: courses.DigestRoute{Threshold: cfg.DigestThreshold, Window: cfg.DigestWindow, Off: cfg.DigestOff},
	}
}
