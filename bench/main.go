// Command bench measures coursehook end to end and prints one markdown table:
// the Temporal client's own ceiling, the webhook server's ingest against it, a
// naive four-activity workflow, the real pipeline through the real worker, the
// certificate renderer and the two binaries' peak memory, every row in one run
// against one Temporal server: the dev server, or with --cluster the
// production cluster, with one and with two worker processes. `make bench` runs it; BENCHMARKS.md explains the
// rows and keeps the last table written with --write.
//
// It exits with status 1 when an event is lost or fails (accepted and never
// completed, a failed workflow, an answer other than 2xx, or 503 followed by a
// successful retry), and with status 2 on a bad flag. A target that is not met
// is reported, not an error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := profiled(opts.CPUProfile, func() error { return run(ctx, opts, os.Stdout, os.Stderr) }); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// profiled runs f under the CPU profiler when path is set. The profile covers
// the bench process only: the certificate row, the callers of the ceiling and
// naive rows, the HTTP senders and the stand-ins; the workers and webhook
// servers are processes of their own.
func profiled(path string, f func() error) error {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		_ = out.Close() // nothing was written
		return fmt.Errorf("cpu profile: %w", err)
	}
	ferr := f()
	pprof.StopCPUProfile()
	if err := out.Close(); err != nil {
		return errors.Join(ferr, fmt.Errorf("cpu profile: %w", err))
	}
	return ferr
}
