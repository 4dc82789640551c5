package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The targets, on the 2-core development machine, each a ratio from one run.
const (
	targetIngestRate = 0.9  // ingest accepted/s ≥ 0.9 × ceiling starts/s
	targetAckP99     = 1.25 // ingest ack p99 ≤ 1.25 × ceiling p99
	targetCoursehook = 1.2  // coursehook completed/s ≥ 1.2 × naive
	targetRender     = 5 * time.Millisecond
	targetPDFBytes   = 60_000
	targetWebhookRSS = 64_000_000
	targetStoreP99   = 20 * time.Millisecond
)

// report is one run's results, nil where a row was not measured.
type report struct {
	Machine, Go, Temporal, Server string
	Params                        []string
	// LoadBefore and LoadAfter are the load averages around the rows.
	LoadBefore, LoadAfter string

	Cert *certResult
	// Store is the store row, a result for each database.
	Store []storeResult
	// Sets are the ceiling, ingest, naive and coursehook rows, once for
	// each number of worker processes, one first.
	Sets     []*rowSet
	ScaleOut *pipelineResult
	Burst    *pipelineResult
	// Validity is the validity row, with --validity.
	Validity *validityResult
	// Latency is the latency row.
	Latency *latencyResult

	// Failures are the rows that could not be measured; Skipped those
	// --only left out.
	Failures []string
	Skipped  []string
	Errors   problems
	Lost     int
	Took     time.Duration
}

// rowSet is the ceiling, ingest, naive and coursehook rows run with one
// number of worker processes (and as many webhook servers), nil where a row
// was not measured.
type rowSet struct {
	Workers    int
	Ceiling    *ceilingResult
	Ingest     *ingestResult
	Naive      *naiveResult
	Coursehook *pipelineResult
	// DigestQuiet and DigestCohort are coursehook with the cohort digest
	// on: every event's course quiet, and one course's cohort.
	DigestQuiet, DigestCohort *pipelineResult
	// Rounds are the cost rows' later rounds (--cost-rounds), the rows
	// above being the first.
	Rounds []costRound
}

// first is the set of the fewest workers, which the memory and scale-out
// rows refer to.
func (r *report) first() *rowSet {
	if len(r.Sets) == 0 {
		return &rowSet{Workers: 1}
	}
	return r.Sets[0]
}

// failure is the run's verdict: an error when an event was lost or failed or
// a row could not be measured. Unmet targets are not failures.
func (r *report) failure() error {
	var errs []error
	for _, f := range r.Failures {
		errs = append(errs, errors.New(f))
	}
	if r.Errors.Count > 0 {
		errs = append(errs, fmt.Errorf("%d errors, %d events lost; the first: %s", r.Errors.Count, r.Lost, strings.Join(r.Errors.First, "; ")))
	}
	return errors.Join(errs...)
}

// verdict marks a target.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// row is one line of the table.
type row struct {
	name, what, measured, ratio, target, status string
}

// markdown is the table, with its header, as printed and as written into
// BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s UTC in %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04"), r.Took.Round(time.Second))
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "Rows skipped (--only): %s.\n\n", strings.Join(r.Skipped, ", "))
	}
	fmt.Fprintf(&b, "- machine: %s; load average %s before the rows, %s after (1, 5, 15 min)\n- Go: %s\n- Temporal: %s; %s\n",
		r.Machine, r.LoadBefore, r.LoadAfter, r.Go, r.Temporal, r.Server)
	for _, p := range r.Params {
		fmt.Fprintf(&b, "- %s\n", p)
	}
	b.WriteString("\n| row | what | measured | ratio | target | |\n|---|---|---|---|---|---|\n")
	for _, x := range r.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.name, x.what, x.measured, x.ratio, x.target, x.status)
	}
	if t := costTable(r.first()); t != "" {
		b.WriteString("\nWhat a completion costs the server, each coursehook row beside naive's of the same run:\n\n" + t)
	}
	if r.Burst != nil {
		b.WriteString("\n" + burstTable(r.Burst))
	}
	if len(r.Failures) > 0 || r.Errors.Count > 0 {
		b.WriteString("\nProblems:\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- row %s\n", f)
		}
		for _, e := range r.Errors.First {
			fmt.Fprintf(&b, "- %s\n", e)
		}
		if more := r.Errors.Count - len(r.Errors.First); more > 0 {
			fmt.Fprintf(&b, "- and %d more\n", more)
		}
	}
	return b.String()
}

