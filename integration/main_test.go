// Package integration runs coursehook end to end: a real Temporal dev
// server, the real worker wiring and gin handler, a real database, and local
// stand-ins for Slack and SendGrid that speak their wire formats.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/internal/devserver"
)

// temporal is the client of the dev server shared by every test here. Tests
// keep apart by task queue and event id, so they can run in parallel.
var temporal client.Client

// frontend is that dev server's address, for worker processes.
var frontend string

// scratch holds files shared by the tests of one run, such as the worker
// binary.
var scratch string

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	var err error
	if scratch, err = os.MkdirTemp("", "coursehook-integration-"); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	srv, err := devserver.Start(context.Background(), devserver.Options{Log: os.Stderr, ExtraArgs: []string{
		// Far below Temporal's default of 2,000, so the cohort test's
		// digest (300 completions in one window) must keep to it by
		// answering in batches, as it must past 2,000 in production.
		"--dynamic-config-value", "limit.numPendingSignals.error=150",
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: start the Temporal dev server:", err)
		os.Exit(1)
	}
	temporal = srv.Client()
	frontend = srv.FrontendHostPort()
	code := m.Run()
	os.RemoveAll(scratch)
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: stop the dev server:", err)
	}
	os.Exit(code)
}
