// Command cluster stands the production topology of docker-compose.yml up
// on this machine, without Docker, and down again, and lets an operator
// kill and start one of its processes, as a crash and its recovery would
// (scripts/cluster.sh runs it; docs/production.md, "Production cluster"):
//
//	cluster up [--workers N] [--webhook-servers N]
//	cluster down
//	cluster ps
//	cluster kill [--signal KILL|TERM] NAME
//	cluster start NAME
//	cluster restart NAME
//
// up starts PostgreSQL, Temporal's schema job, the four Temporal services as
// processes of their own and the namespace job, as the internal/cluster
// package does for the tests, then coursehook's workers and webhook servers
// with compose's environment for them. It returns once everything is up,
// leaving the processes running; down stops what up started.
//
// ps lists the processes, whether each runs, and its log. kill sends one
// SIGKILL (a crash; --signal TERM for a clean stop) and waits until it is
// gone; start runs it again as up ran it, from the spec up saved beside its
// pid file, and waits until it is ready; restart stops it with SIGTERM and
// starts it. NAME is a process as ps shows it (temporal-history, worker-1,
// webhook-2), or a Temporal service's short name: frontend, history,
// matching, worker (Temporal's worker service; coursehook's are worker-N).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/coursehook/coursehook/internal/cluster"
	repopkg "github.com/coursehook/coursehook/internal/repo"
	"github.com/coursehook/coursehook/webhook"
)

const usage = `usage:
  cluster up [--workers N] [--webhook-servers N]   start the cluster and coursehook on it
  cluster down                                     stop what up started (the data stays)
  cluster ps                                       list its processes: pid, running or stopped, log
  cluster kill [--signal KILL|TERM] NAME           kill one (KILL, a crash, by default) and wait until it is gone
  cluster start NAME                               start a stopped one again and wait until it is ready
  cluster restart NAME                             stop one with SIGTERM and start it again

NAME: temporal-history or history, frontend, matching, worker (Temporal's), worker-1, webhook-2...
The state (PostgreSQL's data, logs, pid files) is in $CLUSTER_DIR, by default .data/cluster.`

// grace is how long a process stopped with SIGTERM has to exit before it
// is killed, as for down.
const grace = 20 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	repo, err := repopkg.Root()
	if err != nil {
		return err
	}
	dir := os.Getenv("CLUSTER_DIR")
	if dir == "" {
		dir = filepath.Join(repo, ".data", "cluster")
	}
	switch args[0] {
	case "up":
		fs := flag.NewFlagSet("up", flag.ContinueOnError)
		workers := fs.Int("workers", 2, "coursehook worker processes")
		servers := fs.Int("webhook-servers", 2, "coursehook webhook server processes")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return up(ctx, repo, dir, *workers, *servers, out)
	case "down":
		return cluster.DownDir(ctx, dir, out)
	case "ps":
		if len(args) > 1 {
			return fmt.Errorf("ps takes no arguments\n%s", usage)
		}
		return ps(ctx, dir, out)
	case "kill", "start", "restart":
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		sigName := "KILL"
		if args[0] == "kill" {
			fs.StringVar(&sigName, "signal", sigName, "KILL (a crash) or TERM (a clean stop)")
		}
		name, err := oneName(fs, args[1:])
		if err != nil {
			return fmt.Errorf("%w\n%s", err, usage)
		}
		var msg string
		switch args[0] {
		case "kill":
			sig, ok := map[string]syscall.Signal{"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM}[strings.TrimPrefix(strings.ToUpper(sigName), "SIG")]
			if !ok {
				return fmt.Errorf("--signal %s: KILL or TERM", sigName)
			}
			msg, err = cluster.KillDir(dir, name, sig, grace)
		case "start":
			msg, err = cluster.StartDir(ctx, dir, name)
		case "restart":
			msg, err = cluster.RestartDir(ctx, dir, name, grace)
		}
		if msg != "" {
			fmt.Fprintln(out, "cluster:", strings.ReplaceAll(msg, "\n", "\ncluster: "))
		}
		return err
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}

// environment is this shell's, for compose's ${VAR:-default}, as `docker
// compose` reads it. Requests from this machine come from loopback, which
// the webhook servers take unless ALLOWED_SOURCE_IPS says otherwise.
func environment() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if env["ALLOWED_SOURCE_IPS"] == "" {
		env["ALLOWED_SOURCE_IPS"] = "127.0.0.1,::1"
	}
	return env
}

