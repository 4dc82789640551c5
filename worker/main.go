// Command worker runs coursehook's Temporal worker: the CourseCompletion
// workflow and its activities (database, Slack, certificate email).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/wire"
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
	gcPercent, fromEnv, _ := app.TuneGC(getenv)
	log.Debug("garbage collection target", "gogc", gcPercent, "fromEnvironment", fromEnv)

	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("database ready", "dialect", st.Dialect())

	app.LogEncryption(cfg, log)
	acts := wire.NewActivities(st, wire.NoticeChannels(cfg, log, nil, st))
	// A wrong courses file stops the worker here, naming the line, before
	// it takes any work; a wrong new one on SIGHUP keeps the old routing.
	base := wire.BaseRoute(cfg)
	table, err := courses.Load(cfg.CoursesFile, base, wire.Sections(acts.Channels)...)
	if err != nil {
		return fmt.Errorf("COURSES_FILE: %w", err)
	}
	routes := courses.NewRoutes(table)
	acts.Routes = routes
	acts.Renderer = cfg.CertificateRenderer
	if acts.Verifier, err = wire.Verifier(cfg, log); err != nil {
		return err
	}
	if cfg.CoursesFile != "" {
		log.Info("courses file loaded", "path", cfg.CoursesFile, "courses", table.Len())
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go routes.WatchHUP(ctx, base, hup, log)
	}

	// /metrics listens from the start, so a scrape shows the worker alive
	// while it still waits for Temporal.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	acts.Metrics = metrics.NewWorker(reg, func(ctx context.Context) (int, error) {
		return st.CountStatus(ctx, store.StatusPartial)
	}, log)
	acts.Metrics.BlockedReasons(store.BlockedReasons()...)
	metrics.RegisterExpiring(reg, st.ExpiringByCourse, nil, log)
	for _, ch := range acts.Channels {
		acts.Metrics.Channel(ch.Spec().Name)
	}
	stopMetrics, err := serveMetrics(cfg.MetricsAddr, reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()

	sdkMetrics, err := metrics.SDK(reg, log)
	if err != nil {
		return err
	}
	c, err := app.DialTemporal(ctx, cfg, log, func(o *client.Options) { o.MetricsHandler = sdkMetrics })
	if err != nil {
		return err
	}
	defer c.Close()
	// A workflow must never run in a namespace that lacks its search
	// attributes; the start would be refused, or the upsert fail. This also
	// waits for a namespace that a separate job has not registered yet: the
	// SDK's worker refuses to start without it, and the process would exit.
	if err := app.WaitForSearchAttributes(ctx, c, cfg.TemporalNamespace, cfg.RegisterSearchAttributes, log); err != nil {
		log.Error("search attributes", "error", err)
		return err
	}

	acts.Digests = c
	acts.DeadLetters = deadletter.Dir(cfg.DeadLetterDir)
	// The SDK keeps one cache of running workflows per process, shared by
	// its workers and sized when the first of them starts. At the SDK's
	// default a burst's workflows all stay in memory, past the worker's
	// GOMEMLIMIT (config.DefaultWorkflowCacheSize has the figures).
	worker.SetStickyWorkflowCacheSize(cfg.WorkflowCacheSize)
	workers := wire.NewWorkers(c, cfg.TaskQueue, acts, wire.WorkerOptions{
		// Let running activities finish (or time out) before the process
		// exits, so a deploy does not waste an attempt of each.
		StopTimeout: cfg.ShutdownTimeout,
		// The SDK takes minutes to call a deleted namespace fatal; this
		// check takes seconds.
		Namespace:           cfg.TemporalNamespace,
		NamespaceCheckEvery: wire.DefaultNamespaceCheckEvery,
	})
	log.Info("worker starting", "taskQueue", cfg.TaskQueue, "namespace", cfg.TemporalNamespace, "temporal", cfg.TemporalAddress,
		"workflowCacheSize", cfg.WorkflowCacheSize)
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

// serveMetrics serves reg on addr until the returned function is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (METRICS_ADDR): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "error", err)
		}
	}()
	log.Info("metrics server listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
