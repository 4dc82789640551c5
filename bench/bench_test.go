package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	opts.ScaleOut = true
	opts.Burst, opts.BurstC = 30, 30
	opts.DigestWindow = 5 * time.Second
	opts.Work = t.TempDir()
	opts.Write = filepath.Join(t.TempDir(), "BENCHMARKS.md")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var out bytes.Buffer
	progress := &syncbuf.Buffer{}
	err := run(ctx, opts, &out, progress)
	require.NoError(t, err, "progress:\n%s\ntable:\n%s", progress, &out)

	table := out.String()
	for _, name := range []string{"ceiling", "ingest", "naive", "coursehook", "certificate", "memory", "scale-out", "errors"} {
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
	require.NoError(t, writeBenchmarks(path, "first table\n"))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(first), "first table")

	edited := strings.Replace(string(first), "## Where the time goes\n", "## Where the time goes\n\nThe worker spends its time in X.\n", 1)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
	require.NoError(t, writeBenchmarks(path, "second table\n"))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(second), "second table")
	require.NotContains(t, string(second), "first table")
	require.Contains(t, string(second), "The worker spends its time in X.")

	bare := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(bare, []byte("# Benchmarks\n\nprose only\n"), 0o644))
	require.ErrorContains(t, writeBenchmarks(bare, "table\n"), "no ")
	kept, err := os.ReadFile(bare)
	require.NoError(t, err)
	require.Equal(t, "# Benchmarks\n\nprose only\n", string(kept))
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
	u.OK = false
	require.Empty(t, u.describe(10, "an event", cpuLabels{"server"}), "a time that could not be read is left out")
}
