package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deploytemporal "github.com/coursehook/coursehook/deploy/temporal"
	"github.com/coursehook/coursehook/internal/devserver"
	"github.com/coursehook/coursehook/internal/syncbuf"
)

// TestSmoke runs the whole program small: every row is printed and measured,
// and no event is lost, duplicated or failed. It checks no timing; the
// machine running `make test` is busy with everything else.
func TestSmoke(t *testing.T) {
	t.Parallel()
	if _, err := devserver.CLIPath(); err != nil {
		t.Skipf("the bench needs the Temporal CLI's dev server: %v", err)
	}
	opts := defaultOptions()
	opts.N, opts.C, opts.Renders = 50, 8, 10
	opts.StoreRows, opts.StoreSamples = 2000, 5
	opts.Latency = 5
	opts.ScaleOut = true
	opts.Burst, opts.BurstC = 30, 30
	opts.DigestWindow = 5 * time.Second
	opts.Work = t.TempDir()
	opts.Write = filepath.Join(t.TempDir(), "BENCHMARKS.md")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	var out bytes.Buffer
	progress := &syncbuf.Buffer{}
	err := run(ctx, opts, &out, progress)
	require.NoError(t, err, "progress:\n%s\ntable:\n%s", progress, &out)

	table := out.String()
	for _, name := range []string{"latency", "ceiling", "ingest", "naive", "coursehook", "certificate", "store, SQLite", "store, PostgreSQL", "memory", "scale-out", "errors"} {
		require.Contains(t, table, "\n| "+name+" | ", "row %s", name)
	}
	require.NotContains(t, table, "| "+notMeasured+" |")
	require.Contains(t, table, "| errors: 0, lost: 0, rows not measured: 0;")
	require.Contains(t, table, "50 accepted, 50 answered duplicate; 50 Slack messages, 50 emails for 50 events")
	require.Contains(t, table, "| accepted | 30 of 30;")
	m := regexp.MustCompile(`\| Slack stand-in \| (\d+) messages, \d+ posts, 0 answered 429 \|`).FindStringSubmatch(table)
	require.NotNil(t, m, "the burst's Slack line, with no 429:\n%s", table)
	slack, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	require.Less(t, slack, 30/2, "the cohort digest folds the burst into a handful of messages")

	written, err := os.ReadFile(opts.Write)
	require.NoError(t, err)
	require.Contains(t, string(written), table)
	require.Contains(t, string(written), "## Where the time goes")
	require.Contains(t, string(written), "## What each change bought")
}

func TestWriteBenchmarksKeepsTheProse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, writeBenchmarks(path, "first table\n", false))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(first), "first table")

	edited := strings.Replace(string(first), "## Where the time goes\n", "## Where the time goes\n\nThe worker spends its time in X.\n", 1)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
	require.NoError(t, writeBenchmarks(path, "second table\n", false))
	require.NoError(t, writeBenchmarks(path, "cluster table\n", true))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(second), "second table")
	require.NotContains(t, string(second), "first table")
	require.Contains(t, string(second), "The worker spends its time in X.")
	require.Less(t, strings.Index(string(second), "second table"), strings.Index(string(second), "## On the production cluster"))
	require.Greater(t, strings.Index(string(second), "cluster table"), strings.Index(string(second), "## On the production cluster"),
		"the cluster's table has a section of its own")

	require.NoError(t, writeBenchmarks(path, "third table\n", false))
	third, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(third), "cluster table", "a dev server run leaves the cluster's table alone")
	require.NotContains(t, string(third), "second table")

	bare := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(bare, []byte("# Benchmarks\n\nprose only\n"), 0o644))
	for _, onCluster := range []bool{false, true} {
		require.ErrorContains(t, writeBenchmarks(bare, "table\n", onCluster), "no ")
	}
	kept, err := os.ReadFile(bare)
	require.NoError(t, err)
	require.Equal(t, "# Benchmarks\n\nprose only\n", string(kept))
}

// TestTheRepositorysBenchmarksHaveBothBlocks: `make bench` and `make
// bench-cluster` can both write into BENCHMARKS.md.
func TestTheRepositorysBenchmarksHaveBothBlocks(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../BENCHMARKS.md")
	require.NoError(t, err)
	for _, onCluster := range []bool{false, true} {
		begin, end := markers(onCluster)
		require.Contains(t, string(text), begin)
		require.Contains(t, string(text), end)
	}
}

func TestWorkersAndClusterFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []int{1}, o.Workers, "the dev server: one worker process")
	o, err = parseFlags([]string{"--cluster"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, o.Workers, "the cluster: one and two")
	o, err = parseFlags([]string{"--workers", "1,3"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []int{1, 3}, o.Workers)
	for _, bad := range [][]string{
		{"--workers", "0"}, {"--workers", "2,1"}, {"--workers", "x"},
		{"--cluster", "--temporal", "127.0.0.1:7233"}, {"--cluster", "--db-file", "x.db"},
		{"--history-shards", "4"}, {"--cluster", "--history-shards", "-1"},
	} {
		_, err := parseFlags(bad, io.Discard)
		require.Error(t, err, "%q", bad)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sample []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"median of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 1..100", hundred, 100, 100 * time.Millisecond},
		{"p99 of four", []time.Duration{4, 1, 3, 2}, 99, 4},
		{"median of four", []time.Duration{4, 1, 3, 2}, 50, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, newDist(tc.sample).pct(tc.p))
		})
	}
}

func TestPeakPerSecond(t *testing.T) {
	t.Parallel()
	at := func(ms ...int) []time.Time {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var out []time.Time
		for _, m := range ms {
			out = append(out, base.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		times []time.Time
		want  int
	}{
		{"none", nil, 0},
		{"one", at(5), 1},
		{"a second apart", at(0, 1000, 2000), 1},
		{"a cluster inside a second", at(0, 1500, 1600, 1700, 2499, 3000), 4},
		{"unsorted", at(1700, 0, 1500, 2499, 1600), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, peakPerSecond(tc.times))
		})
	}
}

// TestSendRetriesOnlyUnavailable: a 503 is posted again, as the platform
// does, and then counts as accepted; any other refusal is an error at once.
func TestSendRetriesOnlyUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                        string
		first                       int
		wantAccepted, wantRetried   int
		wantUnavailable, wantErrors int
	}{
		{"accepted at once", http.StatusAccepted, 3, 0, 0, 0},
		{"503, then accepted", http.StatusServiceUnavailable, 3, 3, 3, 0},
		{"400 is not retried", http.StatusBadRequest, 0, 0, 0, 3},
		{"500 is not retried", http.StatusInternalServerError, 0, 0, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			attempts := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var ev struct {
					ID string `json:"id"`
				}
				if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				attempts[ev.ID]++
				n := attempts[ev.ID]
				mu.Unlock()
				status := http.StatusAccepted
				if n == 1 {
					status = tc.first
				}
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(answerBody{Status: "accepted", EventID: ev.ID, WorkflowID: "wf-" + ev.ID})
			}))
			t.Cleanup(srv.Close)
			var ds []delivery
			for _, id := range []string{"a", "b", "c"} {
				ds = append(ds, delivery{URL: srv.URL, EventID: id, Body: []byte(`{"id":"` + id + `"}`)})
			}
			st := send(context.Background(), newSender(2), ds, 2, time.Millisecond)
			require.Len(t, st.accepted(), tc.wantAccepted)
			require.Equal(t, tc.wantRetried, st.Retried)
			require.Equal(t, tc.wantUnavailable, st.Unavailable)
			require.Equal(t, tc.wantErrors, st.Count, st.First)
		})
	}
}

func TestWithoutPragmasKeepsTheOtherFlags(t *testing.T) {
	got := withoutPragmas([]string{"--sqlite-pragma", "journal_mode=wal", "--dynamic-config-value", "x=true", "--sqlite-pragma", "synchronous=normal"})
	require.Equal(t, []string{"--dynamic-config-value", "x=true"}, got)
}

