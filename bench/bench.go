package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/internal/cluster"
	"github.com/coursehook/coursehook/internal/repo"
)

// bench is one run: its options, its Temporal server and clients, the
// binaries it built and the problems it found.
type bench struct {
	opts  options
	log   io.Writer
	work  string
	runID string
	// plain is the raw SDK client of the in-process rows; sealed shares its
	// connection and carries the binaries' payload encryption.
	plain                 client.Client
	address               string
	encryptionKeys, keyID string
	hashKey               string
	samples               *sampleSet
	workerBin, starterBin string
	// naiveBin runs the ceiling, ingest and naive rows' workflows.
	naiveBin string
	// tb owns the stand-ins' cleanups.
	tb *cleanups
	// errs are the events lost or failed; the run fails when there is one.
	errs       problems
	lostEvents int
	// serverParts are the Temporal server's processes, whose processor
	// time the workflow rows measure; none for a server the bench did not
	// start.
	serverParts []serverPart
	// cluster is the production cluster of --cluster, whose PostgreSQL
	// holds the workers' store.
	cluster *cluster.Cluster
	// metricsURL is the server's Prometheus endpoint, for its action
	// metric; empty where the bench does not know one.
	metricsURL string
}

// run measures every row, prints the table to stdout, writes it into
// opts.Write when set, and fails when an event was lost or failed or a row
// could not be measured. Progress goes to stderr.
func run(ctx context.Context, opts options, stdout, stderr io.Writer) (err error) {
	began := time.Now()
	root, err := repo.Root()
	if err != nil {
		return err
	}
	if opts.Samples == "" {
		opts.Samples = filepath.Join(root, "testdata")
	}
	b := &bench{opts: opts, log: stderr, runID: uuid.NewString()[:8], tb: &cleanups{}}
	defer b.tb.Close()
	if b.samples, err = loadSamples(opts.Samples, opts.BodyBytes); err != nil {
		return err
	}
	if b.work, err = workDir(opts.Work); err != nil {
		return err
	}
	defer func() {
		if opts.Keep || err != nil {
			fmt.Fprintf(stderr, "bench: logs and databases kept in %s\n", b.work)
		} else if opts.Work == "" {
			_ = os.RemoveAll(b.work)
		}
	}()
	if err := b.secrets(); err != nil {
		return err
	}

	// The binaries build while the server starts; nothing is measured yet.
	built := make(chan error, 1)
	go func() {
		var err error
		b.workerBin, b.starterBin, b.naiveBin, err = buildBinaries(ctx, root, filepath.Join(b.work, "bin"))
		built <- err
	}()
	serverLog, err := os.Create(filepath.Join(b.work, "temporal.log"))
	if err != nil {
		return err
	}
	// Only a log, whose writes go unchecked too: a failed close loses
	// nothing the bench measures.
	defer func() { _ = serverLog.Close() }()
	b.progress("starting Temporal and building ./worker and ./starter")
	srv, serr := startTemporal(ctx, opts, serverLog)
	if berr := <-built; berr != nil || serr != nil {
		if srv != nil {
			_ = srv.stop()
		}
		return errors.Join(serr, berr)
	}
	defer func() { _ = srv.stop() }()
	b.address = srv.Address
	b.serverParts, b.cluster, b.metricsURL = srv.Parts, srv.Cluster, srv.MetricsURL
	if b.plain, err = client.Dial(client.Options{HostPort: srv.Address, Namespace: opts.Namespace, Logger: quietLogger(stderr)}); err != nil {
		return fmt.Errorf("dial Temporal at %s: %w", srv.Address, err)
	}
	defer b.plain.Close()
	version, err := serverVersion(ctx, b.plain)
	if err != nil {
		return err
	}

	r := &report{
		Machine:  machine(),
		Go:       runtime.Version(),
		Temporal: "Server " + version,
		Server:   srv.Describe,
		Params:   b.params(),
	}
	if srv.Version != "" {
		r.Temporal += " (CLI: " + srv.Version + ")"
	}
	r.LoadBefore = loadAverage()
	b.measure(ctx, r)
	r.LoadAfter = loadAverage()
	r.Errors, r.Lost, r.Took = b.errs, b.lostEvents, time.Since(began)

	table := r.markdown()
	fmt.Fprint(stdout, table)
	if opts.Write != "" {
		if err := writeBenchmarks(opts.Write, table, opts.Cluster); err != nil {
			return err
		}
		b.progress("wrote the table into %s", opts.Write)
	}
	return r.failure()
}

