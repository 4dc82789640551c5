package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// digestEnv runs a CourseDigest whose answers are recorded, in order: the
// ones it signals itself, and the ones GatherDigestEntries and
// AnswerDigest give from the database, which entries stands in for.
type digestEnv struct {
	*testEnv
	mu      sync.Mutex
	answers []Announcement
	digests []DigestInput
	db      *digestDB
}

// digestDB is what the digest activities keep in the database: each
// digest's entries by event id with their window, and answered windows.
type digestDB struct {
	mu       sync.Mutex
	window   map[string]string // digest id + event id -> window id
	inWindow map[string][]GatheredEntry
	answered map[string]Announcement
	gathers  int
	// awaited are the windows answered by completing AwaitDigest, and
	// seals the planned windows summed up.
	awaited map[string]bool
	seals   int
}

func newDigestDB() *digestDB {
	return &digestDB{window: map[string]string{}, inWindow: map[string][]GatheredEntry{}, answered: map[string]Announcement{},
		awaited: map[string]bool{}}
}

func newDigestEnv(t *testing.T) *digestEnv {
	t.Helper()
	return newDigestEnvOn(t, newDigestDB())
}

// newDigestEnvOn is a digestEnv whose activities share db with another's,
// as two runs of one digest share the database.
func newDigestEnvOn(t *testing.T, db *digestDB) *digestEnv {
	t.Helper()
	d := &digestEnv{testEnv: newEnv(t), db: db}
	answer := func(workflowID string, a Announcement) {
		require.Equal(t, "wf-"+a.EventID, workflowID, "the answer goes to the entry's workflow")
		d.mu.Lock()
		d.answers = append(d.answers, a)
		d.mu.Unlock()
	}
	d.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", AnnouncementSignal, mock.Anything).
		Run(func(args mock.Arguments) { answer(args.String(1), args.Get(4).(Announcement)) }).Return(nil)
	d.OnActivity(ActivityGatherDigestEntries, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in GatherInput) (GatherResult, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			db.gathers++
			var res GatherResult
			for _, e := range in.Entries {
				key := in.DigestID + "/" + e.EventID
				w, seen := db.window[key]
				if !seen && in.WindowID == "" {
					continue // looked up only
				}
				if !seen {
					db.window[key] = in.WindowID
					db.inWindow[in.WindowID] = append(db.inWindow[in.WindowID], e)
					res.Fresh = append(res.Fresh, e.EventID)
					continue
				}
				if a, ok := db.answered[w]; ok {
					a.EventID = e.EventID
					answer(e.WorkflowID, a)
					res.Late++
				} else if in.WindowID == "" {
					res.Waiting = append(res.Waiting, e.EventID)
				}
			}
			return res, nil
		})
	d.OnActivity(ActivityAnswerDigest, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in AnswerDigestInput) (AnswerDigestResult, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			require.Empty(t, in.Announcement.EventID, "the window's answer names no event")
			db.answered[in.WindowID] = in.Announcement
			db.awaited[in.WindowID] = in.Awaited
			for _, e := range db.inWindow[in.WindowID] {
				a := in.Announcement
				a.EventID = e.EventID
				answer(e.WorkflowID, a)
			}
			return AnswerDigestResult{Answered: len(db.inWindow[in.WindowID])}, nil
		})
	d.OnActivity(ActivitySealDigestWindow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in SealDigestInput) (SealDigestResult, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			db.seals++
			_, answered := db.answered[in.WindowID]
			res := SealDigestResult{Count: len(db.inWindow[in.WindowID]), Answered: answered}
			for _, e := range db.inWindow[in.WindowID] {
				res.Names = append(res.Names, "Learner "+e.EventID)
			}
			return res, nil
		})
	return d
}

// postsDigests makes PostDigest succeed with ts "digest-N".
func (d *digestEnv) postsDigests() {
	d.OnActivity(ActivityPostDigest, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in DigestInput) (SlackResult, error) {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.digests = append(d.digests, in)
			return SlackResult{Channel: in.Channel, TS: fmt.Sprintf("digest-%d", len(d.digests))}, nil
		})
}

