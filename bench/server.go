package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/coursehook/coursehook/internal/cluster"
	"github.com/coursehook/coursehook/internal/devserver"
)

// temporalServer is the one server every row runs against.
type temporalServer struct {
	Address string
	// MetricsURL is the server's Prometheus endpoint, where the bench
	// reads its action metric; empty where it has none the bench knows.
	MetricsURL string
	// Describe says which server it is, for the table's header.
	Describe string
	// Version is the server's own, from GetSystemInfo, with the CLI's
	// --version line when the bench started the server.
	Version string
	// Parts are its processes, for the rows' processor time: none for a
	// server the bench did not start.
	Parts []serverPart
	// Cluster is the production cluster, with --cluster.
	Cluster *cluster.Cluster
	stop    func() error
}

// startTemporal starts a dev server, in memory or on opts.DBFile, or takes
// the one at opts.Temporal.
func startTemporal(ctx context.Context, opts options, serverLog io.Writer) (*temporalServer, error) {
	if opts.Temporal != "" {
		return &temporalServer{Address: opts.Temporal, Describe: "existing server at " + opts.Temporal, stop: func() error { return nil }}, nil
	}
	if opts.Cluster {
		return startCluster(ctx, opts, serverLog)
	}
	cli, err := devserver.CLIPath()
	if err != nil {
		return nil, err
	}
	// Both modes run with make run's flags, so the rows measure what a
	// user's local server does; the file mode also keeps the state.
	s := &temporalServer{Describe: "dev server (bin/temporal), in memory, activity eager execution on"}
	dopts := devserver.Options{Log: serverLog, ExtraArgs: devserver.MakeRunArgs}
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	dopts.ExtraArgs = append(slices.Clone(dopts.ExtraArgs), "--metrics-port", strconv.Itoa(metricsPort))
	s.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	if opts.DBFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o750); err != nil {
			return nil, err
		}
		dopts.DBFilename = opts.DBFile
		s.Describe = fmt.Sprintf("dev server (bin/temporal), SQLite file %s (journal_mode=wal, synchronous=normal, activity eager execution on)", opts.DBFile)
		if opts.NoPragmas {
			dopts.ExtraArgs = withoutPragmas(dopts.ExtraArgs)
			s.Describe = fmt.Sprintf("dev server (bin/temporal), SQLite file %s (SQLite's default journal and sync, activity eager execution on)", opts.DBFile)
		}
	}
	srv, err := devserver.Start(ctx, dopts)
	if err != nil {
		return nil, fmt.Errorf("start the Temporal dev server: %w", err)
	}
	s.Address = srv.FrontendHostPort()
	s.stop = srv.Stop
	if pid := devServerPid(s.Address); pid > 0 {
		s.Parts = []serverPart{{Name: "server", Pid: pid}}
	}
	if out, err := exec.CommandContext(ctx, cli, "--version").Output(); err == nil {
		s.Version = strings.TrimSpace(string(out))
	}
	return s, nil
}

// startCluster stands up the production topology, as scripts/cluster.sh
// does, on free ports in a folder of its own; stop takes it down and
// removes the folder unless opts.Keep.
func startCluster(ctx context.Context, opts options, serverLog io.Writer) (*temporalServer, error) {
	ports, err := cluster.FreePorts()
	if err != nil {
		return nil, err
	}
	// Not under the work folder: PostgreSQL runs as the postgres user,
	// which must reach its data directory, and a temporary folder is
	// private.
	dir, err := os.MkdirTemp("", "coursehook-bench-cluster-")
	if err != nil {
		return nil, err
	}
	var env map[string]string
	if opts.HistoryShards > 0 {
		env = map[string]string{"NUM_HISTORY_SHARDS": strconv.Itoa(opts.HistoryShards)}
	}
	fmt.Fprintf(serverLog, "bench: the cluster's state and logs: %s\n", dir)
	c, err := cluster.Up(ctx, cluster.Options{Dir: dir, Ports: ports, Env: env, Log: serverLog})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start the production cluster: %w", err)
	}
	s := &temporalServer{Address: c.Frontend(), Cluster: c, stop: func() error {
		err := c.Down(context.WithoutCancel(ctx))
		if !opts.Keep {
			_ = os.RemoveAll(dir)
		}
		return err
	}}
	for _, svc := range cluster.Services {
		p, err := c.Process("temporal-" + svc)
		if err != nil {
			return s, err
		}
		s.Parts = append(s.Parts, serverPart{Name: svc, Pid: p.Pid()})
	}
	pg, err := c.PostgresPid()
	if err != nil {
		return s, err
	}
	s.Parts = append(s.Parts, serverPart{Name: "PostgreSQL", Pid: pg, Tree: true})
	shards, err := c.HistoryShards()
	if err != nil {
		return s, err
	}
	s.Describe = fmt.Sprintf("production cluster (scripts/cluster.sh's topology): frontend, history, matching and worker as processes of their own, "+
		"%s history shards, PostgreSQL %s for persistence and SQL visibility, and for the workers' store", shards, c.PostgresVersion())
	return s, nil
}

// withoutPragmas is args less its --sqlite-pragma flags.
func withoutPragmas(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--sqlite-pragma" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// quietLogger keeps the SDK's routine lines (worker started, stopped) out of
// the output and lets warnings through.
func quietLogger(w io.Writer) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// serverVersion asks the server for its version.
func serverVersion(ctx context.Context, c client.Client) (string, error) {
	info, err := c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	if err != nil {
		return "", fmt.Errorf("get system info: %w", err)
	}
	return info.GetServerVersion(), nil
}

// loadAverage is the 1, 5 and 15 minute load averages, or "n/a": the
// machine is shared, and a busy one slows every row.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return "n/a"
	}
	return strings.Join(fields[:3], " ")
}

// machine describes the computer: CPU model and cores, from /proc/cpuinfo
// where there is one.
func machine() string {
	model := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores (%s/%s)", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

// freePort is a port nothing listens on now, for a server the bench starts
// and must know the port of.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
