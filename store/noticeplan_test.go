package store

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/workflows"
)

// testPlanNotice: the digest's rule, one event at a time: a threshold's
// worth post within a window, the next opens a window that gathers
// everything until it closes, and a quiet spell posts again. An event
// keeps its plan, and asking again counts nothing.
func testPlanNotice(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	ctx := t.Context()
	rule := NoticeRule{DigestID: "digest-a", Threshold: 3, Window: time.Minute}
	start := clk.Now()
	plan := func(id string, rule NoticeRule) string {
		t.Helper()
		if _, err := s.Get(ctx, id); err != nil {
			_, _, err := s.Insert(ctx, sampleCompletion(id), StatusRecorded)
			require.NoError(t, err)
		}
		p, err := s.PlanNotice(ctx, id, rule)
		require.NoError(t, err)
		require.Empty(t, p.Window, "no entry to keep, no window")
		return p.Notice
	}
	for _, step := range []struct {
		at   time.Duration
		id   string
		want string
		why  string
	}{
		{0, "e1", workflows.NoticePost, "quiet"},
		{0, "e2", workflows.NoticePost, "second of three"},
		{0, "e3", workflows.NoticePost, "the threshold's last"},
		{0, "e4", workflows.NoticeGather, "past the threshold: opens a window until 60s"},
		{0, "e1", workflows.NoticePost, "asked again: its own plan, counted once"},
		{30 * time.Second, "e5", workflows.NoticeGather, "the window is open"},
		{61 * time.Second, "e6", workflows.NoticePost, "the window closed, and one arrival within the last minute"},
		{62 * time.Second, "e7", workflows.NoticePost, "two within the last minute"},
		{63 * time.Second, "e8", workflows.NoticeGather, "three within the last minute (e5, e6, e7)"},
		{63 * time.Second, "e5", workflows.NoticeGather, "asked again, gathered still"},
		{124 * time.Second, "e9", workflows.NoticePost, "the window closed at 123s; e6 to e8 are older than a minute"},
	} {
		clk.Set(start.Add(step.at))
		require.Equal(t, step.want, plan(step.id, rule), "%s at %s: %s", step.id, step.at, step.why)
	}
	other := NoticeRule{DigestID: "digest-b", Threshold: 3, Window: time.Minute}
	require.Equal(t, workflows.NoticePost, plan("b1", other), "another digest counts apart")
	none := NoticeRule{DigestID: "digest-c", Window: time.Minute}
	require.Equal(t, workflows.NoticeGather, plan("c1", none), "a threshold of zero gathers everything")

	_, err := s.PlanNotice(ctx, "nobody", rule)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.PlanNotice(ctx, "e1", NoticeRule{Threshold: 3, Window: time.Minute})
	require.ErrorIs(t, err, ErrInvalid)
}