// entryAt signals an entry for event id after delay (workflow time).
func (d *digestEnv) entryAt(delay time.Duration, id string, threshold int) {
	d.RegisterDelayedCallback(func() {
		d.SignalWorkflow(DigestEntrySignal, DigestEntry{
			EventID: id, WorkflowID: "wf-" + id, LearnerName: "Learner " + id, CourseTitle: "Course",
			Threshold: threshold, Window: time.Minute,
		})
	}, delay)
}

func (d *digestEnv) kinds() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]string{}
	for _, a := range d.answers {
		out[a.EventID] = a.Kind + " " + a.TS
	}
	return out
}

var digestStart = CourseDigestInput{DigestStart: DigestStart{TaskQueue: "coursehook", CourseID: "course-1", Channel: "C0456EFGH"}}

func TestDigestThresholdSwitch(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	for i := range 7 {
		d.entryAt(time.Duration(i+1)*time.Second, fmt.Sprint("e", i), 3)
	}
	d.ExecuteWorkflow(CourseDigest, digestStart)

	require.True(t, d.IsWorkflowCompleted())
	require.NoError(t, d.GetWorkflowError(), "an idle digest ends")
	require.Equal(t, map[string]string{
		"e0": "post ", "e1": "post ", "e2": "post ",
		"e3": "digest digest-1", "e4": "digest digest-1", "e5": "digest digest-1", "e6": "digest digest-1",
	}, d.kinds())
	require.Len(t, d.digests, 1)
	got := d.digests[0]
	require.Equal(t, 4, got.Count)
	require.Equal(t, []string{"Learner e3", "Learner e4", "Learner e5", "Learner e6"}, got.Names)
	require.Equal(t, "C0456EFGH", got.Channel)
	require.Equal(t, time.Minute, got.WindowEnd.Sub(got.WindowStart))
	require.Contains(t, got.WindowID, DigestWorkflowID("coursehook", "course-1", "C0456EFGH"))
	require.Contains(t, got.ListHint, "coursehookctl find --course course-1 --since ")
}

func TestDigestWindowBoundaries(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	// Threshold 1 in a sliding minute: a (t=1s) is posted; b (t=30s) is
	// the second within a minute and opens a digest window [30s, 90s); c
	// (t=89s) is still in it. d (t=200s) has nobody within the last minute
	// and is posted; e, right behind it, opens the next digest window.
	d.entryAt(time.Second, "a", 1)
	d.entryAt(30*time.Second, "b", 1)
	d.entryAt(89*time.Second+900*time.Millisecond, "c", 1)
	d.entryAt(200*time.Second, "d", 1)
	d.entryAt(200*time.Second+500*time.Millisecond, "e", 1)
	d.ExecuteWorkflow(CourseDigest, digestStart)

	require.NoError(t, d.GetWorkflowError())
	require.Equal(t, map[string]string{"a": "post ", "b": "digest digest-1", "c": "digest digest-1", "d": "post ", "e": "digest digest-2"}, d.kinds())
	require.Len(t, d.digests, 2)
	require.Equal(t, 2, d.digests[0].Count)
	require.Equal(t, 1, d.digests[1].Count)
	require.Equal(t, time.Minute, d.digests[0].WindowEnd.Sub(d.digests[0].WindowStart))
	require.Equal(t, d.digests[0].WindowStart.Add(170*time.Second+500*time.Millisecond), d.digests[1].WindowStart)
	require.NotEqual(t, d.digests[0].WindowID, d.digests[1].WindowID)
}

func TestDigestKeepsDigestingWhileTheCohortLasts(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	// One completion a second for five minutes, threshold 5, window 1 min:
	// five messages, then one digest a minute.
	for i := range 300 {
		d.entryAt(time.Duration(i+1)*time.Second, fmt.Sprint("e", i), 5)
	}
	d.ExecuteWorkflow(CourseDigest, digestStart)
	require.NoError(t, d.GetWorkflowError())
	posts := 0
	for _, k := range d.kinds() {
		if k == "post " {
			posts++
		}
	}
	require.Equal(t, 5, posts)
	require.Len(t, d.digests, 5)
	total := posts
	for _, dg := range d.digests {
		total += dg.Count
	}
	require.Equal(t, 300, total)
}