const notMeasured = "not measured"

func (r *report) rows() []row {
	var rows []row
	for _, set := range r.Sets {
		base := r.first()
		rows = append(rows, set.ceilingRow(base), set.ingestRow(base), set.naiveRow(base), set.coursehookRow(base))
	}
	rows = append(rows, r.latencyRow(), r.certRow())
	rows = append(rows, r.storeRows()...)
	rows = append(rows, r.memoryRow())
	if r.ScaleOut != nil {
		rows = append(rows, r.scaleOutRow())
	}
	if r.Validity != nil {
		rows = append(rows, r.validityRow())
	}
	return append(rows, r.correctnessRow())
}

// name is a row's name in the set: "naive", or "naive, 2 workers".
func (set *rowSet) name(row string) string {
	if set.Workers == 1 {
		return row
	}
	return fmt.Sprintf("%s, %d workers", row, set.Workers)
}

// processes says what runs a row of the set besides the bench process.
func (set *rowSet) processes(webhooks bool) string {
	if set.Workers == 1 {
		if webhooks {
			return "one webhook server, one worker process"
		}
		return "one worker process"
	}
	if webhooks {
		return fmt.Sprintf("%d webhook servers, each event posted to one in turn; %d worker processes", set.Workers, set.Workers)
	}
	return fmt.Sprintf("%d worker processes", set.Workers)
}

// scaled is a set's rate beside the first set's, for the sets with more
// workers: "; 1.10× one worker".
func (set *rowSet) scaled(rate, base float64) string {
	if set.Workers == 1 || base == 0 {
		return ""
	}
	return "; " + ratio(rate, base) + " one worker"
}

func (set *rowSet) ceilingRow(base *rowSet) row {
	x := row{name: set.name("ceiling"), what: "raw SDK `StartWorkflow` of a no-op workflow; " + set.processes(false), measured: notMeasured}
	if c := set.Ceiling; c != nil && c.Rate > 0 {
		x.measured = fmt.Sprintf("%.0f starts/s; p50 %s, p95 %s, p99 %s", c.Rate, ms(c.P50), ms(c.P95), ms(c.P99))
		x.measured += c.CPU.describe(c.Workflows, "a workflow", cpuLabels{"server", "worker"})
		x.ratio = "1 (reference)"
		if b := base.Ceiling; b != nil {
			x.ratio += set.scaled(c.Rate, b.Rate)
		}
	}
	return x
}

func (set *rowSet) ingestRow(base *rowSet) row {
	x := row{name: set.name("ingest"), what: "real webhook server process over HTTP; a no-op stands in for the workflow, as in the ceiling; " + set.processes(true),
		measured: notMeasured, target: fmt.Sprintf("≥ %.1f× starts/s; p99 ≤ %.2f×", targetIngestRate, targetAckP99)}
	in, c := set.Ingest, set.Ceiling
	if in == nil || in.Rate == 0 {
		return x
	}
	x.measured = fmt.Sprintf("%.0f accepted/s; ack p50 %s, p95 %s, p99 %s", in.Rate, ms(in.P50), ms(in.P95), ms(in.P99))
	if in.Retried > 0 {
		x.measured += fmt.Sprintf("; %d attempts retried", in.Retried)
	}
	x.measured += in.CPU.describe(in.Workflows, "an event", cpuLabels{"server", "worker", "webhook server"})
	if c == nil || c.Rate == 0 {
		return x
	}
	x.ratio = fmt.Sprintf("%s starts/s; p50 %s, p95 %s, p99 %s", ratio(in.Rate, c.Rate),
		ratio(float64(in.P50), float64(c.P50)), ratio(float64(in.P95), float64(c.P95)), ratio(float64(in.P99), float64(c.P99)))
	if b := base.Ingest; b != nil {
		x.ratio += set.scaled(in.Rate, b.Rate)
	}
	rateOK := in.Rate >= targetIngestRate*c.Rate
	p99OK := float64(in.P99) <= targetAckP99*float64(c.P99)
	x.status = fmt.Sprintf("rate %s; p99 %s", verdict(rateOK), verdict(p99OK))
	return x
}

