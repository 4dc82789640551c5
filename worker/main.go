// Command worker runs coursehook's Temporal worker: the CourseCompletion
// workflow and its activities (database, Slack, certificate email).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(getenv, config.Worker)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := app.NewLogger(stderr, cfg.LogLevel)
	slog.SetDefault(log)

	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("database ready", "dialect", st.Dialect())

	app.LogEncryption(cfg, log)
	poster, sender := app.Channels(cfg, log, nil)
	c, err := app.DialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer c.Close()
	// A workflow must never run in a namespace that lacks its search
	// attributes; the start would be refused, or the upsert fail.
	if err := app.WaitForSearchAttributes(ctx, c, cfg.TemporalNamespace, cfg.RegisterSearchAttributes, log); err != nil {
		log.Error("search attributes", "error", err)
		return err
	}

	workers := app.NewWorkers(c, cfg.TaskQueue, app.NewActivities(st, poster, sender), app.WorkerOptions{
		SlackPerSecond: cfg.SlackPerSecond,
		// Let running activities finish (or time out) before the process
		// exits, so a deploy does not waste an attempt of each.
		StopTimeout: cfg.ShutdownTimeout,
		// The SDK takes minutes to call a deleted namespace fatal; this
		// check takes seconds.
		Namespace:           cfg.TemporalNamespace,
		NamespaceCheckEvery: app.DefaultNamespaceCheckEvery,
	})
	log.Info("worker starting", "taskQueue", cfg.TaskQueue, "namespace", cfg.TemporalNamespace, "temporal", cfg.TemporalAddress)
	// Stopping waits up to SHUTDOWN_TIMEOUT for running activities; say so
	// when it begins.
	stopping := context.AfterFunc(ctx, func() { log.Info("worker stopping") })
	defer stopping()
	// Run returns when the signal arrives, or when a worker stops on a fatal
	// error: then the process exits non-zero, so its supervisor restarts it
	// rather than keeping a worker that polls nothing.
	if err := workers.Run(ctx); err != nil {
		log.Error("worker failed", "namespace", cfg.TemporalNamespace, "error", err)
		return err
	}
	log.Info("worker stopped")
	return nil
}
