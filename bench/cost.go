package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/coursehook/coursehook/bench/internal/naive"
)

// What a completion costs Temporal, counted two ways: the server's own
// `action` metric (what a self-hosted server reports, and what Temporal
// Cloud bills from), and the rules of Temporal's "Temporal Cloud Actions"
// page applied to the histories. They differ where the metric counts what
// the page exempts: the TemporalChangeVersion upsert that the Go SDK issues
// with every new workflow.GetVersion.

// costResult is a row's cost per completion.
type costResult struct {
	// Completions divides every total; Workflows is how many histories
	// were read (digests and runs continued as new included).
	Completions, Workflows int
	// Metric is the server's action metric by action_type, per
	// completion; nil where the server exposes none (--temporal, the
	// cluster).
	Metric map[string]float64
	// Cloud is the page's count by kind, per completion.
	Cloud map[string]float64
	// Events, Tasks (workflow tasks completed), History (bytes of the
	// events) and Payloads (bytes of every payload in them: inputs,
	// results, markers' data, signals, search attributes; as stored, so
	// encrypted) per completion.
	Events, Tasks, History, Payloads float64
}

func sum(m map[string]float64) float64 {
	var t float64
	for _, v := range m {
		t += v
	}
	return t
}

// MetricActions is the metric's total per completion, -1 when unknown.
func (c *costResult) MetricActions() float64 {
	if c == nil || c.Metric == nil {
		return -1
	}
	return sum(c.Metric)
}

// CloudActions is the page's total per completion.
func (c *costResult) CloudActions() float64 {
	if c == nil {
		return -1
	}
	return sum(c.Cloud)
}

// actionMeter reads the server's action counters for the bench's namespace
// now, and returns what they gained since when called.
func (b *bench) actionMeter(ctx context.Context) func() map[string]float64 {
	if b.metricsURL == "" {
		return func() map[string]float64 { return nil }
	}
	before, err := scrapeActions(ctx, b.metricsURL, b.opts.Namespace)
	if err != nil {
		b.progress("the server's action metric is not readable: %v", err)
		return func() map[string]float64 { return nil }
	}
	return func() map[string]float64 {
		after, err := settledActions(ctx, b.metricsURL, b.opts.Namespace)
		if err != nil {
			b.progress("the server's action metric is not readable: %v", err)
			return nil
		}
		for k, v := range before {
			after[k] -= v
			if after[k] == 0 {
				delete(after, k)
			}
		}
		return after
	}
}

// settledActions scrapes the action counters until two scrapes a
// reporting interval apart agree: the server's metrics reach its
// Prometheus endpoint a moment after the actions they count, so a row's
// last workflows may not show yet in the first scrape after they closed.
// It gives up waiting after a few seconds and returns the latest.
func settledActions(ctx context.Context, url, namespace string) (map[string]float64, error) {
	last, err := scrapeActions(ctx, url, namespace)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return last, nil
		case <-time.After(time.Second):
		}
		next, err := scrapeActions(ctx, url, namespace)
		if err != nil {
			return nil, err
		}
		if maps.Equal(last, next) {
			return next, nil
		}
		last = next
	}
	return last, nil
}

// scrapeActions reads the `action` counters of the Prometheus text at url
// for one namespace, summed by action_type.
func scrapeActions(ctx context.Context, url, namespace string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		name, labels, value, ok := parseSample(sc.Text())
		if !ok || name != "action" && name != "action_total" || labels["namespace"] != namespace {
			continue
		}
		out[labels["action_type"]] += value
	}
	return out, sc.Err()
}

// parseSample reads one sample line of the Prometheus text format.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	open := strings.IndexByte(line, '{')
	closing := strings.LastIndexByte(line, '}')
	if open < 0 || closing < open {
		return "", nil, 0, false
	}
	name, labels = line[:open], map[string]string{}
	for _, kv := range strings.Split(line[open+1:closing], ",") {
		k, v, found := strings.Cut(kv, "=")
		if found {
			labels[strings.TrimSpace(k)] = strings.Trim(v, `"`)
		}
	}
	fields := strings.Fields(line[closing+1:])
	if len(fields) == 0 {
		return "", nil, 0, false
	}
	value, err := strconv.ParseFloat(fields[0], 64)
	return name, labels, value, err == nil
}