// measure runs the rows in order, each against the same server. A row that
// cannot be measured is reported and the others still run.
func (b *bench) measure(ctx context.Context, r *report) {
	row := func(name string, workers int, f func() error) {
		if len(b.opts.Only) > 0 && !b.opts.Only[name] {
			r.Skipped = append(r.Skipped, rowName(name, workers))
			return
		}
		name = rowName(name, workers)
		if ctx.Err() != nil {
			r.Failures = append(r.Failures, name+": "+ctx.Err().Error())
			return
		}
		began := time.Now()
		if err := f(); err != nil {
			b.progress("%s failed after %s: %v", name, time.Since(began).Round(time.Second), err)
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %v", name, err))
			return
		}
		b.progress("%s: done in %s", name, time.Since(began).Round(time.Second))
	}
	// The certificate first, while the machine is quiet.
	row("certificate", 1, func() error {
		c, err := b.certificate()
		r.Cert = &c
		return err
	})
	// The store before the workflow rows, which it does not touch.
	row("store", 1, func() error {
		var err error
		r.Store, err = b.storeRow(ctx)
		return err
	})
	// One learner at a time on a quiet server, before the load.
	row("latency", 1, func() error {
		l, err := b.latency(ctx)
		r.Latency = &l
		return err
	})
	for _, workers := range b.opts.Workers {
		set := &rowSet{Workers: workers}
		r.Sets = append(r.Sets, set)
		row("ceiling", workers, func() error {
			c, err := b.ceiling(ctx, workers)
			set.Ceiling = &c
			return err
		})
		row("ingest", workers, func() error {
			in, err := b.ingest(ctx, workers)
			set.Ingest = &in
			return err
		})
		row("naive", workers, func() error {
			n, err := b.naive(ctx, workers)
			set.Naive = &n
			return err
		})
		// coursehook with the digest off, then, with the cohort digest on
		// and Slack's throttle lifted, every course quiet and one course's
		// cohort.
		runs := b.costRuns(workers)
		for i, dst := range []**pipelineResult{&set.Coursehook, &set.DigestQuiet, &set.DigestCohort} {
			row(costRowNames[i], workers, func() error {
				p, err := b.pipeline(ctx, runs[i])
				*dst = &p
				return err
			})
		}
		// Later rounds of the cost rows that ran, one after another, so
		// each round's ratios are measured side by side.
		for round := 2; round <= b.opts.CostRounds && set.Naive != nil && ctx.Err() == nil; round++ {
			c, err := b.costRound(ctx, set, workers, round)
			if err != nil {
				r.Failures = append(r.Failures, fmt.Sprintf("cost round %d: %v", round, err))
				break
			}
			set.Rounds = append(set.Rounds, c)
		}
	}
	if b.opts.ScaleOut || b.opts.Only["scale-out"] {
		row("scale-out", 1, func() error {
			p, err := b.pipeline(ctx, pipelineRun{Name: "scale-out", Events: b.opts.N, Senders: b.opts.C, Webhooks: 2, Workers: 2})
			r.ScaleOut = &p
			return err
		})
	}
	if b.opts.Burst > 0 {
		row("burst", 1, func() error {
			p, err := b.pipeline(ctx, pipelineRun{Name: "burst", Events: b.opts.Burst, Senders: b.opts.BurstC, Webhooks: 1, Workers: 1, Digest: true})
			r.Burst = &p
			return err
		})
	}
	// Last: its schedules stay asleep on the server until the bench
	// stops it.
	if b.opts.Validity > 0 {
		row("validity", 1, func() error {
			v, err := b.validity(ctx)
			r.Validity = &v
			return err
		})
	}
}

