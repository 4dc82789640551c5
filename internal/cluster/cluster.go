// Package cluster stands up the production topology of docker-compose.yml on
// this machine without Docker: a PostgreSQL server of its own, Temporal's
// schema job, the Temporal server with each service (frontend, history,
// matching, worker) in its own process, and the namespace job. It runs the
// very scripts, variables, dynamic config and server version that compose
// gives the images, read from docker-compose.yml itself; only addresses,
// ports and folders differ, because there is no container network here.
//
// scripts/cluster.sh runs it from the command line; the cluster tests and
// the benchmark share it.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	deploytemporal "github.com/coursehook/coursehook/deploy/temporal"
	"github.com/coursehook/coursehook/internal/repo"
)

// Services are the Temporal server's services, each run as its own process
// so that one can be killed alone. Version 1.31 needs no internal-frontend:
// without an authorizer the worker service reaches the frontend directly.
var Services = []string{"frontend", "history", "matching", "worker"}

// Ports place the cluster's listeners.
type Ports struct {
	// Postgres is the port of the cluster's own PostgreSQL server.
	Postgres int
	// Temporal holds the config template's port variables
	// (FRONTEND_GRPC_PORT and so on).
	Temporal map[string]int
}

// DefaultPorts are the image's own ports for Temporal, as compose publishes
// the frontend on 7233, and 55432 for PostgreSQL, away from a local server
// on 5432.
func DefaultPorts() Ports {
	return Ports{Postgres: 55432, Temporal: map[string]int{
		"FRONTEND_GRPC_PORT": 7233, "FRONTEND_HTTP_PORT": 7243, "FRONTEND_MEMBERSHIP_PORT": 6933,
		"HISTORY_GRPC_PORT": 7234, "HISTORY_MEMBERSHIP_PORT": 6934,
		"MATCHING_GRPC_PORT": 7235, "MATCHING_MEMBERSHIP_PORT": 6935,
		"WORKER_GRPC_PORT": 7239, "WORKER_MEMBERSHIP_PORT": 6939,
	}}
}

// FreePorts are ports nothing listens on now, for tests that run beside
// other servers. Temporal keeps its services' ports in a SMALLINT column
// (cluster_membership.rpc_port), so they are taken below 32768, away from
// the kernel's ephemeral range, where FreePort's would land.
func FreePorts() (Ports, error) {
	p := Ports{Temporal: map[string]int{}}
	taken := map[int]bool{}
	pick := func() (int, error) {
		for range 1000 {
			port := 15000 + rand.IntN(17000)
			if taken[port] {
				continue
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				continue
			}
			_ = ln.Close()
			taken[port] = true
			return port, nil
		}
		return 0, errors.New("no free port between 15000 and 32000")
	}
	var err error
	if p.Postgres, err = pick(); err != nil {
		return Ports{}, err
	}
	for name := range DefaultPorts().Temporal {
		if p.Temporal[name], err = pick(); err != nil {
			return Ports{}, err
		}
	}
	return p, nil
}

// Options place the cluster. Zero values take the defaults shown.
type Options struct {
	// Repo is the repository root, with docker-compose.yml, deploy/ and
	// bin/ (found above the working directory).
	Repo string
	// Dir holds the cluster's state: PostgreSQL's data, the rendered
	// config, logs and pid files (Repo/.data/cluster).
	Dir string
	// ServerBin is the folder `make` builds temporal-server and
	// temporal-sql-tool into, with the schema and config template of their
	// module (Repo/bin/temporal-server-<deploytemporal.Version>).
	ServerBin string
	// CLI is the Temporal CLI that create-namespace.sh runs (Repo/bin/temporal).
	CLI string
	// Ports place the listeners (DefaultPorts).
	Ports Ports
	// Env is the environment compose's ${VAR:-default} reads, such as
	// TEMPORAL_DB_PASSWORD (empty: compose's defaults).
	Env map[string]string
	// Log receives one line per step (discarded when nil).
	Log io.Writer
}

// Cluster is a running cluster.
type Cluster struct {
	opts    Options
	compose *Compose
	pg      *postgres
	path    string // PATH for the scripts: the server's tools and the CLI first

	mu    sync.Mutex
	procs map[string]*Process
	order []string
}