func TestDigestCountsADuplicateOnce(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	d.entryAt(time.Second, "a", 1)
	d.entryAt(2*time.Second, "a", 1) // a retried signal: answered again, not counted
	d.entryAt(3*time.Second, "b", 1)
	d.entryAt(4*time.Second, "b", 1) // pending: still one line
	d.entryAt(5*time.Second, "c", 1)
	d.entryAt(90*time.Second, "b", 1) // after its digest: answered with it
	d.ExecuteWorkflow(CourseDigest, digestStart)

	require.NoError(t, d.GetWorkflowError())
	require.Len(t, d.digests, 1)
	require.Equal(t, 2, d.digests[0].Count)
	var forA, forB int
	for _, a := range d.answers {
		switch a.EventID {
		case "a":
			forA++
			require.Equal(t, AnnouncePost, a.Kind)
		case "b":
			forB++
			require.Equal(t, "digest-1", a.TS)
		}
	}
	require.Equal(t, 2, forA, "each delivery of a is answered")
	require.Equal(t, 2, forB, "b's late retry gets its digest's ts")
}

func TestDigestContinueAsNewKeepsPendingEntries(t *testing.T) {
	d := newDigestEnv(t)
	in := digestStart
	in.ContinueAfter = 3
	for i := range 4 {
		d.entryAt(time.Duration(i+1)*time.Second, fmt.Sprint("e", i), 1)
	}
	d.ExecuteWorkflow(CourseDigest, in)

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(d.GetWorkflowError(), &can), "got %v", d.GetWorkflowError())
	var next CourseDigestInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, in.DigestStart, next.DigestStart)
	require.NotNil(t, next.Window)
	require.Len(t, next.Recent, 1, "the threshold's worth of arrivals")
	require.Empty(t, next.Window.Pending, "the entries wait in the database")
	require.Equal(t, 2, next.Window.Count)
	require.Equal(t, []string{"Learner e1", "Learner e2"}, next.Window.Names)
	require.Equal(t, "Course", next.Window.CourseTitle)
	require.Contains(t, next.Answered, "e0")
	require.Equal(t, map[string]string{"e0": "post "}, d.kinds())

	// The next run posts the carried window when it closes, and answers
	// the fourth entry, which reached it by signal-with-start.
	d2 := newDigestEnvOn(t, d.db)
	d2.postsDigests()
	d2.SetStartTime(next.Window.Start.Add(5 * time.Second))
	d2.entryAt(time.Second, "e3", 1)
	d2.entryAt(2*time.Second, "e0", 1) // a retried signal from before: answered, not counted
	d2.ExecuteWorkflow(CourseDigest, next)
	require.NoError(t, d2.GetWorkflowError())
	require.Len(t, d2.digests, 1)
	require.Equal(t, 3, d2.digests[0].Count)
	require.Equal(t, next.Window.Start, d2.digests[0].WindowStart)
	require.Equal(t, map[string]string{"e0": "post ", "e1": "digest digest-1", "e2": "digest digest-1", "e3": "digest digest-1"}, d2.kinds())
}

func TestDigestNamesAtMostTen(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	for i := range 40 {
		d.entryAt(time.Second+time.Duration(i)*time.Millisecond, fmt.Sprint("e", i), 0)
	}
	d.ExecuteWorkflow(CourseDigest, digestStart)
	require.NoError(t, d.GetWorkflowError())
	require.Len(t, d.digests, 1)
	require.Equal(t, 40, d.digests[0].Count)
	require.Len(t, d.digests[0].Names, maxDigestNames)
	require.Len(t, d.answers, 40)
}