// historyCost reads the history of every workflow on queue and adds up what
// it holds, per completion.
func (b *bench) historyCost(ctx context.Context, queue string, completions int) (*costResult, error) {
	d, err := list(ctx, b.plain, b.opts.Namespace, fmt.Sprintf("TaskQueue = %q", queue))
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		total historyTally
		first error
		wg    sync.WaitGroup
		next  = make(chan closedRun)
	)
	total.cloud = map[string]int{}
	for range 8 {
		wg.Go(func() {
			for r := range next {
				t, err := tallyHistory(ctx, b.plain, r.WorkflowID, r.RunID)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				total.add(t)
				mu.Unlock()
			}
		})
	}
	for _, r := range d.Runs {
		next <- r
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	n := float64(max(completions, 1))
	c := &costResult{Completions: completions, Workflows: len(d.Runs), Cloud: map[string]float64{},
		Events: float64(total.events) / n, Tasks: float64(total.tasks) / n,
		History: float64(total.bytes) / n, Payloads: float64(total.payloads) / n}
	for k, v := range total.cloud {
		c.Cloud[k] = float64(v) / n
	}
	return c, nil
}

// perCompletion divides a metric delta by the completions.
func perCompletion(m map[string]float64, completions int) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v / float64(max(completions, 1))
	}
	return out
}

// historyTally is what one or more histories hold.
type historyTally struct {
	events, tasks, bytes, payloads int
	cloud                          map[string]int
}

func (t *historyTally) add(o historyTally) {
	t.events += o.events
	t.tasks += o.tasks
	t.bytes += o.bytes
	t.payloads += o.payloads
	for k, v := range o.cloud {
		t.cloud[k] += v
	}
}

func tallyHistory(ctx context.Context, c client.Client, workflowID, runID string) (historyTally, error) {
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return historyTally{}, fmt.Errorf("history of %s: %w", workflowID, err)
		}
		events = append(events, e)
	}
	t := historyTally{events: len(events), cloud: cloudActions(events)}
	for _, e := range events {
		t.bytes += proto.Size(e)
		t.payloads += payloadBytes(e.ProtoReflect())
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			t.tasks++
		}
	}
	return t, nil
}

// cloudActions counts one history's billable actions by the rules of the
// "Temporal Cloud Actions" page (docs.temporal.io/cloud/actions), by kind:
//   - a workflow start (client, continue-as-new), except a child's, which
//     its parent's StartChildWorkflowExecution counts twice, and except the
//     start of a signal-with-start, which is one action with its signal;
//   - every marker a workflow task recorded (local activities, versions,
//     side effects) together as one;
//   - each timer, activity scheduled and activity retry;
//   - each search-attribute upsert, but the TemporalChangeVersion ones;
//   - each signal, counted where it was sent: from a workflow in the
//     sender's history, from a client in the receiver's.
//
// Queries, heartbeats and exports leave nothing in a history and are not
// counted; the bench makes none of them.
func cloudActions(events []*historypb.HistoryEvent) map[string]int {
	out := map[string]int{}
	markers := false
	for i, e := range events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			a := e.GetWorkflowExecutionStartedEventAttributes()
			signalWithStart := i+1 < len(events) && events[i+1].GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
				events[i+1].GetWorkflowExecutionSignaledEventAttributes().GetExternalWorkflowExecution() == nil
			if a.GetParentWorkflowExecution() == nil && !signalWithStart {
				out["workflow started"]++
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			if markers {
				out["markers (a workflow task's)"]++
			}
			markers = false
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			markers = true
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			out["timer started"]++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			out["activity started"]++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if n := e.GetActivityTaskStartedEventAttributes().GetAttempt(); n > 1 {
				out["activity retried"] += int(n - 1)
			}
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if len(fields) > 1 || fields["TemporalChangeVersion"] == nil {
				out["search attributes upserted"]++
			}
		case enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
			out["signal sent"]++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			if e.GetWorkflowExecutionSignaledEventAttributes().GetExternalWorkflowExecution() == nil {
				out["signal sent"]++
			}
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			out["child workflow (start and execution)"] += 2
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			out["update"]++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED:
			out["options updated"]++
		}
	}
	// Markers of a task still running (a workflow the row left open) have
	// no completed task after them yet; they count all the same.
	if markers {
		out["markers (a workflow task's)"]++
	}
	return out
}