func (o *Options) fill() error {
	if o.Repo == "" {
		root, err := repo.Root()
		if err != nil {
			return err
		}
		o.Repo = root
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(o.Repo, ".data", "cluster")
	}
	if o.ServerBin == "" {
		o.ServerBin = filepath.Join(o.Repo, "bin", "temporal-server-"+deploytemporal.Version)
	}
	if o.CLI == "" {
		o.CLI = filepath.Join(o.Repo, "bin", "temporal")
	}
	if o.Ports.Postgres == 0 {
		o.Ports = DefaultPorts()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	var err error
	for _, p := range []*string{&o.Repo, &o.Dir, &o.ServerBin, &o.CLI} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	for _, f := range []string{filepath.Join(o.ServerBin, "temporal-server"), filepath.Join(o.ServerBin, "temporal-sql-tool"), o.CLI} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is missing: run `make cluster-bins` (the first build of the Temporal server takes about 10 minutes)", f)
		}
	}
	return nil
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, "cluster: "+format+"\n", args...)
}

// Up starts the cluster and returns once the namespace is registered and
// usable: UpDatabase, then UpTemporal. A Dir that holds a cluster already is
// started again with its data, and the schema and namespace jobs run again,
// as compose runs them on every start. On an error, whatever was started is
// stopped.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := UpDatabase(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := c.UpTemporal(ctx); err != nil {
		if derr := c.Down(context.WithoutCancel(ctx)); derr != nil {
			c.logf("stop after a failed start: %v", derr)
		}
		return nil, err
	}
	return c, nil
}

