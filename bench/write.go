package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// markers are the two lines a generated table sits between in
// BENCHMARKS.md; a new run replaces what is between them and leaves the
// prose around them alone. The dev server's table and the cluster's
// (--cluster) have a pair each.
func markers(onCluster bool) (begin, end string) {
	if onCluster {
		return "<!-- bench:cluster:begin: written by `go run ./bench --cluster --write BENCHMARKS.md`; edits between these markers are overwritten -->",
			"<!-- bench:cluster:end -->"
	}
	return "<!-- bench:begin: written by `go run ./bench --write BENCHMARKS.md`; edits between these markers are overwritten -->",
		"<!-- bench:end -->"
}

// writeBenchmarks puts table into path: between the markers of an existing
// file, or into a new file with the prose sections as placeholders. A file
// without the markers is left alone, since its prose would be lost.
func writeBenchmarks(path, table string, onCluster bool) error {
	beginMarker, endMarker := markers(onCluster)
	block := beginMarker + "\n\n" + table + "\n" + endMarker
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = []byte(newBenchmarks())
	case err != nil:
		return err
	}
	text := string(old)
	begin := strings.Index(text, beginMarker)
	end := strings.Index(text, endMarker)
	if begin < 0 || end < begin {
		return fmt.Errorf("%s has no %q ... %q block to replace; add the two lines where the table belongs", path, beginMarker, endMarker)
	}
	text = text[:begin] + block + text[end+len(endMarker):]
	return os.WriteFile(path, []byte(text), 0o644)
}

// newBenchmarks is the template with both tables' markers and no table.
func newBenchmarks() string {
	var blocks [2]string
	for i, onCluster := range []bool{false, true} {
		begin, end := markers(onCluster)
		blocks[i] = begin + "\n\nNot measured yet.\n\n" + end
	}
	return strings.NewReplacer("{{table}}", blocks[0], "{{cluster}}", blocks[1]).Replace(benchmarksTemplate)
}

