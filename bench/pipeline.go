package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// courseCompletionName is the workflow type the webhook server starts, as
// the SDK names a function: what follows the last dot of its full name. The
// ingest row's no-op stands in under it.
func courseCompletionName() string {
	full := runtime.FuncForPC(reflect.ValueOf(workflows.CourseCompletion).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}

// ingestResult is the webhook server's rate and answer times.
type ingestResult struct {
	Rate          float64
	P50, P95, P99 time.Duration
	Retried       int
	PeakRSS       int64
	// Workflows were started by the webhook server, using CPU.
	Workflows int
	CPU       cpuUse
}

// ingest posts N events through the real webhook servers with C senders,
// each event to one server in turn. Worker processes run a no-op in place of
// the CourseCompletion workflow, as for the ceiling, so the two rows differ
// by the webhook path alone: HTTP, checks, encryption, search attributes.
func (b *bench) ingest(ctx context.Context, workers int) (ingestResult, error) {
	name := rowName("ingest", workers)
	s, err := b.newStack(ctx, name, workers)
	if err != nil {
		return ingestResult{}, err
	}
	defer s.Close()
	ws, err := b.naiveWorkers(ctx, name, s.Queue, courseCompletionName(), workers)
	if err != nil {
		return ingestResult{}, err
	}
	defer stopAll(ws)
	ids, bodies, err := b.samples.events(b.opts.N, sampleCourses)
	if err != nil {
		return ingestResult{}, err
	}
	b.progress("%s: %d events from %d senders to %d webhook server(s), %d worker process(es)", name, b.opts.N, b.opts.C, workers, workers)
	hc := newSender(b.opts.C)
	defer hc.CloseIdleConnections()
	cpu := b.measureCPU(ws, s.Webhooks)
	st := send(ctx, hc, spread(ids, bodies, s.URLs), b.opts.C, b.opts.RetryDelay)
	b.errs.merge(st.problems)
	accepted := st.accepted()
	b.lost(ids, accepted)
	alive := func() error { return errors.Join(s.alive(), exited(ws)) }
	d, err := drain(ctx, b.plain, b.opts.Namespace, s.Queue, len(accepted), b.opts.DrainTimeout, alive)
	b.errs.merge(d.problems)
	if err != nil {
		return ingestResult{}, fmt.Errorf("%s: %w", name, err)
	}
	rss, err := peakRSS(s.Webhooks)
	if err != nil {
		return ingestResult{}, err
	}
	lat := newDist(st.Latencies)
	return ingestResult{Rate: st.rate(), P50: lat.pct(50), P95: lat.pct(95), P99: lat.pct(99), Retried: st.Retried, PeakRSS: rss,
		Workflows: len(d.Runs), CPU: cpu()}, nil
}

// deliveries posts every event to every url, the urls side by side.
func deliveries(ids []string, bodies [][]byte, urls []string) []delivery {
	out := make([]delivery, 0, len(ids)*len(urls))
	for i, id := range ids {
		for _, u := range urls {
			out = append(out, delivery{URL: u, EventID: id, Body: bodies[i]})
		}
	}
	return out
}

// spread posts each event once, to the urls in turn, as a load balancer in
// front of the webhook servers would.
func spread(ids []string, bodies [][]byte, urls []string) []delivery {
	out := make([]delivery, len(ids))
	for i, id := range ids {
		out[i] = delivery{URL: urls[i%len(urls)], EventID: id, Body: bodies[i]}
	}
	return out
}

// lost notes every event that never got a 2xx answer.
func (b *bench) lost(ids []string, accepted map[string]answerBody) {
	for _, id := range ids {
		if _, ok := accepted[id]; !ok {
			b.errs.add("event %s was never accepted", id)
			b.lostEvents++
		}
	}
}

// pipelineRun is one run of events through the whole of coursehook.
type pipelineRun struct {
	Name              string
	Events            int
	Senders           int
	Webhooks, Workers int
	// Spread posts each event to one webhook server, in turn, instead of
	// to every one.
	Spread bool
	// Digest leaves the worker's cohort digest at its defaults, as in
	// production: past five completions a minute, Slack gets one digest a
	// minute. Without it every completion gets a message of its own, so
	// the pipeline's full work is measured and each message is checked.
	Digest bool
	// Lifted keeps Slack's throttle lifted with the digest on, so a row
	// measures the digest's cost rather than the throttle's pace.
	Lifted bool
	// Courses is which course each event completes: the samples' own
	// (sampleCourses), a course of its own each (eachOwnCourse: every
	// course quiet), or one for all (oneCourse: a cohort).
	Courses courseMode
}

// pipelineResult is what the run measured and saw.
type pipelineResult struct {
	pipelineRun
	// Rate is completed workflows a second, from the first workflow's start
	// to the last one's close.
	Rate    float64
	Elapsed time.Duration
	// Drain is from the first post to the last close.
	Drain time.Duration
	// Each is one workflow's time from start to close, p50 and p99.
	EachP50, EachP99 time.Duration
	// AckP99 is the webhook servers' answer time while the workers work.
	AckP99          time.Duration
	Retried         int
	Unavailable     int
	PeakAccept      int
	PeakComplete    int
	SlackMessages   int
	SlackAttempts   int
	SlackLimited    int
	Emails          int
	WebhookRSS      int64
	WorkerRSS       int64
	Accepted, Dupes int
	// CPU is the processor time each part used from the first post to the
	// last close.
	CPU cpuUse
	// Cost is what a completion cost the server in actions and history,
	// its digest's share included.
	Cost *costResult
}

// pipeline posts run.Events distinct events to every webhook server of a
// fresh stack (or, with run.Spread, to one in turn), waits until every
// workflow has closed, and checks that each event was processed exactly
// once: one completed row, one Slack message and one email, counted on the
// stand-ins by event id.
func (b *bench) pipeline(ctx context.Context, run pipelineRun) (_ pipelineResult, err error) {
	res := pipelineResult{pipelineRun: run}
	s, err := b.newStack(ctx, run.Name, run.Webhooks)
	if err != nil {
		return res, err
	}
	defer s.Close()
	if err := s.startWorkers(ctx, run.Workers, run.Digest, run.Digest && !run.Lifted); err != nil {
		return res, err
	}
	ids, bodies, err := b.samples.events(run.Events, run.Courses)
	if err != nil {
		return res, err
	}
	if b.opts.Perf != "" && run.Name == "coursehook" {
		stop, perr := b.perf(s)
		if perr != nil {
			return res, perr
		}
		defer func() {
			if perr := stop(); perr != nil && err == nil {
				err = perr
			}
		}()
	}
	b.progress("%s: %d events from %d senders to %d webhook server(s), %d worker process(es)", run.Name, run.Events, run.Senders, run.Webhooks, run.Workers)
	hc := newSender(run.Senders)
	defer hc.CloseIdleConnections()
	actions := b.actionMeter(ctx)
	cpu := b.measureCPU(s.Workers, s.Webhooks)
	posted := time.Now()
	plan := deliveries(ids, bodies, s.URLs)
	if run.Spread {
		plan = spread(ids, bodies, s.URLs)
	}
	st := send(ctx, hc, plan, run.Senders, b.opts.RetryDelay)
	b.errs.merge(st.problems)
	accepted := st.accepted()
	b.lost(ids, accepted)
	b.progress("%s: %d accepted in %s; waiting for the workflows", run.Name, len(accepted), st.End.Sub(st.Start).Round(time.Millisecond))
	d, err := drain(ctx, b.plain, b.opts.Namespace, s.Queue, len(accepted), b.opts.DrainTimeout, s.alive)
	b.errs.merge(d.problems)
	if err != nil {
		// Which events are missing says more than a count.
		return res, errors.Join(fmt.Errorf("%s: %w", run.Name, err), b.checkOnce(ctx, s, ids, st, &res))
	}
	res.Rate, res.Elapsed, res.Drain = perSecond(len(d.Runs), d.Elapsed()), d.Elapsed(), time.Since(posted)
	res.CPU = cpu()
	metric := actions()
	if !d.Last.IsZero() {
		res.Drain = d.Last.Sub(posted)
	}
	each := d.durations()
	res.EachP50, res.EachP99 = each.pct(50), each.pct(99)
	res.AckP99 = newDist(st.Latencies).pct(99)
	res.Retried, res.Unavailable = st.Retried, st.Unavailable
	res.PeakAccept, res.PeakComplete = peakPerSecond(st.OK), peakPerSecond(d.closeTimes())
	if res.WebhookRSS, err = peakRSS(s.Webhooks); err != nil {
		return res, err
	}
	if res.WorkerRSS, err = peakRSS(s.Workers); err != nil {
		return res, err
	}
	if len(d.Runs) != len(accepted) {
		b.errs.add("%s: %d workflows for %d accepted events", run.Name, len(d.Runs), len(accepted))
	}
	for _, as := range st.Answers {
		for _, a := range as {
			switch a.Status {
			case "accepted":
				res.Accepted++
			case "duplicate":
				res.Dupes++
			}
		}
	}
	if err = b.checkOnce(ctx, s, ids, st, &res); err != nil {
		return res, err
	}
	if run.Name != "burst" {
		res.Cost, err = b.rowCost(ctx, run.Name, s.Queue, len(d.Runs), metric)
	}
	return res, err
}

// perf records the stack's first worker and webhook server until the
// returned function is called.
func (b *bench) perf(s *stack) (stop func() error, err error) {
	stopWorker, err := perfRecord(b.opts.Perf, "worker", s.Workers[0].Pid())
	if err != nil {
		return nil, err
	}
	stopWebhook, err := perfRecord(b.opts.Perf, "webhook", s.Webhooks[0].Pid())
	if err != nil {
		return nil, errors.Join(err, stopWorker())
	}
	b.progress("%s: perf records the worker and the webhook server into %s", s.Name, b.opts.Perf)
	return func() error { return errors.Join(stopWorker(), stopWebhook()) }, nil
}

// checkOnce checks that each event started one workflow and left one
// completed row, one Slack message (its own, or with the digest on, its
// own or a digest's, named in its row) and one email. Its error is a check it
// could not make; what it finds goes to b.errs.
func (b *bench) checkOnce(ctx context.Context, s *stack, ids []string, st *sendStats, res *pipelineResult) error {
	slack := slackCounts(s.Slack)
	email, err := emailCounts(s.SendGrid)
	if err != nil {
		return err
	}
	res.SlackMessages, res.SlackAttempts, res.SlackLimited = len(s.Slack.Messages()), s.Slack.Attempts(), s.Slack.RateLimited()
	res.Emails = len(s.SendGrid.Messages())
	rows, err := s.Store.Count(ctx)
	if err != nil {
		return err
	}
	if rows != len(ids) {
		b.errs.add("%s: %d rows for %d events", s.Name, rows, len(ids))
	}
	for _, id := range ids {
		starts := 0
		for _, a := range st.Answers[id] {
			if a.Status == "accepted" {
				starts++
			}
		}
		if starts > 1 {
			b.errs.add("%s: event %s was started %d times", s.Name, id, starts)
		}
		if n := slack[id]; n != 1 && !s.Digest {
			b.errs.add("%s: event %s has %d Slack messages", s.Name, id, n)
		}
		if n := email[id]; n != 1 {
			b.errs.add("%s: event %s has %d emails", s.Name, id, n)
		}
		rec, err := s.Store.Get(ctx, id)
		switch {
		case err != nil:
			b.errs.add("%s: event %s: %v", s.Name, id, err)
		case rec.Status != store.StatusCompleted:
			b.errs.add("%s: event %s is %s", s.Name, id, rec.Status)
		case rec.Receipts[workflows.StepNameSlack].ID == "" || rec.Receipts[workflows.StepNameSlack].Via == "":
			b.errs.add("%s: event %s has no announcing Slack message", s.Name, id)
		case s.Digest && rec.Receipts[workflows.StepNameSlack].Via == workflows.AnnouncedMessage && slack[id] != 1:
			b.errs.add("%s: event %s has %d Slack messages", s.Name, id, slack[id])
		}
		if _, ok := st.Answers[id]; ok && (err != nil || rec.Status != store.StatusCompleted) {
			// Accepted, and never completed: lost.
			b.lostEvents++
		}
	}
	return nil
}
