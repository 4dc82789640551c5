// Package app wires coursehook's parts from a Config: the logger, the
// Temporal client, the activities with their real or outbox channels, and the
// worker. The worker and starter binaries are thin shells around it, and the
// integration tests build the very same wiring.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/coursehook/coursehook/activities"
	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// NewLogger returns a JSON logger at the configured level. JSON keeps every
// untrusted value inside a quoted, escaped field.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// ClientOptions are the Temporal client options for cfg. With encryption
// keys, every payload is encrypted before it leaves the process, so the
// webhook server (which writes the workflow input) and the worker must both
// use them.
func ClientOptions(cfg config.Config, log *slog.Logger) client.Options {
	opts := client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    sdklog.NewStructuredLogger(log),
	}
	if cfg.Encryption != nil {
		opts.DataConverter = codec.DataConverter(*cfg.Encryption)
		opts.FailureConverter = codec.FailureConverter(*cfg.Encryption)
	}
	return opts
}

// LogEncryption says at start whether payloads are encrypted.
func LogEncryption(cfg config.Config, log *slog.Logger) {
	if cfg.Encryption == nil {
		log.Warn("payload encryption is off (ENCRYPTION_KEYS is unset): Temporal stores learner data in plaintext")
		return
	}
	log.Info("payload encryption is on", "keyId", cfg.Encryption.ActiveID())
}

// DialTemporal connects, retrying while Temporal is still starting (as it is
// under `make run` or a compose stack) until ctx ends.
func DialTemporal(ctx context.Context, cfg config.Config, log *slog.Logger) (client.Client, error) {
	wait := 500 * time.Millisecond
	for {
		dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.DialContext(dialCtx, ClientOptions(cfg, log))
		cancel()
		if err == nil {
			return c, nil
		}
		log.Warn("temporal not reachable yet", "address", cfg.TemporalAddress, "error", err, "retryIn", wait.String())
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial temporal at %s: %w", cfg.TemporalAddress, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// Channels builds the Slack poster and the mail sender: the real clients
// when their credentials are set, otherwise outbox writers. It logs which.
func Channels(cfg config.Config, log *slog.Logger, httpClient *http.Client) (slacknotify.Poster, mail.Sender) {
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
	// SlackPerSecond caps Slack notices across every worker of the
	// deployment (the server enforces it per task queue). Zero means 1, the
	// rate Slack allows per channel.
	SlackPerSecond float64
	// StopTimeout lets running activities finish on shutdown.
	StopTimeout time.Duration
}

// NewWorkers returns the two workers of a deployment: one on taskQueue for
// the workflow, the database and email, and one on its Slack queue, throttled
// so a burst of completions never meets Slack's rate limit.
func NewWorkers(c client.Client, taskQueue string, acts *activities.Activities, opts WorkerOptions) []worker.Worker {
	perSecond := opts.SlackPerSecond
	if perSecond <= 0 {
		perSecond = 1
	}
	main := worker.New(c, taskQueue, worker.Options{WorkerStopTimeout: opts.StopTimeout})
	main.RegisterWorkflow(workflows.CourseCompletion)
	main.RegisterActivity(acts)
	slack := worker.New(c, workflows.SlackTaskQueue(taskQueue), worker.Options{
		WorkerStopTimeout:            opts.StopTimeout,
		TaskQueueActivitiesPerSecond: perSecond,
	})
	// Only PostSlackNotice is ever scheduled here; registering the struct
	// keeps the activity names in one place.
	slack.RegisterActivity(acts)
	return []worker.Worker{main, slack}
}

// StartWorkers starts every worker, and returns a function that stops them.
func StartWorkers(ws []worker.Worker) (stop func(), err error) {
	stop = func() {
		for _, w := range ws {
			w.Stop()
		}
	}
	for i, w := range ws {
		if err := w.Start(); err != nil {
			for _, started := range ws[:i] {
				started.Stop()
			}
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	return stop, nil
}

// NewActivities builds the activities on an open store.
func NewActivities(st *store.Store, poster slacknotify.Poster, sender mail.Sender) *activities.Activities {
	finder, _ := poster.(slacknotify.Finder)
	return &activities.Activities{
		Store:             st,
		Slack:             poster,
		SlackFinder:       finder,
		Mail:              sender,
		RenderCertificate: certificate.Render,
	}
}