// testPlanNoticeConcurrently: a cohort whose records commit together still
// gets exactly the first threshold posted, however the workers interleave,
// and every event asked twice at once gets one plan.
func testPlanNoticeConcurrently(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	const events, threshold = 40, 5
	rule := func(id string) NoticeRule {
		return NoticeRule{DigestID: "digest-cohort", Threshold: threshold, Window: time.Hour,
			Keep: &DigestEntry{EventID: id, WorkflowID: "wf-" + id, LearnerName: "Learner " + id}}
	}
	for i := range events {
		_, _, err := s.Insert(ctx, sampleCompletion(fmt.Sprintf("evt-cohort-%d", i)), StatusRecorded)
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	plans := map[string][]Plan{}
	for i := range events {
		id := fmt.Sprintf("evt-cohort-%d", i)
		for range 2 {
			wg.Go(func() {
				p, err := s.PlanNotice(ctx, id, rule(id))
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				plans[id] = append(plans[id], p)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	posted, opened := 0, 0
	windows := map[string]bool{}
	for id, ps := range plans {
		require.Len(t, ps, 2, id)
		require.Equal(t, ps[0].Notice, ps[1].Notice, "%s got two plans", id)
		require.Equal(t, ps[0].Window, ps[1].Window, "%s kept in two windows", id)
		if ps[0].Notice == workflows.NoticePost {
			posted++
			continue
		}
		windows[ps[0].Window] = true
		if ps[0].Signal && ps[1].Signal {
			// Both ask: the window's opener, and its second ask (a retry).
			opened++
		}
	}
	require.Len(t, plans, events)
	require.Equal(t, threshold, posted, "exactly the threshold posts on its own")
	require.Len(t, windows, 1, "the rest gathered into one window")
	require.Equal(t, 1, opened, "one entry opened the window")
	for w := range windows {
		sum, err := s.SealNoticeWindow(ctx, "digest-cohort", w, 3)
		require.NoError(t, err)
		require.Equal(t, events-threshold, sum.Count, "every gathered entry is kept once")
		require.Len(t, sum.Names, 3)
	}
}

// testPlanNoticeKeepsWindows: a gathered entry the rule keeps goes into its
// window's rows in the planning transaction; only the window's first entry,
// or one asked again, is told to signal the digest; sealing the window sums
// it up in arrival order and makes the next gathered entry open another.
func testPlanNoticeKeepsWindows(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	ctx := t.Context()
	start := clk.Now()
	plan := func(digest, id string, keep bool) Plan {
		t.Helper()
		_, _, err := s.Insert(ctx, sampleCompletion(id), StatusRecorded)
		require.NoError(t, err)
		rule := NoticeRule{DigestID: digest, Threshold: 2, Window: time.Minute}
		if keep {
			rule.Keep = &DigestEntry{EventID: id, WorkflowID: "wf-" + id, LearnerName: "Name " + id}
		}
		p, err := s.PlanNotice(ctx, id, rule)
		require.NoError(t, err)
		return p
	}
	again := func(id string) Plan {
		t.Helper()
		p, err := s.PlanNotice(ctx, id, NoticeRule{DigestID: "digest-k", Threshold: 2, Window: time.Minute,
			Keep: &DigestEntry{EventID: id, WorkflowID: "wf-" + id}})
		require.NoError(t, err)
		return p
	}
	require.Equal(t, Plan{Notice: workflows.NoticePost}, plan("digest-k", "k1", true))
	require.Equal(t, Plan{Notice: workflows.NoticePost}, plan("digest-k", "k2", true))
	opener := plan("digest-k", "k3", true)
	require.Equal(t, workflows.NoticeGather, opener.Notice)
	require.NotEmpty(t, opener.Window)
	require.True(t, opener.Signal, "the window's first entry signals the digest")
	require.True(t, start.Add(time.Minute).Truncate(time.Microsecond).Equal(opener.Until), "until %s", opener.Until)

	clk.Set(start.Add(10 * time.Second))
	joined := plan("digest-k", "k4", true)
	require.Equal(t, Plan{Notice: workflows.NoticeGather, Window: opener.Window, Until: opener.Until}, joined,
		"a later entry joins the open window without a signal")
	require.Equal(t, opener, again("k3"), "asked again: the same window, and a signal, since the first may not have gone")
	require.Equal(t, Plan{Notice: workflows.NoticePost}, again("k1"), "a posted plan asked again")

	sum, err := s.SealNoticeWindow(ctx, "digest-k", opener.Window, 10)
	require.NoError(t, err)
	require.Equal(t, WindowSummary{Count: 2, Names: []string{"Name k3", "Name k4"}}, sum)
	sealed := again("k4")
	require.True(t, sealed.Until.IsZero(), "a sealed window has no end to wait for")
	require.Equal(t, opener.Window, sealed.Window)

	clk.Set(start.Add(20 * time.Second))
	next := plan("digest-k", "k5", true)
	require.Equal(t, workflows.NoticeGather, next.Notice, "three arrived within the minute")
	require.True(t, next.Signal)
	require.NotEqual(t, opener.Window, next.Window, "the sealed window takes nobody: a new one opens")

	require.NoError(t, s.CloseDigestWindow(ctx, "digest-k", opener.Window, []byte(`{"kind":"digest"}`)))
	sum, err = s.SealNoticeWindow(ctx, "digest-k", opener.Window, 10)
	require.NoError(t, err)
	require.True(t, sum.Answered, "a window told again after its answer")

	// A window opened for a digest that gathers by signal (no entry kept)
	// is not one of kept entries: the first kept entry opens its own.
	m1 := plan("digest-m", "m1", false)
	m2, m3 := plan("digest-m", "m2", false), plan("digest-m", "m3", false)
	require.Equal(t, Plan{Notice: workflows.NoticeGather}, m3, "gathered by signal: %v %v", m1, m2)
	require.Equal(t, Plan{Notice: workflows.NoticeGather}, plan("digest-m", "m3b", false), "another one joins it")
	m4 := plan("digest-m", "m4", true)
	require.True(t, m4.Signal, "the first kept entry opens a window of its own, and tells the digest")
	require.NotEmpty(t, m4.Window)
	require.Equal(t, Plan{Notice: workflows.NoticeGather}, plan("digest-m", "m4b", false), "one by signal leaves the kept window be")
	m5 := plan("digest-m", "m5", true)
	require.Equal(t, m4.Window, m5.Window)
	require.False(t, m5.Signal)
	sum, err = s.SealNoticeWindow(ctx, "digest-m", m4.Window, 10)
	require.NoError(t, err)
	require.Equal(t, 2, sum.Count, "only the kept entries")

	_, err = s.PlanNotice(ctx, "k5", NoticeRule{DigestID: "digest-k", Threshold: 2, Window: time.Minute, Keep: &DigestEntry{EventID: "other", WorkflowID: "wf"}})
	require.ErrorIs(t, err, ErrInvalid, "an entry that is not the event's")
}
