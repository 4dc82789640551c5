// Package devserver starts the Temporal CLI's dev server for tests, from the
// binary `make` builds into bin/ (never the SDK's download, which cannot work
// without internet).
package devserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/coursehook/coursehook/internal/repo"
	"github.com/coursehook/coursehook/workflows"
)

// CLIPath finds the Temporal CLI: $TEMPORAL_CLI, else bin/temporal in the
// repository that contains the working directory.
func CLIPath() (string, error) {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("%w; set TEMPORAL_CLI", err)
	}
	p := filepath.Join(root, "bin", "temporal")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no Temporal CLI at %s: run `make bin/temporal` (or `make test`) first, or set TEMPORAL_CLI", p)
	}
	return p, nil
}

// Options adjust the server; the zero value is an in-memory server on free
// ports.
type Options struct {
	// DBFilename persists the server's state, so a restart keeps it.
	DBFilename string
	// HostPort pins the frontend address, for restarts on the same port.
	HostPort string
	// Log receives the server's own output (discarded when nil).
	Log io.Writer
	// ExtraArgs are more flags for `temporal server start-dev`, such as
	// MakeRunArgs.
	ExtraArgs []string
}

// MakeRunArgs are the flags `make run` gives its dev server beyond the
// search attributes: SQLite's write-ahead log with normal syncs (safe for a
// local server, and about three times the start rate on a file), and eager
// activity execution, which lets a worker run an activity its own workflow
// task scheduled without a round trip through the task queue.
var MakeRunArgs = []string{
	"--sqlite-pragma", "journal_mode=wal",
	"--sqlite-pragma", "synchronous=normal",
	"--dynamic-config-value", "system.enableActivityEagerExecution=true",
}

// Start runs a dev server until Stop is called on the result.
func Start(ctx context.Context, opts Options) (*testsuite.DevServer, error) {
	path, err := CLIPath()
	if err != nil {
		return nil, err
	}
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	// Like `make run`, every test server has coursehook's search
	// attributes in its default namespace, so the binaries never need to
	// register them there.
	args := append([]string(nil), opts.ExtraArgs...)
	for name, typ := range workflows.SearchAttributeTypes() {
		args = append(args, "--search-attribute", name+"="+workflows.SearchAttributeTypeName(typ))
	}
	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})))
	return testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  path,
		ClientOptions: &client.Options{HostPort: opts.HostPort, Namespace: "default", Logger: quiet},
		DBFilename:    opts.DBFilename,
		LogLevel:      "error",
		Stdout:        out,
		Stderr:        out,
		ExtraArgs:     args,
	})
}
