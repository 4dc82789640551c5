package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// helperEnv makes the test binary, started as a process of a cluster, stand
// in for one of its programs (TestMain): it stays up for a minute at most,
// and when HTTP_ADDR is set it answers /readyz there, as a webhook server
// does.
const helperEnv = "CLUSTER_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "" {
		os.Exit(m.Run())
	}
	if addr := os.Getenv("HTTP_ADDR"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		go func() {
			_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/readyz" {
					http.NotFound(w, r)
				}
			}))
		}()
	}
	time.Sleep(time.Minute)
	os.Exit(0)
}

// helperCluster is a cluster in a folder of the test's with no Temporal and
// no PostgreSQL, whose processes are the test binary as TestMain runs it,
// started by Cluster.Start as `up` starts its processes. Down stops them
// when the test ends.
func helperCluster(t *testing.T) (string, *Cluster) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"run", "logs"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	t.Cleanup(func() { _ = DownDir(context.Background(), dir, io.Discard) })
	return dir, &Cluster{opts: Options{Dir: dir}, procs: map[string]*Process{}}
}

// startHelper starts the test binary as the cluster's process name.
func startHelper(t *testing.T, c *Cluster, name string, env ...string) *Process {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	p, err := c.Start(name, exe, append([]string{helperEnv + "=1"}, env...), "-test.run=^$")
	require.NoError(t, err)
	return p
}

// state is the named process as StatusDir sees it.
func state(t *testing.T, dir, name string) ProcessStatus {
	t.Helper()
	st, err := StatusDir(t.Context(), dir)
	require.NoError(t, err)
	for _, p := range st.Processes {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("StatusDir does not list %s: %+v", name, st)
	return ProcessStatus{}
}

// TestKillAndStartOneProcess takes one process of a running cluster through
// what `cluster ps`, `kill`, `start` and `restart` do, from its files alone,
// as the command does after `up` has exited.
func TestKillAndStartOneProcess(t *testing.T) {
	dir, c := helperCluster(t)
	history := startHelper(t, c, "temporal-history", "TEMPORAL_DB_PASSWORD=not-for-others")
	port, err := FreePort()
	require.NoError(t, err)
	webhook := startHelper(t, c, "webhook-1", "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port))

	// The spec holds the environment, passwords included: its owner's only.
	specPath := filepath.Join(dir, "run", "temporal-history.json")
	info, err := os.Stat(specPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(specPath)
	require.NoError(t, err)
	var spec Process
	require.NoError(t, json.Unmarshal(raw, &spec))
	require.Equal(t, history.Path, spec.Path)
	require.Equal(t, []string{"-test.run=^$"}, spec.Args)
	require.Contains(t, spec.Env, "TEMPORAL_DB_PASSWORD=not-for-others")
	require.Equal(t, filepath.Join(dir, "logs", "temporal-history.log"), spec.Log)

	st, err := StatusDir(t.Context(), dir)
	require.NoError(t, err)
	require.Equal(t, []ProcessStatus{
		{Name: "temporal-history", Pid: history.Pid(), Running: true, Log: history.Log},
		{Name: "webhook-1", Pid: webhook.Pid(), Running: true, Log: webhook.Log},
	}, st.Processes)
	require.Equal(t, "not initialised", st.Postgres)

	name, err := ResolveName(dir, "history")
	require.NoError(t, err)
	require.Equal(t, "temporal-history", name)
	name, err = ResolveName(dir, "webhook-1")
	require.NoError(t, err)
	require.Equal(t, "webhook-1", name)
	_, err = ResolveName(dir, "histroy")
	require.ErrorContains(t, err, `no process "histroy"; its processes are temporal-history (history), webhook-1`)
	_, err = KillDir(dir, "histroy", syscall.SIGKILL, time.Second)
	require.ErrorContains(t, err, "its processes are")

	_, err = StartDir(t.Context(), dir, "history")
	require.ErrorIs(t, err, errRunning)
	require.ErrorContains(t, err, fmt.Sprintf("temporal-history is already running (pid %d)", history.Pid()))
	require.Equal(t, history.Pid(), state(t, dir, "temporal-history").Pid, "the refusal started nothing")

	// kill is a crash: SIGKILL, and back once the process is gone.
	msg, err := KillDir(dir, "history", syscall.SIGKILL, time.Minute)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("killed temporal-history (pid %d)", history.Pid()), msg)
	require.False(t, alive(history.Pid()))
	require.Equal(t, ProcessStatus{Name: "temporal-history", Pid: history.Pid(), Log: history.Log}, state(t, dir, "temporal-history"))
	require.True(t, state(t, dir, "webhook-1").Running, "the others run on")

	msg, err = KillDir(dir, "temporal-history", syscall.SIGKILL, time.Minute)
	require.NoError(t, err, "killing a stopped process is not an error")
	require.Equal(t, fmt.Sprintf("temporal-history had already stopped (pid %d is gone)", history.Pid()), msg)

	msg, err = StartDir(t.Context(), dir, "history")
	require.NoError(t, err)
	again := state(t, dir, "temporal-history")
	require.True(t, again.Running)
	require.NotEqual(t, history.Pid(), again.Pid)
	require.Equal(t, fmt.Sprintf("started temporal-history (pid %d): up for 2s (it has no readiness signal)", again.Pid), msg)
	log, err := os.ReadFile(history.Log)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(log), ": starting "+history.Path), "the log is appended to:\n%s", log)

	// The cluster that started it first refuses too while it runs again,
	// and starts it once it is gone, as the cluster tests do.
	require.ErrorIs(t, c.Restart("temporal-history"), errRunning)
	_, err = KillDir(dir, "history", syscall.SIGTERM, time.Minute)
	require.NoError(t, err)
	require.NoError(t, c.Restart("temporal-history"))
	require.Equal(t, history.Pid(), state(t, dir, "temporal-history").Pid)

	// restart stops it cleanly and waits for the new one to be ready.
	msg, err = RestartDir(t.Context(), dir, "webhook-1", time.Minute)
	require.NoError(t, err)
	restarted := state(t, dir, "webhook-1")
	require.True(t, restarted.Running)
	require.NotEqual(t, webhook.Pid(), restarted.Pid)
	require.Equal(t, fmt.Sprintf("stopped webhook-1 (pid %d)\nstarted webhook-1 (pid %d): ready (http://127.0.0.1:%d/readyz answers 200)", webhook.Pid(), restarted.Pid, port), msg)

	require.NoError(t, DownDir(t.Context(), dir, io.Discard))
	left, err := os.ReadDir(filepath.Join(dir, "run"))
	require.NoError(t, err)
	require.Empty(t, left, "down removes the pid files and the specs")
	require.False(t, alive(restarted.Pid))
	require.False(t, alive(history.Pid()))
}

