package workflows

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// CourseDigestInput is where a CourseDigest starts: empty for a new one,
// and the state it carries across continue-as-new otherwise.
type CourseDigestInput struct {
	DigestStart
	// Recent are the arrival times of the completions within the last
	// window, posted or gathered: while fewer than the threshold, the next
	// one is posted at once. Since the bounded-digest change only the
	// latest threshold of them are kept, which is all the rule reads.
	Recent []time.Time `json:"recent,omitempty"`
	// Window is the open digest window, if any.
	Window *DigestWindow `json:"window,omitempty"`
	// Answered are the recent entries and their answers, so a signal that
	// comes again is answered again instead of counted twice. Since the
	// bounded-digest change it holds only the entries told to post their
	// own message (a threshold's worth a window); a gathered entry is
	// known by the database (GatherDigestEntries).
	Answered map[string]Announcement `json:"answered,omitempty"`
	// Closed is the latest window closed, for a window after it: an entry
	// it gathered that comes again then must not be posted as new.
	Closed *ClosedWindow `json:"closed,omitempty"`
	// ContinueAfter is how many entries a run takes before it continues as
	// new; zero means digestContinueAfter.
	ContinueAfter int `json:"continueAfter,omitempty"`
	// Planned are the open windows the record steps planned and keep the
	// entries of (DigestEntry.Planned), each closed at its end; Sealed the
	// ones closed lately, so a window told again is not posted twice.
	Planned []PlannedDigest `json:"planned,omitempty"`
	Sealed  []PlannedDigest `json:"sealed,omitempty"`
}

