package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the program's flags; defaultOptions are what `make bench` runs.
type options struct {
	// N is the number of workflows or events of each row; C the number of
	// concurrent callers or senders.
	N, C int
	// Renders is how many certificates the certificate row renders.
	Renders int
	// DBFile persists the dev server in a SQLite file with make run's
	// pragmas; Temporal uses an existing server instead of starting one.
	DBFile, Temporal, Namespace string
	// Cluster runs every row on the production cluster of internal/cluster
	// (docker-compose.yml's topology) instead of the dev server, and the
	// workers' store on its PostgreSQL.
	Cluster bool
	// HistoryShards, with Cluster, creates the cluster with this many
	// history shards instead of compose's default (0).
	HistoryShards int
	// Workers are the numbers of worker processes (and webhook servers)
	// the ceiling, ingest, naive and coursehook rows run with, each number
	// a set of rows: 1, or 1 and 2 on the cluster.
	Workers []int
	// NoPragmas starts the DBFile server without make run's SQLite
	// pragmas, to show what they buy.
	NoPragmas bool
	// Write is the BENCHMARKS.md to write the table into.
	Write string
	// ScaleOut adds the two-worker, two-webhook-server row.
	ScaleOut bool
	// Burst, when positive, adds the burst section: that many events posted
	// by BurstC senders at once.
	Burst, BurstC int
	// Validity, when positive, adds the validity row: that many
	// certificates' schedules started and measured asleep.
	Validity int
	// Latency is how many events the latency row posts one at a time.
	Latency int
	// CPUProfile is where the bench process's CPU profile goes.
	CPUProfile string
	// SlackPerSecond is the worker's SLACK_MESSAGES_PER_SECOND; SlackLimit
	// makes the Slack stand-in answer 429 past that many posts a second (0:
	// never).
	SlackPerSecond float64
	SlackLimit     int
	// EmailsPerSecond is the worker's SENDGRID_EMAILS_PER_SECOND, lifted
	// like Slack's so the pipeline is measured, not the throttle.
	EmailsPerSecond float64
	// DigestWindow is the worker's SLACK_DIGEST_WINDOW in the burst, where
	// the cohort digest is on.
	DigestWindow time.Duration
	// CostWindow is its SLACK_DIGEST_WINDOW in the cost rows with the
	// digest on. Short, so a cohort's row ends soon after its last post:
	// the row's server time counts every second it lasts, the bench's own
	// polling of visibility included, and a window of a minute would mostly
	// count the wait for its close.
	CostWindow time.Duration
	// CostRounds is how many times naive and the three coursehook cost
	// rows run, one after another in each round; the server-time verdicts
	// take the median of the rounds' ratios, each measured side by side.
	CostRounds int
	// RetryDelay is the first wait before a 503'd event is posted again; it
	// doubles on each further attempt, as the platform's backoff does.
	RetryDelay time.Duration
	// BodyBytes pads every event body to this size (0: the samples as they
	// are).
	BodyBytes int
	// Samples is the folder of sample events.
	Samples string
	// Plaintext leaves payload encryption off (make run turns it on).
	Plaintext bool
	// DrainTimeout is how long a row waits for its workflows while none
	// completes.
	DrainTimeout time.Duration
	// Work is the folder for binaries, databases and logs (a temporary one
	// when empty, removed at the end unless Keep or the run failed).
	Work string
	Keep bool
	// Perf, when set, is the folder for perf recordings of the worker and
	// webhook server processes during the coursehook row.
	Perf string
	// Only, when not empty, names the rows to run; the others are skipped.
	Only map[string]bool
	// StoreRows is how many completions the store row loads into each
	// database, and StoreSamples how many times it runs each query.
	StoreRows, StoreSamples int
}

// rowNames are the rows --only takes, in the order they run.
var rowNames = []string{"certificate", "store", "latency", "ceiling", "ingest", "naive", "coursehook", "digest-quiet", "digest-cohort", "scale-out", "burst", "validity"}