func up(ctx context.Context, repo, dir string, workers, servers int, out io.Writer) (err error) {
	if _, err := os.Stat(filepath.Join(dir, "run", "temporal-frontend.pid")); err == nil {
		return fmt.Errorf("%s holds a running cluster's pid files: run `scripts/cluster.sh down` first", dir)
	}
	c, err := cluster.Up(ctx, cluster.Options{Repo: repo, Dir: dir, Env: environment(), Log: out})
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			if derr := c.Down(context.WithoutCancel(ctx)); derr != nil {
				err = errors.Join(err, fmt.Errorf("stop what up started: %w", derr))
			}
		}
	}()
	data := filepath.Join(dir, "coursehook")
	type listener struct{ name, what, addr string }
	var listeners []listener
	for i := range workers {
		name := fmt.Sprintf("worker-%d", i+1)
		metrics := "127.0.0.1:" + strconv.Itoa(9091+i)
		env, err := c.CoursehookEnv("worker", data, map[string]string{"METRICS_ADDR": metrics})
		if err != nil {
			return err
		}
		if _, err := c.Start(name, filepath.Join(repo, "bin", "worker"), env); err != nil {
			return err
		}
		listeners = append(listeners, listener{name, "metrics", "http://" + metrics + "/metrics"})
	}
	for i := range servers {
		name := fmt.Sprintf("webhook-%d", i+1)
		base := 8080 + 10*i
		addr := "127.0.0.1:" + strconv.Itoa(base)
		env, err := c.CoursehookEnv("starter", filepath.Join(data, name), map[string]string{
			"HTTP_ADDR":  addr,
			"CODEC_ADDR": "127.0.0.1:" + strconv.Itoa(base+1),
			"ADMIN_ADDR": "127.0.0.1:" + strconv.Itoa(base+2),
		})
		if err != nil {
			return err
		}
		p, err := c.Start(name, filepath.Join(repo, "bin", "starter"), env)
		if err != nil {
			return err
		}
		if _, err := p.WaitReady(ctx, time.Minute); err != nil {
			return err
		}
		listeners = append(listeners, listener{name, "webhook", "http://" + addr + webhook.Path})
	}
	ok = true

	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Temporal frontend\t%s\t(temporal --address %s workflow list)\n", c.Frontend(), c.Frontend())
	dbURL, err := c.DatabaseURL()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "coursehook database\t%s\t\n", dbURL)
	for _, l := range listeners {
		fmt.Fprintf(w, "%s\t%s\t%s\n", l.name, l.addr, l.what)
	}
	fmt.Fprintf(w, "logs\t%s\t\n", filepath.Join(dir, "logs"))
	fmt.Fprintf(w, "outbox\t%s\t(notices and emails without Slack and SendGrid keys)\n", filepath.Join(data, "outbox"))
	if err := w.Flush(); err != nil {
		return fmt.Errorf("print the addresses: %w", err)
	}
	fmt.Fprintln(out, "\nStop it with: scripts/cluster.sh down")
	return nil
}

// oneName parses the flags of a command that names one process, before or
// after the name.
func oneName(fs *flag.FlagSet, args []string) (string, error) {
	fs.SetOutput(io.Discard)
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(names) != 1 {
		return "", fmt.Errorf("%s takes one process name", fs.Name())
	}
	return names[0], nil
}

// ps prints the processes of the cluster in dir and its PostgreSQL server.
func ps(ctx context.Context, dir string, out io.Writer) error {
	st, err := cluster.StatusDir(ctx, dir)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPID\tSTATE\tLOG")
	for _, p := range st.Processes {
		pid, state := "-", "stopped"
		if p.Pid != 0 {
			pid = strconv.Itoa(p.Pid)
		}
		if p.Running {
			state = "running"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Name, pid, state, relative(p.Log))
	}
	fmt.Fprintf(w, "postgresql\t-\t%s\t%s\n", st.Postgres, relative(st.PostgresLog))
	return w.Flush()
}

// relative is path from the working directory, when it is below it.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
