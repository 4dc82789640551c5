// Package pgtest gives each test its own PostgreSQL database on the local
// server, so database tests can run in parallel without seeing each other's
// rows, and skip cleanly on a machine without PostgreSQL.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	// URL talks to the server through database/sql, like the code under test.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// EnvURL names the environment variable that points the tests at a server of
// the developer's choosing instead of the local defaults.
const EnvURL = "TEST_DATABASE_URL"

// startTimeout bounds the wait for a server we just asked to start.
const startTimeout = 30 * time.Second

// URL creates a fresh database coursehook_test_<random hex> for t, drops it
// when t ends, and returns its URL. When the local server is down it tries
// once to start it; when no server can be had it skips t.
func URL(t testing.TB) string {
	t.Helper()
	base, err := serverURL()
	if err != nil {
		t.Skipf("PostgreSQL is not available, skipping (set %s to a server that is): %v", EnvURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, drop, err := create(ctx, base, "coursehook_test_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t's own context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Error(err)
		}
	})
	return u
}

// Create is URL for a program rather than a test, such as the benchmark:
// a fresh database named prefix and random hex, and the function that
// drops it. It starts the local server as URL does, and fails where URL
// would skip.
func Create(ctx context.Context, prefix string) (string, func(context.Context) error, error) {
	base, err := serverURL()
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL is not available (set %s to a server that is): %w", EnvURL, err)
	}
	return create(ctx, base, prefix)
}

func create(ctx context.Context, base *url.URL, prefix string) (string, func(context.Context) error, error) {
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", nil, fmt.Errorf("name database: %w", err)
	}
	// Hex keeps the name a plain identifier, safe to splice into DDL.
	name := prefix + hex.EncodeToString(random[:])
	if err := execAdmin(ctx, base, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func(ctx context.Context) error {
		// FORCE ends connections someone forgot to close, which would
		// otherwise make the drop fail and leak the database.
		if err := execAdmin(ctx, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u := *base
	u.Path = "/" + name
	return u.String(), drop, nil
}

// candidates lists the server URLs to try: the developer's choice if set,
// otherwise the local trust-auth server as postgres and as root.
func candidates() ([]*url.URL, error) {
	raw := []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	}
	if env := os.Getenv(EnvURL); env != "" {
		raw = []string{env}
	}
	out := make([]*url.URL, 0, len(raw))
	for _, r := range raw {
		u, err := url.Parse(r)
		if err != nil {
			// Not quoting r: it may hold a password.
			return nil, fmt.Errorf("parse %s: %w", EnvURL, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// serverURL returns the first candidate that answers, starting the local
// cluster once if none does and polling until it accepts connections.
func serverURL() (*url.URL, error) {
	urls, err := candidates()
	if err != nil {
		return nil, err
	}
	u, err := firstReachable(urls)
	if err == nil {
		return u, nil
	}
	startErr := startLocalServer()
	// Poll even when starting failed: a parallel test may have started the
	// server a moment earlier, which makes our own attempt fail.
	deadline := time.Now().Add(startTimeout)
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for time.Now().Before(deadline) {
		<-ticker.C
		if u, err = firstReachable(urls); err == nil {
			return u, nil
		}
	}
	return nil, errors.Join(err, startErr)
}

func firstReachable(urls []*url.URL) (*url.URL, error) {
	var errs []error
	for _, u := range urls {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := ping(ctx, u)
		cancel()
		if err == nil {
			return u, nil
		}
		errs = append(errs, fmt.Errorf("connect as %s to %s: %w", u.User.Username(), u.Host, err))
	}
	return nil, errors.Join(errs...)
}

func ping(ctx context.Context, u *url.URL) error {
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	return db.PingContext(ctx)
}

func execAdmin(ctx context.Context, u *url.URL, stmt string) error {
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// startLocalServer starts the Debian-packaged "main" cluster of every
// installed PostgreSQL version (normally one), bypassing systemd, which
// containers and CI machines usually lack.
func startLocalServer() error {
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil {
		return fmt.Errorf("find local PostgreSQL: %w", err)
	}
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		return fmt.Errorf("start local PostgreSQL: %w", err)
	}
	var errs []error
	for _, v := range versions {
		if !v.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/etc/postgresql", v.Name(), "main")); err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		out, err := exec.CommandContext(ctx, "pg_ctlcluster", "--skip-systemctl-redirect", v.Name(), "main", "start").CombinedOutput()
		cancel()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("start PostgreSQL %s: %w: %s", v.Name(), err, out))
	}
	if len(errs) == 0 {
		return errors.New("start local PostgreSQL: no cluster under /etc/postgresql")
	}
	return errors.Join(errs...)
}