func defaultOptions() options {
	return options{
		N:               2000,
		C:               32,
		Renders:         200,
		Namespace:       "default",
		Workers:         []int{1},
		BurstC:          200,
		SlackPerSecond:  10000,
		EmailsPerSecond: 10000,
		DigestWindow:    time.Minute,
		CostWindow:      5 * time.Second,
		CostRounds:      1,
		RetryDelay:      20 * time.Second,
		DrainTimeout:    2 * time.Minute,
		StoreRows:       1_000_000,
		StoreSamples:    200,
		Latency:         100,
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench [flags]   (make bench; make bench BURST=5000)")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.N, "n", o.N, "workflows or events per row")
	fs.IntVar(&o.C, "c", o.C, "concurrent callers (ceiling, naive) and HTTP senders (ingest, coursehook)")
	fs.IntVar(&o.Renders, "renders", o.Renders, "certificates rendered by the certificate row")
	fs.StringVar(&o.DBFile, "db-file", o.DBFile, "start the dev server on this SQLite file, with make run's pragmas (journal_mode=wal, synchronous=normal), instead of in memory")
	fs.BoolVar(&o.NoPragmas, "no-pragmas", o.NoPragmas, "with --db-file: leave out make run's SQLite pragmas, to compare")
	fs.StringVar(&o.Temporal, "temporal", o.Temporal, "use the Temporal server at this host:port instead of starting a dev server")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Temporal namespace")
	fs.BoolVar(&o.Cluster, "cluster", o.Cluster, "run on the production cluster (scripts/cluster.sh's topology: the Temporal server's four services as processes, PostgreSQL) instead of the dev server; needs `make cluster-bins`")
	fs.IntVar(&o.HistoryShards, "history-shards", o.HistoryShards, "with --cluster: create it with this many history shards (NUM_HISTORY_SHARDS) instead of compose's 16")
	workers := fs.String("workers", "", "worker processes (and webhook servers) of the ceiling, ingest, naive and coursehook rows, a set of rows for each number (default 1; 1,2 with --cluster)")
	fs.StringVar(&o.Write, "write", o.Write, "also write the table into this file (BENCHMARKS.md), keeping its prose")
	fs.BoolVar(&o.ScaleOut, "scale-out", o.ScaleOut, "add the scale-out row: two worker processes and two webhook servers, every event posted to both")
	fs.IntVar(&o.CostRounds, "cost-rounds", o.CostRounds, "run naive and the three coursehook cost rows this many times in turn, and judge server time by the median of each round's ratios")
	fs.IntVar(&o.Burst, "burst", o.Burst, "add the burst section: post this many events at once")
	fs.IntVar(&o.BurstC, "burst-c", o.BurstC, "concurrent senders of the burst")
	fs.IntVar(&o.Latency, "latency", o.Latency, "events the latency row posts one at a time, each waited for at the SendGrid and Slack stand-ins")
	fs.IntVar(&o.Validity, "validity", o.Validity, "add the validity row: start this many certificates' CertificateValidity schedules and measure them asleep (--only validity: 10000)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", o.CPUProfile, "write the bench process's CPU profile here (go tool pprof FILE)")
	fs.Float64Var(&o.SlackPerSecond, "slack-per-second", o.SlackPerSecond, "the worker's SLACK_MESSAGES_PER_SECOND (production: 1)")
	fs.Float64Var(&o.EmailsPerSecond, "emails-per-second", o.EmailsPerSecond, "the worker's SENDGRID_EMAILS_PER_SECOND (production: 10)")
	fs.DurationVar(&o.DigestWindow, "digest-window", o.DigestWindow, "the worker's SLACK_DIGEST_WINDOW in the burst, where the cohort digest is on")
	fs.DurationVar(&o.CostWindow, "cost-window", o.CostWindow, "the worker's SLACK_DIGEST_WINDOW in the digest-quiet and digest-cohort rows")
	fs.IntVar(&o.SlackLimit, "slack-limit", o.SlackLimit, "the Slack stand-in answers 429 past this many posts a second (0: never)")
	fs.DurationVar(&o.RetryDelay, "retry-delay", o.RetryDelay, "first wait before re-posting an event answered 503, doubling after (the platform's backoff)")
	fs.IntVar(&o.BodyBytes, "body-bytes", o.BodyBytes, "pad every event body to this many bytes (0: the samples as they are)")
	fs.StringVar(&o.Samples, "samples", o.Samples, "folder of sample events (default: the repository's testdata)")
	fs.BoolVar(&o.Plaintext, "plaintext", o.Plaintext, "leave payload encryption off")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", o.DrainTimeout, "give up on a row's workflows when none has completed for this long")
	fs.StringVar(&o.Work, "work", o.Work, "folder for binaries, databases and logs (default: a temporary one)")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the work folder (logs, databases) after the run")
	fs.StringVar(&o.Perf, "perf", o.Perf, "record the worker and webhook server with Linux perf during the coursehook row, into this folder (perf report -i FILE)")
	fs.IntVar(&o.StoreRows, "store-rows", o.StoreRows, "completions the store row loads into SQLite and into PostgreSQL")
	fs.IntVar(&o.StoreSamples, "store-samples", o.StoreSamples, "times the store row runs each query")
	only := fs.String("only", "", "run only these rows, comma-separated ("+strings.Join(rowNames, ", ")+"); not with --write")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Cluster {
		o.Workers = []int{1, 2}
	}
	if *workers != "" {
		o.Workers = nil
		for field := range strings.SplitSeq(*workers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(field))
			if err != nil {
				return o, fmt.Errorf("--workers: %q is not a number", field)
			}
			o.Workers = append(o.Workers, n)
		}
	}
	if *only != "" {
		o.Only = map[string]bool{}
		for name := range strings.SplitSeq(*only, ",") {
			o.Only[strings.TrimSpace(name)] = true
		}
	}
	if o.Only["validity"] && o.Validity == 0 {
		o.Validity = defaultValidity
	}
	return o, o.check()
}