// PlannedDigest is a planned window as its digest keeps it: the window,
// when it opened, and the course's title and name for the message (its
// first entry's).
type PlannedDigest struct {
	ID          string    `json:"id"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	CourseTitle string    `json:"courseTitle,omitempty"`
	CourseName  string    `json:"courseName,omitempty"`
}

// ClosedWindow is what a digest keeps of a closed window: when it closed,
// and the ids it gathered, compactly (SeenIDs).
type ClosedWindow struct {
	End  time.Time `json:"end"`
	Seen *SeenIDs  `json:"seen,omitempty"`
}

// DigestWindow is one digest: the completions gathered while it is open,
// announced together when it closes.
type DigestWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Pending are the gathered entries of the runs from before the
	// bounded-digest change, which carried them here. Only the first
	// maxDigestNames carry a name.
	Pending []DigestEntry `json:"pending,omitempty"`
	// Count is how many entries the window gathered, each once, and Names
	// the first maxDigestNames learners: all the digest message reads.
	// The entries wait in the database, whatever their number, so the
	// window costs the same few hundred bytes across continue-as-new.
	Count int      `json:"count,omitempty"`
	Names []string `json:"names,omitempty"`
	// CourseTitle and CourseName are the first gathered entry's, for the
	// message.
	CourseTitle string `json:"courseTitle,omitempty"`
	CourseName  string `json:"courseName,omitempty"`
	// Seen are the ids the window gathered, compactly, for after it closes.
	Seen *SeenIDs `json:"seen,omitempty"`
}

// maxDigestNames is how many learners a digest names.
const maxDigestNames = MaxDigestNames

// digestIdle is how long a digest with nothing open waits for the next
// completion before it ends (or a window, if longer). A later completion
// starts it again.
const digestIdle = 10 * time.Minute

// maxRepliesInFlight bounds the answers a digest has signalled and not yet
// seen delivered. Temporal fails every workflow task that would leave more
// than 2,000 signals to other workflows pending (limit.numPendingSignals),
// and a cohort's window can gather more completions than that; a digest
// stuck on that limit answers nobody. Since the reply-batches change the
// answers go out this many at a time.
const maxRepliesInFlight = 100

// changeReplyBatches is the CourseDigest change that sends answers in
// batches of maxRepliesInFlight.
const changeReplyBatches = "reply-batches"

// changeBoundedDigest is the CourseDigest change that keeps a window's
// gathered entries in the database (GatherDigestEntries) and answers them
// from there (AnswerDigest), so that the state a run carries is bounded
// whatever the cohort: before it, a window of about 7,000 completions
// passed Temporal's 2 MB payload limit and stalled the digest.
const changeBoundedDigest = "bounded-digest"

// changeDigestGather gathers an entry the record step planned gathered
// (DigestEntry.Gather) whatever the digest's own count says. It is asked
// only for an entry with the flag, which only planned completions send, so
// a digest that never meets one records no marker.
const changeDigestGather = "digest-gather"

// changeDigestPlanned takes a window the record step planned
// (DigestEntry.Planned): the digest no longer counts its entries, which
// the record steps keep in the database, but closes it at its end, sums it
// up from there (SealDigestWindow), posts it, and completes each entry's
// AwaitDigest (AnswerDigestInput.Awaited). Asked only for an entry with a
// planned window, which only windowed completions send.
const changeDigestPlanned = "digest-planned"

// gatherBatch is how many gathered entries a digest saves at a time; it
// saves sooner when its window closes or the run ends.
const gatherBatch = 500

// digestContinueAfter bounds a run's history: each entry adds about three
// events (its signal, and the answer's two), so a run continues as new near
// 6,000 events, well inside Temporal's limits, or sooner if the server
// suggests it.
const digestContinueAfter = 2000

// CourseDigest gathers one course's completions for one Slack channel, so
// a cohort completing at once gets a handful of messages instead of
// thousands. Each entry arrives by signal-with-start (DigestEntrySignal) and
// is answered by AnnouncementSignal. While fewer than Threshold completions
// arrived within the last Window, the entry is told to post its own message
// at once. Past that, it is gathered into a digest window that closes Window
// after it opened; then one digest is posted and each gathered entry is told
// its ts. A cohort therefore gets Threshold messages, then one digest a
// window for as long as it keeps coming. An event id is counted once,
// however often its signal arrives.
func CourseDigest(ctx workflow.Context, in CourseDigestInput) error {
	d := &digest{in: in, entries: workflow.GetSignalChannel(ctx, DigestEntrySignal)}
	d.batched = workflow.GetVersion(ctx, changeReplyBatches, workflow.DefaultVersion, 1) == 1
	d.bounded = workflow.GetVersion(ctx, changeBoundedDigest, workflow.DefaultVersion, 1) == 1
	if d.in.Answered == nil {
		d.in.Answered = map[string]Announcement{}
	}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, d.progress); err != nil {
		return err
	}
	if w := d.in.Window; w != nil {
		// A window carried across continue-as-new closes when it would
		// have; one already due closes at once.
		d.timer = workflow.NewTimer(ctx, max(w.End.Sub(workflow.Now(ctx)), 0))
	}
	for _, p := range d.in.Planned {
		d.plannedTimers = append(d.plannedTimers, workflow.NewTimer(ctx, max(p.End.Sub(workflow.Now(ctx)), 0)))
	}
	var idle workflow.Future
	cancelIdle := func() {}
	for {
		idleOver := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(d.entries, func(c workflow.ReceiveChannel, _ bool) {
			var e DigestEntry
			c.Receive(ctx, &e)
			d.add(ctx, e)
		})
		if d.timer != nil {
			sel.AddFuture(d.timer, func(workflow.Future) { d.close(ctx) })
		}
		for i, f := range d.plannedTimers {
			id := d.in.Planned[i].ID
			sel.AddFuture(f, func(workflow.Future) { d.closePlanned(ctx, id) })
		}
		if !d.busy() {
			if idle == nil {
				var idleCtx workflow.Context
				idleCtx, cancelIdle = workflow.WithCancel(ctx)
				// The arrivals it would forget count for a window.
				idle = workflow.NewTimer(idleCtx, max(digestIdle, d.window))
			}
			sel.AddFuture(idle, func(workflow.Future) { idleOver = true })
		}
		sel.Select(ctx)
		if d.busy() && idle != nil {
			// Busy again: the next quiet spell gets a fresh idle timer.
			cancelIdle()
			idle = nil
		}
		if idleOver {
			idle = nil
			// The run ends once its answers are out and no entry came
			// meanwhile; one that did keeps it going.
			if d.settle(ctx); !d.busy() {
				return nil
			}
			continue
		}
		limit := cmp.Or(d.in.ContinueAfter, digestContinueAfter)
		if d.taken >= limit || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			d.settle(ctx)
			return workflow.NewContinueAsNewError(ctx, CourseDigest, d.in)
		}
	}
}

// digest is a CourseDigest's state between signals.
type digest struct {
	in      CourseDigestInput
	entries workflow.ReceiveChannel
	// timer fires when the open window closes.
	timer workflow.Future
	// replies are the answers signalled and not yet acknowledged; they are
	// waited for before the run ends, so none is lost to continue-as-new.
	replies []workflow.Future
	posted  int
	// taken counts the entries this run received.
	taken int
	// window is the latest entry's window.
	window time.Duration
	// batched: this run follows the reply-batches change.
	batched bool
	// bounded: this run follows the bounded-digest change. Its gathered
	// entries not saved yet are batch (inBatch by event id); answering
	// are the AnswerDigest activities under way.
	bounded   bool
	batch     []DigestEntry
	inBatch   map[string]bool
	answering []workflow.Future
	// plannedTimers fire when the planned windows close, one for each of
	// in.Planned, in its order.
	plannedTimers []workflow.Future
}

// busy says a window is open: the digest's own, or a planned one.
func (d *digest) busy() bool {
	return d.timer != nil || len(d.in.Planned) > 0
}

// DigestProgress is a CourseDigest's answer to ProgressQuery.
type DigestProgress struct {
	Window *DigestWindow `json:"window,omitempty"`
	// Planned are the open windows the record steps planned.
	Planned []PlannedDigest `json:"planned,omitempty"`
	// Posted counts the digests this run has posted.
	Posted int `json:"posted"`
}

func (d *digest) progress() (DigestProgress, error) {
	return DigestProgress{Window: d.in.Window, Planned: d.in.Planned, Posted: d.posted}, nil
}

// DigestWindowLength is a route's digest window, or a minute where the route
// names none (a route stored before windows were configurable). The digest
// and the record step's plan (store.PlanNotice) read it alike.
func DigestWindowLength(w time.Duration) time.Duration {
	if w <= 0 {
		return time.Minute
	}
	return w
}

// add takes one entry: answered again if seen, posted at once while the
// course is under its threshold, gathered otherwise.
func (d *digest) add(ctx workflow.Context, e DigestEntry) {
	d.taken++
	now := workflow.Now(ctx)
	window := DigestWindowLength(e.Window)
	d.window = window
	d.forget(now, window)
	if e.Planned != nil && workflow.GetVersion(ctx, changeDigestPlanned, workflow.DefaultVersion, 1) == 1 {
		d.plan(ctx, e, window)
		return
	}
	if a, ok := d.in.Answered[e.EventID]; ok {
		d.reply(ctx, e.WorkflowID, a)
		return
	}
	if w := d.in.Window; w != nil && slices.ContainsFunc(w.Pending, func(p DigestEntry) bool { return p.EventID == e.EventID }) {
		return
	}
	if d.inBatch[e.EventID] {
		return
	}
	if d.in.Window == nil && d.gatheredBefore(ctx, e) {
		return
	}
	recent := len(d.in.Recent)
	d.in.Recent = append(d.in.Recent, now)
	if d.bounded && len(d.in.Recent) > e.Threshold {
		// Only whether a threshold's worth arrived within the window
		// matters: the latest Threshold arrivals tell.
		d.in.Recent = slices.Delete(d.in.Recent, 0, len(d.in.Recent)-e.Threshold)
	}
	gather := e.Gather && workflow.GetVersion(ctx, changeDigestGather, workflow.DefaultVersion, 1) == 1
	if recent < e.Threshold && d.in.Window == nil && !gather {
		a := Announcement{EventID: e.EventID, Kind: AnnouncePost, At: now}
		d.in.Answered[e.EventID] = a
		d.reply(ctx, e.WorkflowID, a)
		return
	}
	w := d.in.Window
	if w == nil {
		w = &DigestWindow{Start: now, End: now.Add(window)}
		d.in.Window = w
		d.timer = workflow.NewTimer(ctx, window)
	}
	if !d.bounded {
		if len(w.Pending) >= maxDigestNames {
			e.LearnerName = ""
		}
		w.Pending = append(w.Pending, e)
		return
	}
	if w.CourseTitle == "" && w.CourseName == "" {
		w.CourseTitle, w.CourseName = e.CourseTitle, e.CourseName
	}
	if d.inBatch == nil {
		d.inBatch = map[string]bool{}
	}
	if w.Seen == nil {
		w.Seen = &SeenIDs{}
	}
	w.Seen.Add(e.EventID)
	d.batch = append(d.batch, e)
	d.inBatch[e.EventID] = true
	if len(d.batch) >= gatherBatch {
		d.save(ctx)
	}
}

// plan takes a window the record step planned, once: one it holds or
// closed lately is told again by a retried record step.
func (d *digest) plan(ctx workflow.Context, e DigestEntry, window time.Duration) {
	id := e.Planned.ID
	known := func(p PlannedDigest) bool { return p.ID == id }
	if slices.ContainsFunc(d.in.Planned, known) || slices.ContainsFunc(d.in.Sealed, known) {
		return
	}
	now := workflow.Now(ctx)
	// A window told without its end (a retry's, past it) is due.
	end := e.Planned.End
	if end.IsZero() {
		end = now
	}
	d.in.Planned = append(d.in.Planned, PlannedDigest{ID: id, Start: end.Add(-window), End: end,
		CourseTitle: e.CourseTitle, CourseName: e.CourseName})
	d.plannedTimers = append(d.plannedTimers, workflow.NewTimer(ctx, max(end.Sub(now), 0)))
}

// closePlanned closes the planned window id at its end: the database sums
// it up under the planners' lock (later entries join the next window), one
// digest is posted, and AnswerDigest completes each entry's AwaitDigest.
// A window answered already, told again after this run forgot it, is left.
func (d *digest) closePlanned(ctx workflow.Context, id string) {
	i := slices.IndexFunc(d.in.Planned, func(p PlannedDigest) bool { return p.ID == id })
	p := d.in.Planned[i]
	d.in.Planned = slices.Delete(d.in.Planned, i, i+1)
	d.plannedTimers = slices.Delete(d.plannedTimers, i, i+1)
	d.in.Sealed = append(d.in.Sealed, p)
	digestID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var sum SealDigestResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, recordOptions(ErrRecordPermanent)), ActivitySealDigestWindow,
		SealDigestInput{DigestID: digestID, WindowID: id}).Get(ctx, &sum)
	if err == nil && (sum.Answered || sum.Count == 0) {
		return
	}
	if err != nil {
		d.answer(ctx, AnswerDigestInput{WindowID: id, Awaited: true, Announcement: Announcement{Kind: AnnounceFailed, WindowID: id,
			Error: "the digest could not read its window: " + failureText(err, ErrRecordPermanent), At: workflow.Now(ctx)}})
		return
	}
	a := d.post(ctx, DigestInput{
		Channel:     d.in.Channel,
		CourseID:    d.in.CourseID,
		CourseTitle: p.CourseTitle,
		CourseName:  p.CourseName,
		WindowID:    id,
		WindowStart: p.Start,
		WindowEnd:   p.End,
		Count:       sum.Count,
		ListHint:    listHint(d.in.CourseID, p.Start),
		Names:       sum.Names,
		Kind:        d.in.Kind,
	})
	d.answer(ctx, AnswerDigestInput{WindowID: id, Announcement: a, Awaited: true})
}

// gatheredBefore reports whether e came again after the latest window
// gathered it: the window's compact ids say "maybe", the database decides,
// and GatherDigestEntries answers it again if its window was answered. An
// entry whose answer is under way waits for it. With no window open an
// entry would otherwise be posted as new, and be announced twice. (While a
// window is open every entry goes to the database anyway.)
func (d *digest) gatheredBefore(ctx workflow.Context, e DigestEntry) bool {
	if !d.bounded || d.in.Closed == nil || !d.in.Closed.Seen.Maybe(e.EventID) {
		return false
	}
	in := GatherInput{DigestID: workflow.GetInfo(ctx).WorkflowExecution.ID, Entries: []GatheredEntry{{EventID: e.EventID, WorkflowID: e.WorkflowID}}}
	var res GatherResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, recordOptions(ErrRecordPermanent)), ActivityGatherDigestEntries, in).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Warn("could not look a digest entry up; taking it as new", "eventId", e.EventID, "error", err)
		return false
	}
	return res.Late > 0 || len(res.Waiting) > 0
}

// windowID names a window: in the digest message's metadata, where a
// retried post looks for it, and in the database, where its entries wait.
func (d *digest) windowID(w *DigestWindow) string {
	return DigestWorkflowID(d.in.TaskQueue, d.in.CourseID, d.in.Channel) + "@" + w.Start.UTC().Format(time.RFC3339Nano)
}

// save keeps the batch of gathered entries in the database, and counts and
// names those new to the window. An entry the database already holds came
// again (an enqueue retried): it is not counted twice, and one whose window
// was answered is answered again by the activity. Should the database
// refuse the batch for good, its entries are told the digest failed, so
// they fail now with the reason instead of waiting for their deadline.
func (d *digest) save(ctx workflow.Context) {
	if len(d.batch) == 0 {
		return
	}
	w := d.in.Window
	in := GatherInput{DigestID: workflow.GetInfo(ctx).WorkflowExecution.ID, WindowID: d.windowID(w)}
	for _, e := range d.batch {
		in.Entries = append(in.Entries, GatheredEntry{EventID: e.EventID, WorkflowID: e.WorkflowID})
	}
	batch := d.batch
	d.batch, d.inBatch = nil, nil
	var res GatherResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, recordOptions(ErrRecordPermanent)), ActivityGatherDigestEntries, in).Get(ctx, &res)
	if err != nil {
		a := Announcement{Kind: AnnounceFailed, WindowID: in.WindowID, Error: "the digest could not keep its entries: " + failureText(err, ErrRecordPermanent), At: workflow.Now(ctx)}
		for _, e := range batch {
			a.EventID = e.EventID
			d.reply(ctx, e.WorkflowID, a)
		}
		return
	}
	fresh := make(map[string]bool, len(res.Fresh))
	for _, id := range res.Fresh {
		fresh[id] = true
	}
	for _, e := range batch {
		if !fresh[e.EventID] {
			continue
		}
		w.Count++
		if len(w.Names) < maxDigestNames && e.LearnerName != "" {
			w.Names = append(w.Names, e.LearnerName)
		}
	}
}

// forget drops arrivals older than a window, and answers older than two:
// a signal the SDK retries comes again within seconds.
func (d *digest) forget(now time.Time, window time.Duration) {
	keep := 0
	for keep < len(d.in.Recent) && !d.in.Recent[keep].After(now.Add(-window)) {
		keep++
	}
	d.in.Recent = d.in.Recent[keep:]
	if c := d.in.Closed; c != nil && c.End.Before(now.Add(-window)) {
		d.in.Closed = nil
	}
	d.in.Sealed = slices.DeleteFunc(d.in.Sealed, func(p PlannedDigest) bool { return p.End.Before(now.Add(-2 * window)) })
	// Deleting by a test on each entry ends the same whatever the order.
	//workflowcheck:ignore
	for id, a := range d.in.Answered {
		if a.At.Before(now.Add(-2 * window)) {
			delete(d.in.Answered, id)
		}
	}
}

// close ends the open window: its gathered entries get one digest.
func (d *digest) close(ctx workflow.Context) {
	d.save(ctx)
	w := d.in.Window
	d.in.Window, d.timer = nil, nil
	if len(w.Pending) == 0 && w.Count == 0 {
		return
	}
	in := DigestInput{
		Channel:     d.in.Channel,
		CourseID:    d.in.CourseID,
		CourseTitle: w.CourseTitle,
		CourseName:  w.CourseName,
		WindowID:    d.windowID(w),
		WindowStart: w.Start,
		WindowEnd:   w.End,
		Count:       len(w.Pending) + w.Count,
		ListHint:    listHint(d.in.CourseID, w.Start),
		Names:       slices.Clone(w.Names),
		Kind:        d.in.Kind,
	}
	if d.in.Kind == DigestExpiry {
		in.ListHint = fmt.Sprintf("coursehookctl find --course %s --expired", d.in.CourseID)
	}
	if len(w.Pending) > 0 {
		in.CourseTitle, in.CourseName = w.Pending[0].CourseTitle, w.Pending[0].CourseName
	}
	for _, p := range w.Pending {
		if p.LearnerName != "" && len(in.Names) < maxDigestNames {
			in.Names = append(in.Names, p.LearnerName)
		}
	}
	a := d.post(ctx, in)
	for _, p := range w.Pending {
		a.EventID = p.EventID
		d.in.Answered[p.EventID] = a
		d.reply(ctx, p.WorkflowID, a)
	}
	if w.Count > 0 {
		d.in.Closed = &ClosedWindow{End: workflow.Now(ctx), Seen: w.Seen}
		a.EventID = ""
		d.answer(ctx, AnswerDigestInput{WindowID: in.WindowID, Announcement: a})
	}
}

// post posts a window's digest and returns the window's answer: the
// message, or why it could not be posted.
func (d *digest) post(ctx workflow.Context, in DigestInput) Announcement {
	r, step, err := postDigest(ctx, d.in.NoticeDeadline, in)
	if err != nil {
		return Announcement{Kind: AnnounceFailed, WindowID: in.WindowID, Error: step.Error, At: workflow.Now(ctx)}
	}
	d.posted++
	return Announcement{Kind: AnnounceDigest, Channel: r.Channel, TS: r.TS, WindowID: in.WindowID, At: workflow.Now(ctx)}
}

// answer starts AnswerDigest for a window whose entries wait in the
// database (in, this digest's id added); settle waits for it.
func (d *digest) answer(ctx workflow.Context, in AnswerDigestInput) {
	in.DigestID = workflow.GetInfo(ctx).WorkflowExecution.ID
	d.answering = append(d.answering, workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, answerOptions(d.in.NoticeDeadline)),
		ActivityAnswerDigest, in))
}

// answerOptions are AnswerDigest's: it signals a window's entries a page at
// a time, heartbeating where it got to, and is retried through an outage
// for as long as the entries wait for it.
func answerOptions(deadline time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToCloseTimeout: noticeDeadline(deadline),
		StartToCloseTimeout:    10 * time.Minute,
		HeartbeatTimeout:       30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}

// listHint tells the team how to list every learner of a digest.
func listHint(courseID string, since time.Time) string {
	return fmt.Sprintf("coursehookctl find --course %s --since %s", courseID, since.UTC().Format(time.RFC3339))
}

func (d *digest) reply(ctx workflow.Context, workflowID string, a Announcement) {
	if d.batched && len(d.replies) >= maxRepliesInFlight {
		d.awaitReplies(ctx)
	}
	d.replies = append(d.replies, workflow.SignalExternalWorkflow(ctx, workflowID, "", AnnouncementSignal, a))
}

// awaitReplies waits until every answer signalled so far is delivered.
func (d *digest) awaitReplies(ctx workflow.Context) {
	for _, f := range d.replies {
		// One whose completion has ended (its deadline passed) has
		// nobody to tell.
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("announcement not delivered", "error", err)
		}
	}
	d.replies = nil
}

// drain takes every entry already delivered.
func (d *digest) drain(ctx workflow.Context) {
	var e DigestEntry
	for d.entries.ReceiveAsync(&e) {
		d.add(ctx, e)
		e = DigestEntry{}
	}
}

// settle takes every entry already delivered and waits until every answer
// is out, so none is lost when the run ends or continues as new. Entries
// that come while it waits are taken too.
func (d *digest) settle(ctx workflow.Context) {
	for d.drain(ctx); len(d.replies) > 0 || len(d.batch) > 0 || len(d.answering) > 0; d.drain(ctx) {
		d.save(ctx)
		d.awaitReplies(ctx)
		d.awaitAnswers(ctx)
	}
}

// awaitAnswers waits for the AnswerDigest activities under way: a run that
// ended or continued as new before they finished would cancel them.
func (d *digest) awaitAnswers(ctx workflow.Context) {
	for _, f := range d.answering {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("digest answers not delivered", "error", err)
		}
	}
	d.answering = nil
}

// postDigest is the digest's Slack step: on the throttled Slack queue like
// every notice, retried until the deadline, stopped by a permanent refusal.
func postDigest(ctx workflow.Context, deadline time.Duration, in DigestInput) (SlackResult, Step, error) {
	permanent := []string{ErrSlackPermanent}
	opts := noticeOptions(deadline, 15*time.Second, permanent...)
	opts.TaskQueue = SlackTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	var r SlackResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ActivityPostDigest, in).Get(ctx, &r); err != nil {
		return r, Step{State: StepFailed, Error: failureText(err, permanent...)}, err
	}
	return r, Step{State: StepDone, Detail: r.Channel + " " + r.TS}, nil
}