// payloadBytes is the size of every temporal.api.common.v1.Payload within m.
func payloadBytes(m protoreflect.Message) int {
	if m.Descriptor().FullName() == "temporal.api.common.v1.Payload" {
		return proto.Size(m.Interface())
	}
	n := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := range l.Len() {
				n += payloadBytes(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				n += payloadBytes(mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			n += payloadBytes(v.Message())
		}
		return true
	})
	return n
}

// describeCounts is "a 2, b 1.5" in a stable order, biggest first.
func describeCounts(m map[string]float64) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", k, strconv.FormatFloat(m[k], 'f', -1, 64))
		if f := m[k]; f != float64(int(f)) {
			parts[i] = fmt.Sprintf("%s %.2f", k, f)
		}
	}
	return strings.Join(parts, ", ")
}

// historyWait bounds reading a row's histories.
const historyWait = 5 * time.Minute

// The cost targets, each a ratio to naive's in the same run, by how the
// cohort digest is set: off, on while every course is quiet, on inside
// one course's cohort.
var (
	targetActions   = [3]float64{1.0, 1.0, 1.2}
	targetServerCPU = [3]float64{0.7, 0.8, 0.9}
)

// The learner's email, posted one event at a time on a quiet server.
const (
	targetEmailP50 = 100 * time.Millisecond
	targetEmailP99 = 250 * time.Millisecond
)

// costRound is one round of the cost rows: the server's processor time a
// completion in naive's row and in each coursehook row (digest off, quiet
// courses, a cohort; zero where the row did not run).
type costRound struct {
	Naive time.Duration
	Rows  [3]time.Duration
}

// costRowNames are the coursehook cost rows, in costRuns' order.
var costRowNames = [3]string{"coursehook", "digest-quiet", "digest-cohort"}

// costRuns are the coursehook cost rows' runs: the digest off (a message
// per event), then the cohort digest on with Slack's throttle lifted, so
// the digest's cost is measured and not the throttle's pace, every course
// quiet, and one course's cohort.
func (b *bench) costRuns(workers int) [3]pipelineRun {
	base := pipelineRun{Events: b.opts.N, Senders: b.opts.C, Webhooks: workers, Workers: workers, Spread: true}
	off, quiet, cohort := base, base, base
	quiet.Digest, quiet.Lifted, quiet.Courses = true, true, eachOwnCourse
	cohort.Digest, cohort.Lifted, cohort.Courses = true, true, oneCourse
	runs := [3]pipelineRun{off, quiet, cohort}
	for i := range runs {
		runs[i].Name = rowName(costRowNames[i], workers)
	}
	return runs
}

// costRound runs naive and the coursehook cost rows that ran in the first
// round once more, one after another, each on a task queue of its own.
func (b *bench) costRound(ctx context.Context, set *rowSet, workers, round int) (costRound, error) {
	var c costRound
	suffix := fmt.Sprintf("-round-%d", round)
	b.progress("cost rows, round %d of %d", round, b.opts.CostRounds)
	_, d, cpu, _, err := b.startedRow(ctx, rowName("naive", workers)+suffix, naive.WorkflowName, workers, false)
	if err != nil {
		return c, err
	}
	c.Naive = perWorkflow(cpu.Server, len(d.Runs))
	runs := b.costRuns(workers)
	for i, ran := range []bool{set.Coursehook != nil, set.DigestQuiet != nil, set.DigestCohort != nil} {
		if !ran {
			continue
		}
		run := runs[i]
		run.Name += suffix
		p, err := b.pipeline(ctx, run)
		if err != nil {
			return c, err
		}
		c.Rows[i] = perWorkflow(p.CPU.Server, p.Events)
	}
	return c, nil
}