func TestDigestPostIsRetriedAndAFailureIsAnswered(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		d := newDigestEnv(t)
		// A crash or timeout after Slack took the digest: the retry (whose
		// activity looks for the digest first) answers with its ts.
		d.OnActivity(ActivityPostDigest, mock.Anything, mock.Anything).
			Return(SlackResult{}, temporal.NewApplicationError("slack: http_503", ErrSlackRetryable)).Once()
		d.OnActivity(ActivityPostDigest, mock.Anything, mock.Anything).Return(SlackResult{Channel: "C0456EFGH", TS: "found-1"}, nil).Once()
		d.entryAt(time.Second, "a", 0)
		d.ExecuteWorkflow(CourseDigest, digestStart)
		require.NoError(t, d.GetWorkflowError())
		require.Equal(t, map[string]string{"a": "digest found-1"}, d.kinds())
		d.AssertNumberOfCalls(t, "PostDigest", 2)
	})
	t.Run("refused", func(t *testing.T) {
		d := newDigestEnv(t)
		d.OnActivity(ActivityPostDigest, mock.Anything, mock.Anything).
			Return(SlackResult{}, temporal.NewApplicationError("slack: channel_not_found", ErrSlackPermanent)).Once()
		d.entryAt(time.Second, "a", 0)
		d.ExecuteWorkflow(CourseDigest, digestStart)
		require.NoError(t, d.GetWorkflowError())
		require.Len(t, d.answers, 1)
		require.Equal(t, AnnounceFailed, d.answers[0].Kind)
		require.Contains(t, d.answers[0].Error, "channel_not_found")
	})
}

func TestDigestWorkflowIDStaysShortAndPrintable(t *testing.T) {
	long := strings.Repeat("é", 128)
	id := DigestWorkflowID(strings.Repeat("q", 200), long, "C0456EFGH")
	require.LessOrEqual(t, len(id), 255)
	for _, r := range id {
		require.True(t, r >= 0x20 && r <= 0x7e, "%q", id)
	}
	require.NotEqual(t, id, DigestWorkflowID(strings.Repeat("q", 200), long+"x", "C0456EFGH"))
	require.Equal(t, "course-digest-coursehook/7670fdbe-15ed-504b-a680-d404fa4b0eb4/C0456EFGH",
		DigestWorkflowID("coursehook", "7670fdbe-15ed-504b-a680-d404fa4b0eb4", "C0456EFGH"))
}

// TestDigestAnswersAWindowLargerThanOneBatch: a cohort whose window gathers
// more completions than maxRepliesInFlight is answered in full, each once.
// (The server's limit on pending signals, which the batches keep under, is
// exercised by the integration tests' dev server.)
func TestDigestAnswersAWindowLargerThanOneBatch(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	const cohort = 3*maxRepliesInFlight + 7
	for i := range cohort {
		d.entryAt(time.Duration(i+1)*time.Millisecond, fmt.Sprint("e", i), 5)
	}
	d.ExecuteWorkflow(CourseDigest, digestStart)
	require.NoError(t, d.GetWorkflowError())
	require.Len(t, d.answers, cohort, "every entry answered once")
	require.Len(t, d.kinds(), cohort)
	require.Len(t, d.digests, 1)
	require.Equal(t, cohort-5, d.digests[0].Count)
}