// secrets makes the run's payload key and learner-hash key: the binaries
// run as make run has them, with encryption on.
func (b *bench) secrets() error {
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	b.hashKey = hex.EncodeToString(key)
	if b.opts.Plaintext {
		return nil
	}
	b.keyID = "bench-" + b.runID
	spec, err := codec.GenerateSpec(b.keyID)
	if err != nil {
		return err
	}
	b.encryptionKeys = spec
	return nil
}

// runtimeVars are passed on to the binaries, so a run can try GC settings,
// GODEBUG tracing or the worker's workflow cache size on them.
var runtimeVars = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "WORKER_WORKFLOW_CACHE_SIZE"}

// env is what every binary of a stack gets: nothing else from the caller's
// environment than PATH, HOME, TMPDIR and runtimeVars, so a developer's
// SLACK_BOT_TOKEN or temporal.toml never reaches them.
func (b *bench) env(queue string) []string {
	var env []string
	for _, k := range append([]string{"PATH", "HOME", "TMPDIR"}, runtimeVars...) {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"TEMPORAL_ADDRESS="+b.address,
		"TEMPORAL_NAMESPACE="+b.opts.Namespace,
		"TEMPORAL_TASK_QUEUE="+queue,
		"TEMPORAL_CONFIG_FILE=/dev/null",
		"LOG_LEVEL=info",
		"SHUTDOWN_TIMEOUT=5s",
	)
	if !b.opts.Plaintext {
		env = append(env, "ENCRYPTION_KEYS="+b.encryptionKeys, "ENCRYPTION_KEY_ID="+b.keyID)
	}
	return env
}

// params are the run's settings, for the table's header.
func (b *bench) params() []string {
	enc := "on (AES-256-GCM, as make run)"
	if b.opts.Plaintext {
		enc = "off (--plaintext)"
	}
	limit := "off"
	if b.opts.SlackLimit > 0 {
		limit = fmt.Sprintf("%d posts/s", b.opts.SlackLimit)
	}
	p := []string{
		fmt.Sprintf("N=%d, C=%d, renders=%d", b.opts.N, b.opts.C, b.opts.Renders),
		"events: " + b.samples.describe() + ", in turn, each with a fresh id",
		"payload encryption " + enc + "; LOG_LEVEL=info",
		fmt.Sprintf("SLACK_MESSAGES_PER_SECOND=%g; SENDGRID_EMAILS_PER_SECOND=%g; Slack stand-in rate limit %s", b.opts.SlackPerSecond, b.opts.EmailsPerSecond, limit),
		fmt.Sprintf("cohort digest: off (a message per event) in the coursehook and scale-out rows; on in the burst (5 completions a window one by one, then one digest a window of %s), and in the digest-quiet and digest-cohort rows with a window of %s", b.opts.DigestWindow, b.opts.CostWindow),
		fmt.Sprintf("503 answers re-posted after %s, doubling (the platform's backoff, up to %d attempts); HTTP keep-alive, %s client timeout", b.opts.RetryDelay, platformAttempts, platformWait),
		fmt.Sprintf("a row gives up when none of its workflows has closed for %s", b.opts.DrainTimeout),
	}
	if b.opts.ScaleOut || b.opts.Only["scale-out"] {
		p = append(p, "scale-out: two worker processes, two webhook servers, every event posted to both")
	}
	if b.opts.Burst > 0 {
		p = append(p, fmt.Sprintf("burst: %d events from %d senders", b.opts.Burst, b.opts.BurstC))
	}
	var rt []string
	for _, k := range runtimeVars {
		if v, ok := os.LookupEnv(k); ok {
			rt = append(rt, k+"="+v)
		}
	}
	if len(rt) > 0 {
		p = append(p, "binaries run with "+strings.Join(rt, " "))
	}
	return p
}

func (b *bench) queue(row string) string { return "bench-" + b.runID + "-" + row }

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// workDir is dir, created, or a new temporary folder.
func workDir(dir string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "coursehook-bench-")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	return filepath.Abs(dir)
}