// TestClusterFromBeforeSpecs: a cluster started before the specs existed
// has pid files only. ps and kill work on it, start says why it cannot,
// and down stops it.
func TestClusterFromBeforeSpecs(t *testing.T) {
	dir, c := helperCluster(t)
	p := startHelper(t, c, "worker-1")
	require.NoError(t, os.Remove(filepath.Join(dir, "run", "worker-1.json")))

	require.Equal(t, ProcessStatus{Name: "worker-1", Pid: p.Pid(), Running: true, Log: p.Log}, state(t, dir, "worker-1"))
	msg, err := KillDir(dir, "worker-1", syscall.SIGKILL, time.Minute)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("killed worker-1 (pid %d)", p.Pid()), msg)
	_, err = StartDir(t.Context(), dir, "worker-1")
	require.ErrorContains(t, err, "worker-1 has no spec")

	require.NoError(t, c.Restart("worker-1"))
	require.NoError(t, os.Remove(filepath.Join(dir, "run", "worker-1.json")))
	var out strings.Builder
	require.NoError(t, DownDir(t.Context(), dir, &out))
	require.Equal(t, fmt.Sprintf("cluster: stopped worker-1 (pid %d)\n", p.Pid()), out.String())
	left, err := os.ReadDir(filepath.Join(dir, "run"))
	require.NoError(t, err)
	require.Empty(t, left)
}

// TestNoCluster: commands on a folder without a cluster say so.
func TestNoCluster(t *testing.T) {
	_, err := StartDir(t.Context(), t.TempDir(), "history")
	require.ErrorContains(t, err, "no cluster in")
}
