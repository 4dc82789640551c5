// Command naiveworker runs the benchmark's reference workflows (package
// bench/internal/naive) on one task queue until SIGTERM, in a process of its
// own, as coursehook's worker runs. The bench starts one or more of them for
// its ceiling, ingest and naive rows, so that those rows and coursehook's
// are measured with the same number of worker processes.
//
// It reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
// NOOP_AS (also register the no-op under this workflow type) and, to read
// and write what coursehook's binaries do, ENCRYPTION_KEYS and
// ENCRYPTION_KEY_ID.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/coursehook/coursehook/bench/internal/naive"
	"github.com/coursehook/coursehook/codec"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("naiveworker failed", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	queue := os.Getenv("TEMPORAL_TASK_QUEUE")
	if queue == "" {
		return fmt.Errorf("TEMPORAL_TASK_QUEUE is not set")
	}
	opts := client.Options{
		HostPort:  os.Getenv("TEMPORAL_ADDRESS"),
		Namespace: os.Getenv("TEMPORAL_NAMESPACE"),
		// The SDK's routine lines stay out; warnings come through.
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	}
	if spec := os.Getenv("ENCRYPTION_KEYS"); spec != "" {
		keys, err := codec.ParseKeys(spec, os.Getenv("ENCRYPTION_KEY_ID"))
		if err != nil {
			return fmt.Errorf("ENCRYPTION_KEYS: %w", err)
		}
		opts.DataConverter, opts.FailureConverter = codec.DataConverter(keys), codec.FailureConverter(keys)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("dial Temporal at %s: %w", opts.HostPort, err)
	}
	defer c.Close()
	w := worker.New(c, queue, worker.Options{})
	naive.Register(w, os.Getenv("NOOP_AS"))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the worker on %s: %w", queue, err)
	}
	// The bench waits for this line, as for coursehook's worker.
	log.Info("worker starting", "taskQueue", queue, "pid", os.Getpid())
	<-ctx.Done()
	w.Stop()
	return nil
}
