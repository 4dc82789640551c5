package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The functions here act on one process of a cluster that an `up` which
// has since exited started in dir, as an operator does to rehearse a crash:
// StatusDir lists them, KillDir kills one, StartDir starts it again from
// the spec its start saved, RestartDir does both.

// errRunning is start's refusal to run a second copy of a process.
var errRunning = errors.New("already running")

// ProcessStatus is one process of a cluster, as its files and /proc show it.
type ProcessStatus struct {
	Name string
	// Pid is the latest start's, from the pid file; 0 without one.
	Pid int
	// Running says whether Pid still runs the program it was started with.
	Running bool
	Log     string
}

// Status is what StatusDir finds in a cluster's folder.
type Status struct {
	Processes []ProcessStatus
	// Postgres is "running", "stopped", "not initialised" or why the
	// server's state is unknown.
	Postgres    string
	PostgresLog string
}

// StatusDir lists the processes of the cluster in dir, Temporal's first,
// and says whether its PostgreSQL server runs.
func StatusDir(ctx context.Context, dir string) (Status, error) {
	names, err := processNames(dir)
	if err != nil {
		return Status{}, err
	}
	st := Status{PostgresLog: filepath.Join(dir, "logs", "postgres.log")}
	for _, name := range names {
		ps := ProcessStatus{Name: name, Log: filepath.Join(dir, "logs", name+".log")}
		if p, err := loadProcess(dir, name); err == nil {
			ps.Log = p.Log
		}
		if pid, running, err := readPidFile(pidPath(dir, name)); err == nil {
			ps.Pid, ps.Running = pid, running
		}
		st.Processes = append(st.Processes, ps)
	}
	switch pg, err := dirPostgres(dir); {
	case err != nil:
		st.Postgres = err.Error()
	case pg == nil:
		st.Postgres = "not initialised"
	case pg.running(ctx):
		st.Postgres = "running"
	default:
		st.Postgres = "stopped"
	}
	return st, nil
}

// ResolveName finds the process of the cluster in dir that name means: its
// full name, or a Temporal service's short one ("history" for
// temporal-history).
func ResolveName(dir, name string) (string, error) {
	names, err := processNames(dir)
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no cluster in %s (no pid or spec files in its run folder): run `scripts/cluster.sh up`", dir)
	}
	for _, n := range []string{name, "temporal-" + name} {
		if slices.Contains(names, n) {
			return n, nil
		}
	}
	known := make([]string, len(names))
	for i, n := range names {
		known[i] = n
		if short, ok := strings.CutPrefix(n, "temporal-"); ok {
			known[i] += " (" + short + ")"
		}
	}
	return "", fmt.Errorf("the cluster in %s has no process %q; its processes are %s", dir, name, strings.Join(known, ", "))
}

// KillDir sends sig to the named process of the cluster in dir and waits
// until it is gone, sending SIGKILL after grace: SIGKILL is a crash,
// SIGTERM a clean stop. A process that is not running is not an error; the
// message says so. The pid file stays, as a crash leaves it.
func KillDir(dir, name string, sig syscall.Signal, grace time.Duration) (string, error) {
	full, err := ResolveName(dir, name)
	if err != nil {
		return "", err
	}
	msg, _, err := signalPidFile(pidPath(dir, full), sig, grace)
	return msg, err
}

// StartDir starts the named process of the cluster in dir again from its
// spec, in a session of its own, appending to its log, and waits until it
// is ready (WaitReady). It refuses while the process still runs.
func StartDir(ctx context.Context, dir, name string) (string, error) {
	full, err := ResolveName(dir, name)
	if err != nil {
		return "", err
	}
	p, err := loadProcess(dir, full)
	if err != nil {
		return "", err
	}
	if err := p.start(); err != nil {
		if errors.Is(err, errRunning) {
			return "", fmt.Errorf("%w: kill it first, or restart it", err)
		}
		return "", err
	}
	ready, err := p.WaitReady(ctx, 2*time.Minute)
	if err != nil {
		return "", fmt.Errorf("started %s (pid %d), but: %w", full, p.Pid(), err)
	}
	return fmt.Sprintf("started %s (pid %d): %s", full, p.Pid(), ready), nil
}