// UpDatabase starts the first half of the cluster: PostgreSQL, with
// compose's init scripts on a new data directory, and Temporal's schema job.
// Coursehook's database is usable when it returns; Temporal is not started.
func UpDatabase(ctx context.Context, opts Options) (*Cluster, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	compose, err := LoadCompose(ctx, opts.Repo, opts.Env)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"run", "logs", "config"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// The postgres user must reach its data directory.
	if err := os.Chmod(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{
		opts:    opts,
		compose: compose,
		procs:   map[string]*Process{},
		path:    opts.ServerBin + string(os.PathListSeparator) + filepath.Dir(opts.CLI) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	err = c.startPostgres(ctx)
	if err == nil {
		err = c.setupSchema(ctx)
	}
	if err != nil {
		if derr := c.Down(context.WithoutCancel(ctx)); derr != nil {
			c.logf("stop after a failed start: %v", derr)
		}
		return nil, err
	}
	return c, nil
}

// UpTemporal starts the second half: it renders the server config, starts
// each Temporal service as a process of its own and runs the namespace job,
// which returns once the namespace can be used.
func (c *Cluster) UpTemporal(ctx context.Context) error {
	env, err := c.serverEnv()
	if err != nil {
		return err
	}
	if err := c.renderConfig(ctx, env); err != nil {
		return err
	}
	// Every service writes the cluster's metadata record on a new database
	// at start, and all but the first fail on the conflict; in compose's
	// one process they are one writer. So the frontend goes first, and the
	// others once it listens.
	for i, svc := range Services {
		p, err := c.Start("temporal-"+svc, filepath.Join(c.opts.ServerBin, "temporal-server"), env, "start", "--service", svc)
		if err != nil {
			return err
		}
		if i == 0 {
			listening := func(context.Context) bool { return portOpen(c.Frontend()) }
			if err := p.waitUntil(ctx, time.Minute, "listening on "+c.Frontend(), listening); err != nil {
				return err
			}
		}
	}
	c.logf("Temporal %s: frontend %s, history, matching and worker started", deploytemporal.Version, c.Frontend())
	// The namespace job waits up to two minutes for the cluster; a service
	// that dies meanwhile (a port taken, a database refused) ends the wait.
	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		for jobCtx.Err() == nil {
			for _, svc := range Services {
				if p, _ := c.Process("temporal-" + svc); p != nil && !p.Running() {
					b, _ := os.ReadFile(p.Log)
					cancel(fmt.Errorf("temporal-%s exited at start (log %s):\n%s", svc, p.Log, lastLines(string(b), 5)))
					return
				}
			}
			select {
			case <-jobCtx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	if _, err := c.CreateNamespace(jobCtx); err != nil {
		if cause := context.Cause(jobCtx); cause != nil && cause != context.Canceled {
			return cause
		}
		return err
	}
	return nil
}

// startPostgres initialises the data directory on the first start, as the
// postgres image does with compose's environment and init scripts, and
// starts the server with compose's settings.
func (c *Cluster) startPostgres(ctx context.Context) error {
	bin, err := findPostgresBin()
	if err != nil {
		return err
	}
	cred, err := postgresCredential()
	if err != nil {
		return err
	}
	settings, err := c.compose.ServerSettings("postgresql")
	if err != nil {
		return err
	}
	env, err := c.compose.Env("postgresql")
	if err != nil {
		return err
	}
	c.pg = &postgres{
		bin: bin, data: filepath.Join(c.opts.Dir, "postgres"), log: filepath.Join(c.opts.Dir, "logs", "postgres.log"),
		port: c.opts.Ports.Postgres, settings: settings, cred: cred,
	}
	if cred != nil {
		// The server appends to its log as the postgres user.
		if f, err := os.OpenFile(c.pg.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			_ = f.Close() // only created, for the chown
			_ = os.Chown(c.pg.log, int(cred.Uid), int(cred.Gid))
		}
	}
	fresh := !c.pg.initialised()
	if fresh {
		c.logf("PostgreSQL: initdb %s", c.pg.data)
		if err := c.pg.initdb(ctx, env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]); err != nil {
			return err
		}
	}
	if !c.pg.running(ctx) {
		if err := c.pg.start(ctx); err != nil {
			return err
		}
	}
	if fresh {
		scripts, err := c.compose.InitScripts("postgresql")
		if err != nil {
			return err
		}
		for _, s := range scripts {
			c.logf("PostgreSQL: %s", c.rel(s))
			if err := c.pg.runInitScript(ctx, s, env); err != nil {
				return err
			}
		}
	}
	c.logf("PostgreSQL %s on 127.0.0.1:%d (data %s)", filepath.Base(filepath.Dir(bin)), c.pg.port, c.pg.data)
	return nil
}

// StopPostgres stops the cluster's PostgreSQL server: mode "fast" as a
// clean shutdown, "immediate" as a crash.
func (c *Cluster) StopPostgres(ctx context.Context, mode string) error {
	return c.pg.stop(ctx, mode)
}

// StartPostgres starts it again.
func (c *Cluster) StartPostgres(ctx context.Context) error {
	return c.pg.start(ctx)
}

// jobEnv gives a one-shot job compose's environment, with PostgreSQL's
// address as it is here.
func (c *Cluster) jobEnv(service string, more map[string]string) ([]string, error) {
	env, err := c.compose.Env(service)
	if err != nil {
		return nil, err
	}
	c.local(env)
	maps.Copy(env, more)
	return c.environ(env), nil
}

// local replaces the container network's addresses in env with this
// machine's: PostgreSQL and the Temporal frontend.
func (c *Cluster) local(env map[string]string) {
	if _, ok := env["POSTGRES_SEEDS"]; ok {
		env["POSTGRES_SEEDS"] = "127.0.0.1"
		env["DB_PORT"] = strconv.Itoa(c.pg.port)
	}
	if _, ok := env["TEMPORAL_ADDRESS"]; ok {
		env["TEMPORAL_ADDRESS"] = c.Frontend()
	}
	if raw, ok := env["DATABASE_URL"]; ok {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "postgres" {
			u.Host = "127.0.0.1:" + strconv.Itoa(c.pg.port)
			env["DATABASE_URL"] = u.String()
		}
	}
}

// environ is env as a process environment, with PATH and HOME from this
// one: a container has its own.
func (c *Cluster) environ(env map[string]string) []string {
	out := []string{"PATH=" + c.path, "HOME=" + os.Getenv("HOME")}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// setupSchema runs compose's schema job, deploy/temporal/setup-schema.sh,
// with the schema folder of the server's module in place of the image's.
func (c *Cluster) setupSchema(ctx context.Context) error {
	script, err := c.compose.Script("temporal-schema")
	if err != nil {
		return err
	}
	env, err := c.jobEnv("temporal-schema", map[string]string{
		"TEMPORAL_SCHEMA_DIR": filepath.Join(c.opts.ServerBin, "schema", "postgresql", "v12"),
	})
	if err != nil {
		return err
	}
	c.logf("schema: %s", c.rel(script))
	return c.runScript(ctx, "temporal-schema", script, env)
}

// CreateNamespace runs compose's namespace job,
// deploy/temporal/create-namespace.sh, and returns what it printed.
func (c *Cluster) CreateNamespace(ctx context.Context) (string, error) {
	script, err := c.compose.Script("temporal-create-namespace")
	if err != nil {
		return "", err
	}
	env, err := c.jobEnv("temporal-create-namespace", map[string]string{
		// The CLI reads a profile file as the SDK does; a container
		// has none, and a developer's own must not apply here.
		"TEMPORAL_CONFIG_FILE": os.DevNull,
	})
	if err != nil {
		return "", err
	}
	c.logf("namespace: %s", c.rel(script))
	logPath := filepath.Join(c.opts.Dir, "logs", "temporal-create-namespace.log")
	before, _ := os.ReadFile(logPath)
	err = c.runScript(ctx, "temporal-create-namespace", script, env)
	after, _ := os.ReadFile(logPath)
	return string(after[min(len(before), len(after)):]), err
}

// runScript runs a one-shot job's script with sh, as its entrypoint does,
// appending its output to logs/<name>.log.
func (c *Cluster) runScript(ctx context.Context, name, script string, env []string) error {
	logPath := filepath.Join(c.opts.Dir, "logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Only a log, which the job writes through its own descriptor.
	defer func() { _ = f.Close() }()
	cmd := exec.CommandContext(ctx, "/bin/sh", script)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("%s (%s): %w\n%s", name, c.rel(script), err, lastLines(string(out), 20))
	}
	return nil
}

// serverEnv is the environment of compose's temporal service, with the
// addresses, ports and dynamic config file as they are here.
func (c *Cluster) serverEnv() ([]string, error) {
	env, err := c.compose.Env("temporal")
	if err != nil {
		return nil, err
	}
	dc, err := c.compose.HostFile("temporal", env["DYNAMIC_CONFIG_FILE_PATH"])
	if err != nil {
		return nil, err
	}
	c.local(env)
	// Loopback instead of every interface: nothing outside this machine
	// needs the cluster, and the frontend has no authentication.
	env["BIND_ON_IP"] = "127.0.0.1"
	env["DYNAMIC_CONFIG_FILE_PATH"] = dc
	for name, port := range c.opts.Ports.Temporal {
		env[name] = strconv.Itoa(port)
	}
	return c.environ(env), nil
}

// renderConfig renders the image's config template with the services'
// environment through the server's own render-config, into
// config/rendered.yaml (passwords masked), and checks the dynamic config
// file with the server's list of known keys.
func (c *Cluster) renderConfig(ctx context.Context, env []string) error {
	server := filepath.Join(c.opts.ServerBin, "temporal-server")
	dir := filepath.Join(c.opts.Dir, "config")
	tmpl, err := os.ReadFile(filepath.Join(c.opts.ServerBin, "config", "config_template.yaml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "docker.yaml"), tmpl, 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, server, "--config", dir, "--env", "docker", "render-config")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("temporal-server render-config: %w\n%s", err, errorOutput(err))
	}
	if err := os.WriteFile(filepath.Join(dir, "rendered.yaml"), out, 0o644); err != nil {
		return err
	}
	dc := envValue(env, "DYNAMIC_CONFIG_FILE_PATH")
	report, err := ValidateDynamicConfig(ctx, server, dc)
	if err != nil {
		return err
	}
	c.logf("config: %s rendered from the image's template; %s", c.rel(filepath.Join(dir, "rendered.yaml")), strings.TrimSpace(report))
	return nil
}

// ValidateDynamicConfig checks a dynamic config file with the server's own
// list of known keys and types (`temporal-server validate-dynamic-config`),
// and returns its report.
func ValidateDynamicConfig(ctx context.Context, server, file string) (string, error) {
	out, err := exec.CommandContext(ctx, server, "validate-dynamic-config", file).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("temporal-server validate-dynamic-config %s: %w\n%s", file, err, out)
	}
	if strings.Contains(string(out), "warning:") {
		return "", fmt.Errorf("temporal-server validate-dynamic-config %s warns:\n%s", file, out)
	}
	return string(out), nil
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

func errorOutput(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(exit.Stderr)
	}
	return ""
}

// Start runs a long-running program as one of the cluster's processes,
// logging to logs/<name>.log; Down stops it.
func (c *Cluster) Start(name, path string, env []string, args ...string) (*Process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.procs[name]; ok {
		return nil, fmt.Errorf("the cluster already has a process %s", name)
	}
	p := newProcess(c.opts.Dir, name, path, env, args...)
	if err := p.start(); err != nil {
		return nil, err
	}
	c.procs[name] = p
	c.order = append(c.order, name)
	return p, nil
}

// Process returns the process of that name, such as "temporal-history".
func (c *Cluster) Process(name string) (*Process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.procs[name]
	if !ok {
		return nil, fmt.Errorf("the cluster has no process %s", name)
	}
	return p, nil
}

// Restart starts a process again that was killed or stopped.
func (c *Cluster) Restart(name string) error {
	p, err := c.Process(name)
	if err != nil {
		return err
	}
	return p.start()
}

// Frontend is the Temporal frontend's gRPC address.
func (c *Cluster) Frontend() string {
	return "127.0.0.1:" + strconv.Itoa(c.opts.Ports.Temporal["FRONTEND_GRPC_PORT"])
}

// Dir is the cluster's state folder.
func (c *Cluster) Dir() string { return c.opts.Dir }

// Compose is the compose file the cluster runs.
func (c *Cluster) Compose() *Compose { return c.compose }

// RenderedConfig is the server config the image's template renders from
// compose's environment here, passwords masked.
func (c *Cluster) RenderedConfig() string {
	return filepath.Join(c.opts.Dir, "config", "rendered.yaml")
}

// CoursehookEnv is the environment compose gives a coursehook service
// ("worker" or "starter"), with Temporal's and the database's addresses as
// they are here, the container's /data volume at data, and more on top
// (listen addresses, the stand-ins' URLs).
func (c *Cluster) CoursehookEnv(service, data string, more map[string]string) ([]string, error) {
	env, err := c.compose.Env(service)
	if err != nil {
		return nil, err
	}
	c.local(env)
	for k, v := range env {
		if rest, ok := strings.CutPrefix(v, "/data/"); ok {
			env[k] = filepath.Join(data, rest)
		}
	}
	// A container has no temporal.toml profile; the developer's own must
	// not apply either.
	env["TEMPORAL_CONFIG_FILE"] = os.DevNull
	maps.Copy(env, more)
	return c.environ(env), nil
}

// Down stops every process the cluster started, newest first, and then
// PostgreSQL. The data stays in Dir for the next Up.
func (c *Cluster) Down(ctx context.Context) error {
	c.mu.Lock()
	order := slices.Clone(c.order)
	c.mu.Unlock()
	var errs []error
	for _, name := range slices.Backward(order) {
		p := c.procs[name]
		if err := p.Stop(20 * time.Second); err != nil {
			errs = append(errs, err)
		}
		_ = os.Remove(p.pidFile)
		_ = os.Remove(specFile(p.pidFile))
	}
	if c.pg != nil && c.pg.running(ctx) {
		if err := c.pg.stop(ctx, "fast"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DownDir stops what an `up` that has since exited started in dir: the
// processes its pid files name, and its PostgreSQL server. It reports each
// step to log.
func DownDir(ctx context.Context, dir string, log io.Writer) error {
	pids, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid"))
	// Coursehook's processes first, then Temporal's, as compose stops
	// dependants before what they depend on.
	slices.SortStableFunc(pids, func(a, b string) int {
		return boolInt(strings.Contains(filepath.Base(a), "temporal-")) - boolInt(strings.Contains(filepath.Base(b), "temporal-"))
	})
	var errs []error
	for _, f := range pids {
		msg, err := stopByPidFile(f, 20*time.Second)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(log, "cluster:", msg)
	}
	// The spec of a process whose pid file is gone has nothing to stop.
	specs, _ := filepath.Glob(filepath.Join(dir, "run", "*.json"))
	for _, f := range specs {
		_ = os.Remove(f)
	}
	pg, err := dirPostgres(dir)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if pg != nil && pg.running(ctx) {
		if err := pg.stop(ctx, "fast"); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintln(log, "cluster: stopped PostgreSQL")
		}
	}
	return errors.Join(errs...)
}

// dirPostgres is the PostgreSQL server of the cluster in dir, or nil when
// dir has no data directory.
func dirPostgres(dir string) (*postgres, error) {
	pg := &postgres{data: filepath.Join(dir, "postgres")}
	if !pg.initialised() {
		return nil, nil
	}
	var err error
	if pg.bin, err = findPostgresBin(); err != nil {
		return nil, err
	}
	if pg.cred, err = postgresCredential(); err != nil {
		return nil, err
	}
	return pg, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *Cluster) rel(path string) string {
	if r, err := filepath.Rel(c.opts.Repo, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// DatabaseURL is coursehook's database as compose gives it to the worker,
// at the cluster's PostgreSQL.
func (c *Cluster) DatabaseURL() (string, error) {
	env, err := c.compose.Env("worker")
	if err != nil {
		return "", err
	}
	c.local(env)
	if env["DATABASE_URL"] == "" {
		return "", errors.New("docker-compose.yml gives the worker no DATABASE_URL")
	}
	return env["DATABASE_URL"], nil
}
