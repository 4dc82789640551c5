package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// postgres is a PostgreSQL server of the cluster's own: initdb in a folder
// of its own, on a port of its own, so that restarting it (a fault the tests
// inject) never disturbs anything else that shares the machine's server.
type postgres struct {
	bin      string // folder with initdb, pg_ctl and postgres
	data     string // data directory, also the folder of its Unix socket
	log      string
	port     int
	settings []string            // -c settings from compose's command
	cred     *syscall.Credential // run as the postgres user when we are root: initdb refuses root
}

// findPostgresBin finds the server's programs: $PG_BIN, else the newest
// Debian-packaged version under /usr/lib/postgresql.
func findPostgresBin() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server programs (initdb, pg_ctl) under /usr/lib/postgresql/*/bin; install Debian's postgresql package or set PG_BIN")
}

// postgresCredential is the postgres user's, when this process runs as
// root (PostgreSQL refuses to run as root), else nil.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL cannot run as root and there is no postgres user to run it as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (p *postgres) command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
		// The postgres user cannot read root's working directory.
		cmd.Dir = p.data
	}
	return cmd
}

func (p *postgres) run(ctx context.Context, env []string, name string, args ...string) error {
	out, err := p.command(ctx, env, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// initialised says whether the data directory holds a cluster already.
func (p *postgres) initialised() bool {
	_, err := os.Stat(filepath.Join(p.data, "PG_VERSION"))
	return err == nil
}

// initdb creates the data directory as the postgres image does: the
// superuser is superUser with password, local (socket) connections are
// trusted, TCP ones need a password.
func (p *postgres) initdb(ctx context.Context, superUser, password string) error {
	if strings.ContainsAny(p.data, " '\"\\") {
		return fmt.Errorf("the PostgreSQL data directory %q must not contain spaces or quotes (pg_ctl passes it through a shell)", p.data)
	}
	if err := os.MkdirAll(p.data, 0o700); err != nil {
		return err
	}
	pwfile := p.data + ".pw"
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	defer func() { _ = os.Remove(pwfile) }()
	if p.cred != nil {
		for _, f := range []string{p.data, pwfile} {
			if err := os.Chown(f, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
				return err
			}
		}
	}
	err := p.run(ctx, nil, filepath.Join(p.bin, "initdb"), "--pgdata", p.data, "--username", superUser,
		"--pwfile", pwfile, "--auth-local", "trust", "--auth-host", "scram-sha-256",
		"--encoding", "UTF8", "--locale", "C.UTF-8", "--no-instructions")
	if err != nil && p.cred != nil {
		return fmt.Errorf("%w\n(PostgreSQL runs as the postgres user here: every folder above %s must be searchable by it)", err, p.data)
	}
	return err
}

// options are the server's command-line settings: compose's, then where
// it listens here.
func (p *postgres) options() string {
	opts := []string{"-p", strconv.Itoa(p.port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + p.data}
	for _, s := range p.settings {
		opts = append(opts, "-c", s)
	}
	return strings.Join(opts, " ")
}

// start starts the server and waits until it accepts connections.
func (p *postgres) start(ctx context.Context) error {
	return p.run(ctx, nil, filepath.Join(p.bin, "pg_ctl"), "start", "--pgdata", p.data, "--log", p.log,
		"--wait", "--timeout", "60", "--options", p.options())
}

// stop stops the server: mode "fast" ends sessions and shuts down cleanly,
// "immediate" is a crash.
func (p *postgres) stop(ctx context.Context, mode string) error {
	return p.run(ctx, nil, filepath.Join(p.bin, "pg_ctl"), "stop", "--pgdata", p.data, "--mode", mode, "--wait", "--timeout", "60")
}

// running says whether the server of the data directory runs.
func (p *postgres) running(ctx context.Context) bool {
	return p.run(ctx, nil, filepath.Join(p.bin, "pg_ctl"), "status", "--pgdata", p.data) == nil
}

// runInitScript runs one of compose's /docker-entrypoint-initdb.d scripts
// the way the image does on a new data directory: as the superuser over
// the local socket, with the service's environment.
func (p *postgres) runInitScript(ctx context.Context, script string, env map[string]string) error {
	vars := []string{"PGHOST=" + p.data, "PGPORT=" + strconv.Itoa(p.port)}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	// The postgres user may not be able to read the repository's copy.
	body, err := os.ReadFile(script)
	if err != nil {
		return err
	}
	cmd := p.command(ctx, vars, "bash", "-s")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(script), err, strings.TrimSpace(string(out)))
	}
	return nil
}