// RestartDir stops the named process with SIGTERM, killing it after grace,
// and starts it again as StartDir does.
func RestartDir(ctx context.Context, dir, name string, grace time.Duration) (string, error) {
	stopped, err := KillDir(dir, name, syscall.SIGTERM, grace)
	if err != nil {
		return "", err
	}
	started, err := StartDir(ctx, dir, name)
	if err != nil {
		return stopped, err
	}
	return stopped + "\n" + started, nil
}

// healthServices are the names the Temporal services (release
// deploy/temporal/VERSION) give their gRPC health status on their gRPC
// port. The frontend's turns SERVING once its membership is ready (the
// Temporal CLI's `operator cluster health` asks for it); history's once it
// has acquired its shards, and five seconds more; matching's and the
// worker service's once they have started.
var healthServices = map[string]string{
	"frontend": "temporal.api.workflowservice.v1.WorkflowService",
	"history":  "temporal.api.workflowservice.v1.HistoryService",
	"matching": "temporal.api.workflowservice.v1.MatchingService",
	"worker":   "temporal.api.workflowservice.v1.WorkerService",
}

// settle is how long a process without a readiness signal must stay up
// to count as started.
const settle = 2 * time.Second

// WaitReady waits, within the given time, until a process just started is
// ready, and says how it knows: a Temporal service's gRPC health is
// SERVING; a webhook server's /readyz answers 200; anything else (a
// coursehook worker, which serves only metrics) stays up for settle.
func (p *Process) WaitReady(ctx context.Context, within time.Duration) (string, error) {
	service := ""
	if i := slices.Index(p.Args, "--service"); i >= 0 && i+1 < len(p.Args) {
		service = p.Args[i+1]
	}
	if name, ok := healthServices[service]; ok {
		addr := net.JoinHostPort(cmp.Or(envValue(p.Env, "BIND_ON_IP"), "127.0.0.1"), envValue(p.Env, strings.ToUpper(service)+"_GRPC_PORT"))
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return "", err
		}
		defer func() { _ = conn.Close() }()
		health := healthpb.NewHealthClient(conn)
		what := "serving on " + addr + " (gRPC health)"
		return what, p.waitUntil(ctx, within, what, func(ctx context.Context) bool {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
			return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
		})
	}
	if addr := envValue(p.Env, "HTTP_ADDR"); addr != "" {
		url := "http://" + dialable(addr) + "/readyz"
		client := &http.Client{Timeout: 5 * time.Second}
		what := "ready (" + url + " answers 200)"
		return what, p.waitUntil(ctx, within, what, func(ctx context.Context) bool {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return false
			}
			resp, err := client.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	until := time.Now().Add(settle)
	what := fmt.Sprintf("up for %s (it has no readiness signal)", settle)
	return what, p.waitUntil(ctx, within, what, func(context.Context) bool { return time.Now().After(until) })
}

// dialable is a listen address as a client reaches it: an empty or
// unspecified host is loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func pidPath(dir, name string) string {
	return filepath.Join(dir, "run", name+".pid")
}

// processNames are the processes of the cluster in dir: those with a pid
// file or a spec (a cluster started before specs existed has only pid
// files). Temporal's services come first, in Services order, then
// coursehook's workers and webhook servers.
func processNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "run"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pid")
		if !ok {
			name, ok = strings.CutSuffix(e.Name(), ".json")
		}
		if ok && !strings.HasPrefix(name, ".") && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	rank := func(name string) int {
		if svc, ok := strings.CutPrefix(name, "temporal-"); ok && slices.Contains(Services, svc) {
			return slices.Index(Services, svc)
		}
		for i, prefix := range []string{"temporal-", "worker-", "webhook-"} {
			if strings.HasPrefix(name, prefix) {
				return len(Services) + i
			}
		}
		return len(Services) + 3
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return names, nil
}
