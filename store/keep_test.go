package store

import (
	"fmt"
	"sync"
	"testing"

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