func TestCPUUseDescribesTheNamedParts(t *testing.T) {
	u := cpuUse{Server: 100 * time.Millisecond, Webhooks: 20 * time.Millisecond, Bench: 7 * time.Millisecond, OK: true}
	require.Equal(t, "; processor time an event: server 10.0 ms, webhook server 2.0 ms",
		u.describe(10, "an event", cpuLabels{"server", "", "webhook server"}))
	u.ServerParts = []partTime{{"frontend", 30 * time.Millisecond}, {"history", 50 * time.Millisecond}, {"PostgreSQL", 20 * time.Millisecond}}
	require.Equal(t, "; processor time an event: server 10.0 ms (frontend 3.0 ms, history 5.0 ms, PostgreSQL 2.0 ms), webhook server 2.0 ms",
		u.describe(10, "an event", cpuLabels{"server", "", "webhook server"}), "a server of several processes is broken down")
	u.OK = false
	require.Empty(t, u.describe(10, "an event", cpuLabels{"server"}), "a time that could not be read is left out")
}

// TestTreeCPUCountsChildren: a process's tree time includes what a child
// that has ended used, as PostgreSQL's connections end between readings.
func TestTreeCPUCountsChildren(t *testing.T) {
	before, err := readProcTimes(os.Getpid())
	require.NoError(t, err)
	// A child that spins for a moment and ends.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	require.NoError(t, cmd.Run())
	after, err := readProcTimes(os.Getpid())
	require.NoError(t, err)
	require.Greater(t, after.Children, before.Children, "the ended child's time is its parent's children's time")
	tree, err := treeCPU(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, tree, after.Own+after.Children, "the tree counts both")
}

// TestClusterSmoke runs the rows small on the production cluster, with one
// and two worker processes: every row is measured, the server's processor
// time is broken down per service and PostgreSQL, and no event is lost.
func TestClusterSmoke(t *testing.T) {
	t.Parallel()
	// Not in make test: beside the integration tests it loads the two
	// cores enough to push their dev server's starts past 5 s.
	if os.Getenv("BENCH_CLUSTER_SMOKE") == "" {
		t.Skip("set BENCH_CLUSTER_SMOKE=1 to run the bench on the production cluster, small (make bench-cluster-smoke)")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	server := filepath.Join(root, "bin", "temporal-server-"+deploytemporal.Version, "temporal-server")
	if _, err := os.Stat(server); err != nil {
		t.Skipf("the production cluster needs %s: run `make cluster-bins`", server)
	}
	opts := defaultOptions()
	opts.Cluster = true
	opts.Workers = []int{1, 2}
	opts.N, opts.C = 20, 4
	opts.Only = map[string]bool{"ceiling": true, "ingest": true, "naive": true, "coursehook": true}
	opts.Work = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var out bytes.Buffer
	progress := &syncbuf.Buffer{}
	err = run(ctx, opts, &out, progress)
	require.NoError(t, err, "progress:\n%s\ntable:\n%s", progress, &out)
	table := out.String()
	require.Contains(t, table, "production cluster")
	for _, name := range []string{"ceiling", "ingest", "naive", "coursehook"} {
		for _, row := range []string{name, name + ", 2 workers"} {
			require.Regexp(t, `\n\| `+regexp.QuoteMeta(row)+` \| [^|]+ \| [^|]*server \d+\.\d ms \(frontend \d+\.\d ms, history \d+\.\d ms, matching \d+\.\d ms, worker \d+\.\d ms, PostgreSQL \d+\.\d ms\)`,
				table, "row %s, with the server's processor time per service", row)
		}
	}
	require.Contains(t, table, "| errors: 0, lost: 0, rows not measured: 0;")
}

// TestRoundRatiosTakeTheMedian: each round's ratio is its own row's time
// over its own naive's, and the verdict's figure is their median; a row
// that never ran has none.
func TestRoundRatiosTakeTheMedian(t *testing.T) {
	ms := time.Millisecond
	rounds := []costRound{
		{Naive: 20 * ms, Rows: [3]time.Duration{18 * ms, 19 * ms}},
		{Naive: 40 * ms, Rows: [3]time.Duration{30 * ms, 44 * ms}},
		{Naive: 20 * ms, Rows: [3]time.Duration{16 * ms, 20 * ms}},
	}
	each, median, ok := roundRatios(rounds, 0)
	require.True(t, ok)
	require.InDeltaSlice(t, []float64{0.9, 0.75, 0.8}, each, 1e-9)
	require.InDelta(t, 0.8, median, 1e-9)
	_, median, _ = roundRatios(rounds[:2], 1)
	require.InDelta(t, (0.95+1.1)/2, median, 1e-9, "an even count takes the middle two")
	_, _, ok = roundRatios(rounds, 2)
	require.False(t, ok)
}