// TestDigestStateStaysBoundedForACohortOf50000: one window gathers 50,000
// completions, and the run continues as new while it is open. What it
// carries stays under 256 KB (the window's count, ten names and its
// compact ids), the next run posts the one digest, and every event is
// answered exactly once.
func TestDigestStateStaysBoundedForACohortOf50000(t *testing.T) {
	const cohort, threshold = 50_000, 5
	d := newDigestEnv(t)
	in := digestStart
	in.ContinueAfter = cohort
	// Bursts of 200, 10 ms apart, all inside the first minute's window:
	// few callbacks, since the test environment queues them in a buffer of
	// a thousand before the workflow starts.
	const burstOf = 200
	for burst := range cohort / burstOf {
		d.RegisterDelayedCallback(func() {
			for i := burst * burstOf; i < (burst+1)*burstOf; i++ {
				id := fmt.Sprint("e", i)
				d.SignalWorkflow(DigestEntrySignal, DigestEntry{EventID: id, WorkflowID: "wf-" + id, LearnerName: "Learner " + id,
					CourseTitle: "Course", Threshold: threshold, Window: time.Minute})
			}
		}, time.Second+time.Duration(burst)*10*time.Millisecond)
	}
	d.ExecuteWorkflow(CourseDigest, in)

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(d.GetWorkflowError(), &can), "got %v", d.GetWorkflowError())
	size := 0
	for _, p := range can.Input.GetPayloads() {
		size += len(p.GetData())
	}
	require.Less(t, size, 256<<10, "the carried state")
	t.Logf("carried state: %d bytes for a window of %d", size, cohort-threshold)
	var next CourseDigestInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, cohort-threshold, next.Window.Count)
	require.Len(t, next.Window.Names, maxDigestNames)
	require.Len(t, next.Recent, threshold)

	d2 := newDigestEnvOn(t, d.db)
	d2.postsDigests()
	d2.SetStartTime(next.Window.Start.Add(55 * time.Second))
	d2.ExecuteWorkflow(CourseDigest, next)
	require.NoError(t, d2.GetWorkflowError())
	require.Len(t, d2.digests, 1)
	require.Equal(t, cohort-threshold, d2.digests[0].Count)

	times := map[string]int{}
	for _, a := range append(d.answers, d2.answers...) {
		times[a.EventID]++
	}
	require.Len(t, times, cohort, "every event answered")
	for id, n := range times {
		require.Equal(t, 1, n, "%s answered %d times", id, n)
	}
}

// TestDigestAnswersAWindowCarriedFromBefore: a window a run from before the
// bounded-digest change carried, with its entries in Pending, closes in a
// run after it: those entries are answered by signal, the new ones from
// the database, all in one digest.
func TestDigestAnswersAWindowCarriedFromBefore(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	in := digestStart
	in.Window = &DigestWindow{Start: start, End: start.Add(time.Minute), Pending: []DigestEntry{
		{EventID: "old-1", WorkflowID: "wf-old-1", LearnerName: "Learner old-1", CourseTitle: "Course"},
		{EventID: "old-2", WorkflowID: "wf-old-2", LearnerName: "Learner old-2", CourseTitle: "Course"},
	}}
	in.Recent = []time.Time{start, start.Add(time.Second)}
	in.Answered = map[string]Announcement{}
	d := newDigestEnv(t)
	d.postsDigests()
	d.SetStartTime(start.Add(10 * time.Second))
	d.entryAt(time.Second, "new-1", 1)
	d.entryAt(2*time.Second, "old-1", 1) // a retried signal: still one line
	d.ExecuteWorkflow(CourseDigest, in)

	require.NoError(t, d.GetWorkflowError())
	require.Len(t, d.digests, 1)
	require.Equal(t, 3, d.digests[0].Count)
	require.Equal(t, "Course", d.digests[0].CourseTitle)
	require.Equal(t, []string{"Learner new-1", "Learner old-1", "Learner old-2"}, d.digests[0].Names)
	require.Equal(t, map[string]string{"old-1": "digest digest-1", "old-2": "digest digest-1", "new-1": "digest digest-1"}, d.kinds())
	require.Len(t, d.answers, 3)
}

// TestDigestEntriesTheDatabaseRefusesFailAtOnce: when the database refuses
// a window's entries for good, they are told the digest failed, with the
// reason, instead of waiting until their deadline.
func TestDigestEntriesTheDatabaseRefusesFailAtOnce(t *testing.T) {
	d := &digestEnv{testEnv: newEnv(t)}
	d.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", AnnouncementSignal, mock.Anything).
		Run(func(args mock.Arguments) { d.answers = append(d.answers, args.Get(4).(Announcement)) }).Return(nil)
	d.OnActivity(ActivityGatherDigestEntries, mock.Anything, mock.Anything).
		Return(GatherResult{}, temporal.NewApplicationError("permission denied for table digest_entries", ErrRecordPermanent)).Once()
	d.entryAt(time.Second, "a", 0)
	d.entryAt(2*time.Second, "b", 0)
	d.ExecuteWorkflow(CourseDigest, digestStart)

	require.NoError(t, d.GetWorkflowError())
	require.Len(t, d.answers, 2)
	for _, a := range d.answers {
		require.Equal(t, AnnounceFailed, a.Kind)
		require.Contains(t, a.Error, "permission denied")
	}
	d.assertNotStarted(t, ActivityPostDigest, ActivityAnswerDigest)
}

