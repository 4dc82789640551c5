package store

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/workflows"
)

// testKeepReceipt: each channel's receipt is kept as it is delivered; the
// one that makes the set whole completes the row and clears an earlier
// failure, and says so.
func testKeepReceipt(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	c := sampleCompletion("evt-keep")
	_, _, err := s.Insert(ctx, c, StatusRecorded)
	require.NoError(t, err)
	// An earlier run's failure, which a reset run now mends.
	require.NoError(t, s.RecordOutcome(ctx, Outcome{EventID: c.EventID, Status: StatusPartial, FailedStep: "email", Error: "sendgrid: 503"}))
	expect := []string{"slack", "email"}

	done, err := s.KeepReceipt(ctx, c.EventID, "slack", workflows.Receipt{ID: "1700.1", Where: "C1", Via: workflows.AnnouncedMessage}, expect)
	require.NoError(t, err)
	require.False(t, done)
	rec, err := s.Get(ctx, c.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusPartial, rec.Status, "not every channel has delivered")
	require.Equal(t, workflows.Receipt{ID: "1700.1", Where: "C1", Via: workflows.AnnouncedMessage}, rec.Receipts["slack"])

	done, err = s.KeepReceipt(ctx, c.EventID, "email", workflows.Receipt{ID: "sg-1", SHA256: "ab"}, expect)
	require.NoError(t, err)
	require.True(t, done)
	rec, err = s.Get(ctx, c.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusCompleted, rec.Status)
	require.Empty(t, rec.FailedStep)
	require.Empty(t, rec.Error)
	require.Equal(t, workflows.Receipts{"slack": {ID: "1700.1", Where: "C1", Via: workflows.AnnouncedMessage}, "email": {ID: "sg-1", SHA256: "ab"}}, rec.Receipts)

	// A retry of the last attempt, whose answer was lost: the same again.
	done, err = s.KeepReceipt(ctx, c.EventID, "email", workflows.Receipt{ID: "sg-1", SHA256: "ab"}, expect)
	require.NoError(t, err)
	require.True(t, done)

	_, err = s.KeepReceipt(ctx, c.EventID, "webhook", workflows.Receipt{ID: "w-1"}, expect)
	require.ErrorIs(t, err, ErrInvalid, "a channel the event does not expect")
	_, err = s.KeepReceipt(ctx, c.EventID, "email", workflows.Receipt{}, expect)
	require.ErrorIs(t, err, ErrInvalid, "a receipt without an id")
	_, err = s.KeepReceipt(ctx, "evt-none", "email", workflows.Receipt{ID: "sg-2"}, expect)
	require.ErrorIs(t, err, ErrNotFound)

	ignored := sampleCompletion("evt-keep-ignored")
	_, _, err = s.Insert(ctx, ignored, StatusIgnored)
	require.NoError(t, err)
	done, err = s.KeepReceipt(ctx, ignored.EventID, "email", workflows.Receipt{ID: "sg-3"}, []string{"email"})
	require.NoError(t, err)
	require.False(t, done, "an ignored event is never completed")
}

// testKeepReceiptConcurrently: two channels delivering at the same moment
// take turns on the row, so exactly one of them completes it; neither
// misses the other's receipt.
func testKeepReceiptConcurrently(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	expect := []string{"slack", "email", "webhook"}
	const events = 20
	for i := range events {
		_, _, err := s.Insert(ctx, sampleCompletion(fmt.Sprintf("evt-race-%d", i)), StatusRecorded)
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	completions := map[string]int{}
	for i := range events {
		id := fmt.Sprintf("evt-race-%d", i)
		for _, name := range expect {
			wg.Go(func() {
				done, err := s.KeepReceipt(ctx, id, name, workflows.Receipt{ID: name + "-" + id}, expect)
				if !assertNoError(t, err) {
					return
				}
				if done {
					mu.Lock()
					completions[id]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for i := range events {
		id := fmt.Sprintf("evt-race-%d", i)
		require.Equal(t, 1, completions[id], "%s: exactly one channel completes it", id)
		rec, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StatusCompleted, rec.Status)
		require.Len(t, rec.Receipts, len(expect))
	}
}

// assertNoError is require.NoError for a goroutine, which must not stop
// the test itself.
func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// testCountRecent: a course's completions recorded within a window
// before the store's now and within the window before that, its ignored
// events and other courses aside.
func testCountRecent(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	ctx := t.Context()
	insert := func(id, course string, status Status) {
		c := sampleCompletion(id)
		c.CourseID = course
		_, _, err := s.Insert(ctx, c, status)
		require.NoError(t, err)
	}
	// Cut as the store keeps times, so the windows' edges fall exactly on
	// rows: a window includes its start.
	start := clk.Now().Truncate(time.Microsecond)
	insert("a1", "c-1", StatusRecorded)
	clk.Advance(30 * time.Second)
	insert("a2", "c-1", StatusRecorded)
	insert("b1", "c-2", StatusRecorded)
	insert("x1", "c-1", StatusIgnored)
	clk.Advance(60 * time.Second)
	insert("a3", "c-1", StatusRecorded)

	for _, tt := range []struct {
		at                 time.Duration // after start
		window             time.Duration
		wantIn, wantBefore int
	}{
		{90 * time.Second, time.Minute, 2, 1},      // a2 (at the window's start), a3; a1
		{90 * time.Second, 30 * time.Second, 1, 1}, // a3; a2
		{90 * time.Second, 45 * time.Second, 1, 2}, // a3; a1, a2
		{90 * time.Second, 2 * time.Minute, 3, 0},  // all of them
		{200 * time.Second, time.Minute, 0, 1},     // nothing; a3
		{150 * time.Second, time.Minute, 1, 1},     // a3; a2
		{30 * time.Second, 30 * time.Second, 3, 0}, // a1, a2, and a3 from a clock ahead of now
		{400 * time.Second, time.Minute, 0, 0},     // long after
	} {
		clk.Set(start.Add(tt.at))
		in, before, err := s.CountRecent(ctx, "c-1", tt.window)
		require.NoError(t, err)
		require.Equal(t, [2]int{tt.wantIn, tt.wantBefore}, [2]int{in, before}, "at %s, window %s", tt.at, tt.window)
	}
}