func (set *rowSet) naiveRow(base *rowSet) row {
	x := row{name: set.name("naive"), what: "four ordinary no-op activities in sequence; " + set.processes(false), measured: notMeasured}
	if n := set.Naive; n != nil && n.Rate > 0 {
		x.measured = fmt.Sprintf("%.1f completed/s (%s, first start to last close); each workflow p50 %s, p99 %s", n.Rate, n.Elapsed.Round(time.Millisecond), seconds(n.EachP50), seconds(n.EachP99))
		x.measured += n.CPU.describe(n.Workflows, "a workflow", cpuLabels{"server", "worker", "", "callers"})
		x.ratio = "1 (reference)"
		if b := base.Naive; b != nil {
			x.ratio += set.scaled(n.Rate, b.Rate)
		}
	}
	return x
}

func (set *rowSet) coursehookRow(base *rowSet) row {
	x := row{name: set.name("coursehook"), what: "real worker process: PDF, slack-go and sendgrid-go against the stand-ins, the store; events posted through the webhook server; " + set.processes(true),
		measured: notMeasured, target: fmt.Sprintf("≥ %.1f× naive", targetCoursehook)}
	p := set.Coursehook
	if p == nil || p.Rate == 0 {
		return x
	}
	x.measured = fmt.Sprintf("%.1f completed/s (%s, first start to last close); each workflow p50 %s, p99 %s; ack p99 %s while the worker works",
		p.Rate, p.Elapsed.Round(time.Millisecond), seconds(p.EachP50), seconds(p.EachP99), ms(p.AckP99))
	x.measured += p.CPU.describe(p.Events, "an event", cpuLabels{"server", "worker", "webhook server", "stand-ins and senders"})
	if n := set.Naive; n != nil && n.Rate > 0 {
		x.ratio = ratio(p.Rate, n.Rate) + " naive"
		x.status = verdict(p.Rate >= targetCoursehook*n.Rate)
	}
	if b := base.Coursehook; b != nil {
		x.ratio += set.scaled(p.Rate, b.Rate)
	}
	return x
}

func (r *report) certRow() row {
	x := row{name: "certificate", what: "`certificate.Render` in process", measured: notMeasured,
		target: fmt.Sprintf("median ≤ %s; ≤ %d KB", ms(targetRender), targetPDFBytes/1000)}
	if c := r.Cert; c != nil && c.Renders > 0 {
		x.what = fmt.Sprintf("`certificate.Render` in process, %d renders, GOGC=%d as in the worker", c.Renders, c.GCPercent)
		x.measured = fmt.Sprintf("median %s, p99 %s; %.1f KB", ms(c.Median), ms(c.P99), float64(c.Size)/1000)
		x.status = verdict(c.Median <= targetRender && c.Size <= targetPDFBytes)
	}
	return x
}

// storeRows are a row for each database of the store row: each query's
// p50 and p99, against the one target of 20 ms p99.
func (r *report) storeRows() []row {
	var rows []row
	for _, s := range r.Store {
		x := row{name: "store, " + s.Database, measured: notMeasured, target: "each query p99 ≤ " + ms(targetStoreP99)}
		x.what = fmt.Sprintf("the store's queries at %s completions (and their receipts, emails and resends), %d runs each; "+
			"find is a page of %d with its resends and emails, the export a page of %d after a cursor anywhere in the table",
			thousands(s.Rows), len(s.Times[storeQueries[0]]), storeFindLimit, storeExportLimit)
		if s.Skipped != "" {
			x.measured = notMeasured + ": " + s.Skipped
			rows = append(rows, x)
			continue
		}
		var parts []string
		ok := true
		for _, q := range storeQueries {
			d := s.Times[q]
			parts = append(parts, fmt.Sprintf("%s p50 %s, p99 %s", q, ms(d.pct(50)), ms(d.pct(99))))
			ok = ok && d.pct(99) <= targetStoreP99
		}
		x.measured = strings.Join(parts, "; ") + fmt.Sprintf("; loaded in %s", s.Load.Round(time.Second))
		x.status = verdict(ok)
		rows = append(rows, x)
	}
	return rows
}