// rounds are the set's cost rounds, the first (its rows) included.
func (set *rowSet) rounds() []costRound {
	first := costRound{Naive: perWorkflow(set.Naive.CPU.Server, set.Naive.Workflows)}
	for i, p := range []*pipelineResult{set.Coursehook, set.DigestQuiet, set.DigestCohort} {
		if p != nil {
			first.Rows[i] = perWorkflow(p.CPU.Server, p.Events)
		}
	}
	return append([]costRound{first}, set.Rounds...)
}

// roundRatios are row i's server time as a ratio to naive's, a round at a
// time, and their median; ok is false when no round measured both.
func roundRatios(rounds []costRound, i int) (each []float64, median float64, ok bool) {
	for _, r := range rounds {
		if r.Naive > 0 && r.Rows[i] > 0 {
			each = append(each, float64(r.Rows[i])/float64(r.Naive))
		}
	}
	if len(each) == 0 {
		return nil, 0, false
	}
	sorted := slices.Clone(each)
	slices.Sort(sorted)
	if n := len(sorted); n%2 == 1 {
		median = sorted[n/2]
	} else {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return each, median, true
}

// costTable is the cost section: per completion, naive's beside
// coursehook's three ways, then each target with its verdict.
func costTable(set *rowSet) string {
	n := set.Naive
	if n == nil || n.Cost == nil {
		return ""
	}
	cols := []*pipelineResult{set.Coursehook, set.DigestQuiet, set.DigestCohort}
	names := []string{"digest off", "digest on, quiet courses", "digest on, one course's cohort"}
	var b strings.Builder
	b.WriteString("| per completion | naive |")
	for _, name := range names {
		b.WriteString(" coursehook, " + name + " |")
	}
	b.WriteString("\n|---|---|---|---|---|\n")
	line := func(what string, naive string, f func(p *pipelineResult) string) {
		fmt.Fprintf(&b, "| %s | %s |", what, naive)
		for _, p := range cols {
			v := notMeasured
			if p != nil && p.Cost != nil {
				v = f(p)
			}
			b.WriteString(" " + v + " |")
		}
		b.WriteString("\n")
	}
	count := func(v float64) string {
		if v < 0 {
			return notMeasured
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	line("actions, the server's `action` metric", count(n.Cost.MetricActions()), func(p *pipelineResult) string { return count(p.Cost.MetricActions()) })
	line("actions, the Cloud page's rules over the histories", count(n.Cost.CloudActions()), func(p *pipelineResult) string { return count(p.Cost.CloudActions()) })
	line("history events", count(n.Cost.Events), func(p *pipelineResult) string { return count(p.Cost.Events) })
	line("workflow tasks", count(n.Cost.Tasks), func(p *pipelineResult) string { return count(p.Cost.Tasks) })
	line("history bytes", fmt.Sprintf("%.0f", n.Cost.History), func(p *pipelineResult) string { return fmt.Sprintf("%.0f", p.Cost.History) })
	line("payload bytes (encrypted, as stored)", fmt.Sprintf("%.0f", n.Cost.Payloads), func(p *pipelineResult) string { return fmt.Sprintf("%.0f", p.Cost.Payloads) })
	line("server processor time", perEvent(n.CPU.Server, n.Workflows), func(p *pipelineResult) string { return perEvent(p.CPU.Server, p.Events) })
	rounds := set.rounds()
	if len(rounds) > 1 {
		fmt.Fprintf(&b, "| server processor time, %d rounds: naive's, then each row's ratio to it |", len(rounds))
		var naives []string
		for _, r := range rounds {
			naives = append(naives, perEvent(r.Naive, 1))
		}
		b.WriteString(" " + strings.Join(naives, ", ") + " |")
		for i := range cols {
			each, median, ok := roundRatios(rounds, i)
			if !ok {
				b.WriteString(" " + notMeasured + " |")
				continue
			}
			var parts []string
			for _, x := range each {
				parts = append(parts, fmt.Sprintf("%.2f×", x))
			}
			fmt.Fprintf(&b, " %s; median %.2f× |", strings.Join(parts, ", "), median)
		}
		b.WriteString("\n")
	}
	line("completed/s", fmt.Sprintf("%.1f", n.Rate), func(p *pipelineResult) string { return fmt.Sprintf("%.1f", p.Rate) })
	line("workflows read", strconv.Itoa(n.Cost.Workflows), func(p *pipelineResult) string { return strconv.Itoa(p.Cost.Workflows) })

	b.WriteString("\nWhere the actions go (the server's metric by `action_type`; the Cloud page's count by kind), per completion:\n\n")
	fmt.Fprintf(&b, "- naive: metric %s; Cloud %s\n", orNone(n.Cost.Metric), orNone(n.Cost.Cloud))
	for i, p := range cols {
		if p != nil && p.Cost != nil {
			fmt.Fprintf(&b, "- coursehook, %s: metric %s; Cloud %s\n", names[i], orNone(p.Cost.Metric), orNone(p.Cost.Cloud))
		}
	}

	b.WriteString("\n| target | measured | |\n|---|---|---|\n")
	naiveCPU := perWorkflow(n.CPU.Server, n.Workflows)
	for i, p := range cols {
		if p == nil || p.Cost == nil {
			fmt.Fprintf(&b, "| %s: actions ≤ %.1f× naive's, server time ≤ %.1f× naive's | %s | |\n", names[i], targetActions[i], targetServerCPU[i], notMeasured)
			continue
		}
		metric, cloud := p.Cost.MetricActions(), p.Cost.CloudActions()
		nm, nc := n.Cost.MetricActions(), n.Cost.CloudActions()
		measured := fmt.Sprintf("Cloud rules %.2f (%s)", cloud, ratio(cloud, nc))
		ok := cloud <= targetActions[i]*nc
		if metric >= 0 && nm > 0 {
			measured += fmt.Sprintf("; metric %.2f (%s)", metric, ratio(metric, nm))
			ok = ok && metric <= targetActions[i]*nm
		}
		fmt.Fprintf(&b, "| %s: actions ≤ %.1f× naive's (both counts) | %s | %s |\n", names[i], targetActions[i], measured, verdict(ok))
		cpu := perWorkflow(p.CPU.Server, p.Events)
		if each, median, ok := roundRatios(rounds, i); ok && len(each) > 1 {
			// The machine's noise moves one run's ratio by more than
			// some gaps: the median of the rounds' ratios decides.
			fmt.Fprintf(&b, "| %s: server processor time ≤ %.1f× naive's (median of %d rounds) | %.2f× | %s |\n", names[i], targetServerCPU[i],
				len(each), median, verdict(median <= targetServerCPU[i]))
			continue
		}
		fmt.Fprintf(&b, "| %s: server processor time ≤ %.1f× naive's | %s (%s) | %s |\n", names[i], targetServerCPU[i],
			perEvent(p.CPU.Server, p.Events), ratio(float64(cpu), float64(naiveCPU)), verdict(naiveCPU > 0 && float64(cpu) <= targetServerCPU[i]*float64(naiveCPU)))
	}
	return b.String()
}

func perWorkflow(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

func orNone(m map[string]float64) string {
	if m == nil {
		return notMeasured
	}
	return describeCounts(m)
}

// latencyRow is the learner's wait, one event at a time.
func (r *report) latencyRow() row {
	x := row{name: "latency", what: "one event at a time on a quiet server, make run's settings (the cohort digest on, Slack and SendGrid throttled), each course quiet; from the POST to the stand-in's receipt",
		measured: notMeasured, target: fmt.Sprintf("email p50 ≤ %s, p99 ≤ %s; Slack reported", ms(targetEmailP50), ms(targetEmailP99))}
	l := r.Latency
	if l == nil || l.EmailP50 == 0 {
		return x
	}
	x.measured = fmt.Sprintf("%d events: email p50 %s, p99 %s; Slack notice p50 %s, p99 %s", l.Events, ms(l.EmailP50), ms(l.EmailP99), ms(l.SlackP50), ms(l.SlackP99))
	x.status = verdict(l.EmailP50 <= targetEmailP50 && l.EmailP99 <= targetEmailP99)
	return x
}