// defaultValidity is the validity row's size under --only validity: the
// issue's 10,000 live certificates.
const defaultValidity = 10_000

func (o options) check() error {
	var problems []string
	if o.N < 1 {
		problems = append(problems, "-n must be at least 1")
	}
	if o.C < 1 {
		problems = append(problems, "-c must be at least 1")
	}
	if o.Renders < 1 {
		problems = append(problems, "--renders must be at least 1")
	}
	if o.StoreRows < 1000 || o.StoreSamples < 1 {
		problems = append(problems, "--store-rows must be at least 1000 and --store-samples at least 1")
	}
	if o.Latency < 1 {
		problems = append(problems, "--latency must be at least 1")
	}
	if o.Validity < 0 {
		problems = append(problems, "--validity must not be negative")
	}
	if o.Burst < 0 || o.BurstC < 1 {
		problems = append(problems, "--burst must not be negative and --burst-c must be at least 1")
	}
	if boolInt(o.DBFile != "")+boolInt(o.Temporal != "")+boolInt(o.Cluster) > 1 {
		problems = append(problems, "--db-file, --temporal and --cluster exclude each other")
	}
	if o.HistoryShards < 0 || o.HistoryShards > 0 && !o.Cluster {
		problems = append(problems, "--history-shards takes a positive number, with --cluster")
	}
	if len(o.Workers) == 0 || slices.ContainsFunc(o.Workers, func(n int) bool { return n < 1 }) || !slices.IsSorted(o.Workers) {
		problems = append(problems, "--workers takes numbers of at least 1, in increasing order")
	}
	if o.NoPragmas && o.DBFile == "" {
		problems = append(problems, "--no-pragmas needs --db-file")
	}
	if o.CostRounds < 1 {
		problems = append(problems, "--cost-rounds must be at least 1")
	}
	if o.DigestWindow <= 0 || o.CostWindow <= 0 {
		problems = append(problems, "--digest-window and --cost-window must be positive")
	}
	if o.SlackPerSecond <= 0 || o.EmailsPerSecond <= 0 {
		problems = append(problems, "--slack-per-second and --emails-per-second must be positive")
	}
	if o.RetryDelay <= 0 || o.DrainTimeout <= 0 {
		problems = append(problems, "--retry-delay and --drain-timeout must be positive")
	}
	for name := range o.Only {
		if !slices.Contains(rowNames, name) {
			problems = append(problems, fmt.Sprintf("--only: no row %q (the rows: %s)", name, strings.Join(rowNames, ", ")))
		}
	}
	if o.Only["burst"] && o.Burst == 0 {
		problems = append(problems, "--only burst needs --burst N")
	}
	if len(o.Only) > 0 && o.Write != "" {
		problems = append(problems, "--write takes every row: leave out --only")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
