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
	cfg, err := config.Load(getenv)
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

	stopWorkers, err := app.StartWorkers(app.NewWorkers(c, cfg.TaskQueue, app.NewActivities(st, poster, sender), app.WorkerOptions{
		SlackPerSecond: cfg.SlackPerSecond,
		// Let running activities finish (or time out) before the process
		// exits, so a deploy does not waste an attempt of each.
		StopTimeout: cfg.ShutdownTimeout,
	}))
	if err != nil {
		return err
	}
	log.Info("worker started", "taskQueue", cfg.TaskQueue, "namespace", cfg.TemporalNamespace, "temporal", cfg.TemporalAddress)
	<-ctx.Done()
	log.Info("worker stopping")
	stopWorkers()
	log.Info("worker stopped")
	return nil
}
