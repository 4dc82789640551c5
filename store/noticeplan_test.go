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
		return p
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
	rule := NoticeRule{DigestID: "digest-cohort", Threshold: threshold, Window: time.Hour}
	for i := range events {
		_, _, err := s.Insert(ctx, sampleCompletion(fmt.Sprintf("evt-cohort-%d", i)), StatusRecorded)
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	plans := map[string][]string{}
	for i := range events {
		id := fmt.Sprintf("evt-cohort-%d", i)
		for range 2 {
			wg.Go(func() {
				p, err := s.PlanNotice(ctx, id, rule)
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
	posted := 0
	for id, ps := range plans {
		require.Len(t, ps, 2, id)
		require.Equal(t, ps[0], ps[1], "%s got two plans", id)
		if ps[0] == workflows.NoticePost {
			posted++
		}
	}
	require.Len(t, plans, events)
	require.Equal(t, threshold, posted, "exactly the threshold posts on its own")
}