// TestDigestGathersWhatTheRecordStepCountedPast: an entry the record step
// counted past the course's threshold is gathered even by a digest that
// has heard of nothing else, since the completions that posted at once
// never asked it; entries without the flag are decided by its own count.
func TestDigestGathersWhatTheRecordStepCountedPast(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	d.RegisterDelayedCallback(func() {
		d.SignalWorkflow(DigestEntrySignal, DigestEntry{EventID: "e0", WorkflowID: "wf-e0", LearnerName: "Learner e0",
			CourseTitle: "Course", Threshold: 3, Window: time.Minute, Gather: true})
	}, time.Second)
	d.entryAt(2*time.Second, "e1", 3)
	d.ExecuteWorkflow(CourseDigest, digestStart)

	require.True(t, d.IsWorkflowCompleted())
	require.NoError(t, d.GetWorkflowError())
	require.Equal(t, map[string]string{"e0": "digest digest-1", "e1": "digest digest-1"}, d.kinds(),
		"the first opened a window, which gathers the next too")
	require.Len(t, d.digests, 1)
	require.Equal(t, 2, d.digests[0].Count)
}

// TestDigestClosesAPlannedWindow: a window the record steps planned, told
// by its first entry, closes at its end: the digest sums it up from the
// database, posts one digest of every entry kept there, and has AnswerDigest
// complete their AwaitDigest activities. The same window told again (a
// retried record step), while open or after it closed, changes nothing.
func TestDigestClosesAPlannedWindow(t *testing.T) {
	d := newDigestEnv(t)
	d.postsDigests()
	for _, id := range []string{"p1", "p2", "p3"} {
		d.db.inWindow["w-p"] = append(d.db.inWindow["w-p"], GatheredEntry{EventID: id, WorkflowID: "wf-" + id})
	}
	var end time.Time
	tell := func(delay time.Duration) {
		d.RegisterDelayedCallback(func() {
			if end.IsZero() {
				end = d.Now().Add(time.Minute)
			}
			d.SignalWorkflow(DigestEntrySignal, DigestEntry{EventID: "p1", WorkflowID: "wf-p1", CourseTitle: "Course",
				CourseName: "Onboarding", Threshold: 3, Window: time.Minute, Gather: true,
				Planned: &PlannedWindow{ID: "w-p", End: end, Digest: "digest-x"}})
		}, delay)
	}
	tell(time.Second)
	tell(30 * time.Second)
	tell(2 * time.Minute)
	d.ExecuteWorkflow(CourseDigest, digestStart)

	require.True(t, d.IsWorkflowCompleted())
	require.NoError(t, d.GetWorkflowError())
	require.Len(t, d.digests, 1, "one digest for the window, however often it was told")
	got := d.digests[0]
	require.Equal(t, 3, got.Count, "every entry the record steps kept, not only the one that signalled")
	require.Equal(t, []string{"Learner p1", "Learner p2", "Learner p3"}, got.Names)
	require.Equal(t, "w-p", got.WindowID)
	require.Equal(t, "Onboarding", got.CourseName)
	require.Equal(t, time.Minute, got.WindowEnd.Sub(got.WindowStart))
	require.Equal(t, 1, d.db.seals)
	require.True(t, d.db.awaited["w-p"], "the entries wait in AwaitDigest")
	require.Equal(t, map[string]string{"p1": "digest digest-1", "p2": "digest digest-1", "p3": "digest digest-1"}, d.kinds())
}
