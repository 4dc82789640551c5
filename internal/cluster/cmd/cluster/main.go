// Command cluster stands the production topology of docker-compose.yml up
// on this machine, without Docker, and down again (scripts/cluster.sh runs
// it; README.md, "Production cluster"):
//
//	cluster up [--workers N] [--webhook-servers N]
//	cluster down
//
// up starts PostgreSQL, Temporal's schema job, the four Temporal services as
// processes of their own and the namespace job, as the internal/cluster
// package does for the tests, then coursehook's workers and webhook servers
// with compose's environment for them. It returns once everything is up,
// leaving the processes running; down stops what up started.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
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

The state (PostgreSQL's data, logs, pid files) is in $CLUSTER_DIR, by default .data/cluster.`

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

func up(ctx context.Context, repo, dir string, workers, servers int, out io.Writer) error {
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
			c.Down(context.WithoutCancel(ctx))
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
		if _, err := c.Start(name, filepath.Join(repo, "bin", "starter"), env); err != nil {
			return err
		}
		if err := waitReady(ctx, "http://"+addr+"/readyz", time.Minute); err != nil {
			return fmt.Errorf("%s: %w (log: %s)", name, err, filepath.Join(dir, "logs", name+".log"))
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
	w.Flush()
	fmt.Fprintln(out, "\nStop it with: scripts/cluster.sh down")
	return nil
}

// waitReady polls url until it answers 200, within the given time.
func waitReady(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 within %s", url, within)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