// benchmarksTemplate is a new BENCHMARKS.md: what the rows mean and how to
// run and profile them, the table, and the two sections the people who tune
// coursehook write.
const benchmarksTemplate = `# Benchmarks

` + "`make bench`" + ` runs ` + "`go run ./bench`" + `: one program, one table, every row measured in the same
run against the same Temporal server. It exits non-zero when an event is lost or fails (accepted and
never completed, a failed workflow, an answer other than 2xx, or a 503 whose retry did not succeed);
a target that is not met is reported, not an error.

` + "```sh" + `
make bench                                   # the table below
make bench BURST=5000                        # the same, and the burst section
go run ./bench --write BENCHMARKS.md         # refresh the table in this file; the prose stays
go run ./bench -n 500 -c 16                  # fewer events, fewer senders
go run ./bench --only naive,coursehook       # some rows only, while tuning (not with --write)
go run ./bench --scale-out                   # add two worker processes and two webhook servers
go run ./bench --db-file /tmp/bench.db       # the dev server on a SQLite file, with make run's pragmas
go run ./bench --temporal 127.0.0.1:7233     # a server that is already running
go run ./bench -h                            # every flag
` + "```" + `

## The rows

| row | what runs | what is counted |
|---|---|---|
| ceiling | N starts of a no-op workflow through the raw SDK (` + "`ExecuteWorkflow`" + `) from C concurrent callers; a worker process of the bench's own (` + "`bench/naiveworker`" + `) completes them | starts/s over the start phase; each start's time, p50/p95/p99 |
| ingest | the real webhook server (` + "`go build ./starter`" + `, run as a process, configured by its environment like the integration tests) takes N events from C senders over HTTP; a no-op in the bench's worker process stands in for ` + "`CourseCompletion`" + `, as in the ceiling, so the two rows differ by the webhook path alone | 2xx answers/s; each answer's time, p50/p95/p99; both as ratios to the ceiling |
| naive | N workflows of four ordinary no-op activities run in sequence, with default options, started by C callers; the bench's worker process, like coursehook's a process of its own | completed/s from the first workflow's start to the last one's close |
| coursehook | N events posted through a webhook server to the real worker process (` + "`go build ./worker`" + `): SQLite in a temporary folder, the real PDF, slack-go and sendgrid-go against the Slack and SendGrid stand-ins (` + "`internal/slacktest`" + `, ` + "`internal/sendgridtest`" + `) in the bench process; ` + "`SLACK_MESSAGES_PER_SECOND`" + ` is lifted, so the pipeline, not the throttle, is measured | completed/s from the first workflow's start to the last one's close, as a ratio to naive; then every event is checked: one completed row, one Slack message, one email |
| certificate | ` + "`certificate.Render`" + ` of the first sample, in process | median and p99 render time; PDF size |
| memory | the webhook servers of the ingest and coursehook rows, and the worker of the coursehook row | peak RSS (` + "`VmHWM`" + ` in ` + "`/proc/<pid>/status`" + `) |
| scale-out | ` + "`--scale-out`" + `: two worker processes and two webhook servers on one task queue; each event is posted to both, so each is delivered twice | completed/s beside the one-worker row; each event started once and processed once (one row, one Slack message, one email, counted on the stand-ins by event id) |
| burst | ` + "`--burst N`" + `: N events posted at once by ` + "`--burst-c`" + ` senders; a 503 is posted again on the platform's schedule (20 s, doubling) | time to drain, peak accept and complete rates over any one second, the Slack stand-in's messages and 429s (` + "`--slack-limit`" + ` turns its rate limit on) |

Times of the workflow rows come from the server's records (start and close times, listed through
visibility once every workflow has closed), so polling costs no precision. The events are the
platform's samples (` + "`testdata/`" + `, the same files as the shared samples), taken in turn, each
with a fresh event id; ` + "`--body-bytes`" + ` pads them with ` + "`internal/samples`" + `. Payloads are
encrypted as under ` + "`make run`" + ` (` + "`--plaintext`" + ` turns that off).

The targets hold on the 2-core development machine, each a ratio from one run: ingest at least
0.9× the ceiling's starts/s and an ack p99 at most 1.25× the ceiling's; coursehook at least 1.5× naive;
a certificate in 5 ms (median) and 60 KB; the webhook server within 80 MB; no error and no lost
event. The machine is shared, so single runs are noisy: compare ratios from one run, not figures
across runs.

## Profiling

- **The bench process** (the certificate row, the callers of the ceiling and naive rows, the
  senders, the stand-ins):
  ` + "`go run ./bench --cpuprofile cpu.out`" + `, then ` + "`go tool pprof -top cpu.out`" + `.
- **The worker and the webhook server** serve no pprof endpoint (only ` + "`/metrics`" + ` on their
  private listeners). ` + "`--perf DIR`" + ` records both with Linux ` + "`perf`" + ` during the coursehook
  row; read them with ` + "`perf report -i DIR/worker.perf.data --no-children`" + `. The progress lines
  give each process's pid, metrics address and log, for ` + "`perf record -p PID`" + ` or a look at
  ` + "`temporal_*`" + ` metrics (task latencies, slots) by hand; ` + "`--keep`" + ` keeps the logs and
  databases. ` + "`GOGC`" + `, ` + "`GOMEMLIMIT`" + `, ` + "`GOMAXPROCS`" + ` and ` + "`GODEBUG`" + ` (say
  ` + "`GODEBUG=gctrace=1`" + `) are passed on to both binaries.

## Last run

{{table}}

## On the production cluster

` + "`make bench-cluster`" + ` runs the same rows on the production cluster (` + "`--cluster`" + `), with one and with two
worker processes.

{{cluster}}

## Where the time goes

> **TODO (placeholder, to be written by whoever profiles the run above):** for the ceiling, ingest
> and coursehook rows, where a request or a workflow spends its time.

## What each change bought

> **TODO (placeholder, to be written with each tuning change):** one line per change, naming the
> row it moved and its ratio before and after, measured in one run.
`
