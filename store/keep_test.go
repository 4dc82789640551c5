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
	keeps := map[string][]func() (bool, error){}
	for i := range events {
		id := fmt.Sprintf("evt-race-%d", i)
		for _, name := range expect {
			keeps[id] = append(keeps[id], func() (bool, error) {
				return s.KeepReceipt(ctx, id, name, workflows.Receipt{ID: name + "-" + id}, expect)
			})
		}
	}
	completions := completeConcurrently(t, keeps)
	for i := range events {
		id := fmt.Sprintf("evt-race-%d", i)
		require.Equal(t, 1, completions[id], "%s: exactly one channel completes it", id)
		rec, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StatusCompleted, rec.Status)
		require.Len(t, rec.Receipts, len(expect))
	}
}

// completeConcurrently runs every keep of every event at once and counts,
// by event, the keeps that said they completed the event's row.
func completeConcurrently(t *testing.T, keeps map[string][]func() (bool, error)) map[string]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	completions := map[string]int{}
	for id, fs := range keeps {
		for _, keep := range fs {
			wg.Go(func() {
				done, err := keep()
				if assertNoError(t, err) && done {
					mu.Lock()
					completions[id]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return completions
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

// testKeepAnnounced: a digest keeps a gathered completion's Slack receipt
// without knowing the channels the row waits for: those the run's first
// receipt named. Kept before any, it completes nothing, and the run's own
// next receipt completes the row; kept last, it completes the row itself.
// Whichever of the two comes last completes it, however they interleave.
func testKeepAnnounced(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	expect := []string{"slack", "email"}
	digest := workflows.Receipt{ID: "1700.9", Where: "C1", Via: workflows.AnnouncedDigest}
	email := workflows.Receipt{ID: "sg-1", SHA256: "ab"}
	insert := func(id string) {
		_, _, err := s.Insert(ctx, sampleCompletion(id), StatusRecorded)
		require.NoError(t, err)
	}

	insert("evt-email-first")
	done, err := s.KeepReceipt(ctx, "evt-email-first", "email", email, expect)
	require.NoError(t, err)
	require.False(t, done)
	done, err = s.KeepAnnounced(ctx, "evt-email-first", "slack", digest)
	require.NoError(t, err)
	require.True(t, done, "the digest's receipt makes the set whole")
	rec, err := s.Get(ctx, "evt-email-first")
	require.NoError(t, err)
	require.Equal(t, StatusCompleted, rec.Status)
	require.Equal(t, digest, rec.Receipts["slack"])

	insert("evt-digest-first")
	done, err = s.KeepAnnounced(ctx, "evt-digest-first", "slack", digest)
	require.NoError(t, err)
	require.False(t, done, "the row does not yet say what it waits for")
	done, err = s.KeepReceipt(ctx, "evt-digest-first", "email", email, expect)
	require.NoError(t, err)
	require.True(t, done, "the email completes it, counting the digest's receipt")

	insert("evt-old-run")
	done, err = s.KeepAnnounced(ctx, "evt-old-run", "slack", digest)
	require.NoError(t, err)
	require.False(t, done, "a run that keeps no receipts records its outcome itself")
	rec, err = s.Get(ctx, "evt-old-run")
	require.NoError(t, err)
	require.Equal(t, StatusRecorded, rec.Status)

	_, err = s.KeepAnnounced(ctx, "evt-none", "slack", digest)
	require.ErrorIs(t, err, ErrNotFound)

	const events = 20
	keeps := map[string][]func() (bool, error){}
	for i := range events {
		id := fmt.Sprintf("evt-race-announced-%d", i)
		insert(id)
		keeps[id] = []func() (bool, error){
			func() (bool, error) { return s.KeepReceipt(ctx, id, "email", email, expect) },
			func() (bool, error) { return s.KeepAnnounced(ctx, id, "slack", digest) },
		}
	}
	completions := completeConcurrently(t, keeps)
	for i := range events {
		id := fmt.Sprintf("evt-race-announced-%d", i)
		rec, err := s.Get(ctx, id)
		require.NoError(t, err)
		// The digest's receipt, kept before the email named the set,
		// completes nothing; the email then completes the row.
		require.Equal(t, 1, completions[id], "%s: exactly one completes it", id)
		require.Equal(t, StatusCompleted, rec.Status, id)
	}
}