// thousands writes n with thin separators: 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (r *report) memoryRow() row {
	x := row{name: "memory", what: "peak RSS (VmHWM) of the processes", measured: notMeasured, target: fmt.Sprintf("webhook server ≤ %s", megabytes(targetWebhookRSS))}
	var parts []string
	var webhook int64
	if in := r.first().Ingest; in != nil && in.PeakRSS > 0 {
		parts = append(parts, "webhook server "+megabytes(in.PeakRSS)+" (ingest)")
		webhook = in.PeakRSS
	}
	if p := r.first().Coursehook; p != nil && p.WebhookRSS > 0 {
		parts = append(parts, "webhook server "+megabytes(p.WebhookRSS)+", worker "+megabytes(p.WorkerRSS)+" (coursehook)")
		webhook = max(webhook, p.WebhookRSS)
	}
	if len(parts) > 0 {
		x.measured = strings.Join(parts, "; ")
		x.status = verdict(webhook <= targetWebhookRSS)
	}
	return x
}

func (r *report) scaleOutRow() row {
	p := r.ScaleOut
	x := row{name: "scale-out", what: "two worker processes and two webhook servers; every event posted to both", measured: notMeasured}
	if p.Rate == 0 {
		return x
	}
	x.measured = fmt.Sprintf("%.1f completed/s (%s); %d accepted, %d answered duplicate; %d Slack messages, %d emails for %d events",
		p.Rate, p.Elapsed.Round(time.Millisecond), p.Accepted, p.Dupes, p.SlackMessages, p.Emails, p.Events)
	if c := r.first().Coursehook; c != nil && c.Rate > 0 && r.first().Workers == 1 {
		x.ratio = ratio(p.Rate, c.Rate) + " one worker"
	}
	return x
}

func (r *report) correctnessRow() row {
	retried := 0
	pipelines := []*pipelineResult{r.ScaleOut, r.Burst}
	for _, set := range r.Sets {
		pipelines = append(pipelines, set.Coursehook)
		if set.Ingest != nil {
			retried += set.Ingest.Retried
		}
	}
	for _, p := range pipelines {
		if p != nil {
			retried += p.Retried
		}
	}
	ok := r.Errors.Count == 0 && r.Lost == 0 && len(r.Failures) == 0
	return row{
		name:     "errors",
		what:     "every event accepted (503 then a retry counts), its workflow completed, one row, one Slack message, one email",
		measured: fmt.Sprintf("errors: %d, lost: %d, rows not measured: %d; attempts retried: %d", r.Errors.Count, r.Lost, len(r.Failures), retried),
		target:   "zero errors, zero lost",
		status:   verdict(ok),
	}
}

// burstTable is the burst section.
func burstTable(p *pipelineResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Burst: %d events of one course from %d senders, as fast as they go, through one webhook server and one worker, "+
		"with the cohort digest and Slack's throttle (1/s) as in production, and Slack's limit on the stand-in.\n\n", p.Events, p.Senders)
	b.WriteString("| burst | |\n|---|---|\n")
	line := func(k, format string, args ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(format, args...)) }
	line("time to drain", "%s (first post to last close)", p.Drain.Round(time.Millisecond))
	line("accepted", "%d of %d; %d answers 503, re-posted platform-style", p.Accepted+p.Dupes, p.Events, p.Unavailable)
	line("peak accept rate", "%d/s (2xx answers in any one second)", p.PeakAccept)
	line("peak complete rate", "%d/s (workflows closed in any one second)", p.PeakComplete)
	line("completed", "%.1f/s over %s", p.Rate, p.Elapsed.Round(time.Millisecond))
	line("Slack stand-in", "%d messages, %d posts, %d answered 429", p.SlackMessages, p.SlackAttempts, p.SlackLimited)
	line("SendGrid stand-in", "%d emails", p.Emails)
	line("peak RSS", "webhook server %s, worker %s", megabytes(p.WebhookRSS), megabytes(p.WorkerRSS))
	return b.String()
}
