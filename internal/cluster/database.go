package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// PostgresPid is the process id of the cluster's PostgreSQL server (its
// postmaster, which starts a process for each connection).
func (c *Cluster) PostgresPid() (int, error) {
	raw, err := os.ReadFile(filepath.Join(c.pg.data, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL's pid: %w", err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// PostgresVersion is the server's major version, from its data directory.
func (c *Cluster) PostgresVersion() string {
	raw, err := os.ReadFile(filepath.Join(c.pg.data, "PG_VERSION"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(raw))
}

// HistoryShards is the number of history shards compose gives the server
// (NUM_HISTORY_SHARDS), fixed when the cluster was first created.
func (c *Cluster) HistoryShards() (string, error) {
	env, err := c.compose.Env("temporal")
	if err != nil {
		return "", err
	}
	return env["NUM_HISTORY_SHARDS"], nil
}

var databaseName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateDatabase creates a database of that name on the cluster's
// PostgreSQL, owned by coursehook's role, and returns coursehook's
// DATABASE_URL for it: a fresh store beside compose's, for a benchmark row
// or a test that must not see another's rows.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if !databaseName.MatchString(name) {
		return "", fmt.Errorf("database name %q: lower-case letters, digits and _ only", name)
	}
	raw, err := c.DatabaseURL()
	if err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	owner := u.User.Username()
	if !databaseName.MatchString(owner) {
		return "", errors.New("docker-compose.yml's DATABASE_URL names no plain role")
	}
	env, err := c.compose.Env("postgresql")
	if err != nil {
		return "", err
	}
	// As the superuser over the local socket, as the init scripts run.
	cmd := c.pg.command(ctx, nil, filepath.Join(c.pg.bin, "psql"), "--host", c.pg.data, "--port", strconv.Itoa(c.pg.port),
		"--username", env["POSTGRES_USER"], "--dbname", "postgres", "--no-psqlrc", "--set", "ON_ERROR_STOP=1",
		"--command", fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, name, owner))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("create database %s: %w\n%s", name, err, strings.TrimSpace(string(out)))
	}
	u.Path = "/" + name
	return u.String(), nil
}
