package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testDigestEntries: a window's entries are kept once per event, paged in
// event id order for the answer, and an entry that comes again is told
// apart: still waiting (neither fresh nor late), or answered (late, with
// the window's announcement). Forgotten windows take their entries along.
func testDigestEntries(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	ctx := t.Context()
	entry := func(i int) DigestEntry {
		return DigestEntry{EventID: fmt.Sprintf("e%04d", i), WorkflowID: fmt.Sprintf("wf-e%04d", i)}
	}
	var first []DigestEntry
	for i := range 250 {
		first = append(first, entry(i))
	}
	// One entry given twice in one call is fresh once.
	fresh, late, err := s.GatherDigestEntries(ctx, "digest-1", "w1", append(first, entry(7)))
	require.NoError(t, err)
	require.Len(t, fresh, 250)
	require.Equal(t, "e0000", fresh[0])
	require.Empty(t, late)

	// Again, while the window is open: waiting already, so neither.
	fresh, late, err = s.GatherDigestEntries(ctx, "digest-1", "w1", []DigestEntry{entry(3), entry(250)})
	require.NoError(t, err)
	require.Equal(t, []string{"e0250"}, fresh)
	require.Empty(t, late)
	// Another digest keeps its own entries.
	fresh, _, err = s.GatherDigestEntries(ctx, "digest-2", "w9", []DigestEntry{entry(3)})
	require.NoError(t, err)
	require.Equal(t, []string{"e0003"}, fresh)

	var paged []string
	for after := ""; ; {
		page, err := s.DigestWindowEntries(ctx, "w1", after, 100)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			require.Equal(t, "wf-"+e.EventID, e.WorkflowID)
			paged = append(paged, e.EventID)
		}
		after = page[len(page)-1].EventID
	}
	require.Len(t, paged, 251, "every entry of the window, each once")
	require.IsIncreasing(t, paged)

	require.NoError(t, s.CloseDigestWindow(ctx, "digest-1", "w1", []byte(`{"kind":"digest","ts":"1"}`)))
	require.NoError(t, s.CloseDigestWindow(ctx, "digest-1", "w1", []byte(`{"kind":"digest","ts":"2"}`)), "a retried close")
	fresh, late, err = s.GatherDigestEntries(ctx, "digest-1", "w2", []DigestEntry{entry(5), entry(400)})
	require.NoError(t, err)
	require.Equal(t, []string{"e0400"}, fresh)
	require.Len(t, late, 1)
	require.Equal(t, entry(5), late[0].DigestEntry)
	require.JSONEq(t, `{"kind":"digest","ts":"1"}`, string(late[0].Announcement), "the first close is kept")

	clk.Advance(8 * 24 * time.Hour)
	n, err := s.ForgetDigestWindows(ctx, clk.Now().Add(-7*24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	page, err := s.DigestWindowEntries(ctx, "w1", "", 10)
	require.NoError(t, err)
	require.Empty(t, page, "the forgotten window's entries went with it")
	page, err = s.DigestWindowEntries(ctx, "w2", "", 10)
	require.NoError(t, err)
	require.Len(t, page, 1, "an open window stays")

	_, _, err = s.GatherDigestEntries(ctx, "", "w1", []DigestEntry{entry(1)})
	require.ErrorIs(t, err, ErrInvalid)
	_, _, err = s.GatherDigestEntries(ctx, "digest-1", "w1", []DigestEntry{{EventID: "x"}})
	require.ErrorIs(t, err, ErrInvalid)
}

// testDeadLetters: a letter keeps the body byte for byte, a second letter
// of the event replaces the first, and a replayed one goes.
func testDeadLetters(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	body := []byte("{\"id\": \"e1\",\n  \"title\": \"Über <b>&\"}")
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	require.NoError(t, s.PutDeadLetter(ctx, DeadLetter{EventID: "e2", ReceivedAt: at.Add(time.Hour), Error: "later", Payload: []byte(`{"id":"e2"}`)}))
	require.NoError(t, s.PutDeadLetter(ctx, DeadLetter{EventID: "e1", ReceivedAt: at, Error: "first", Payload: body}))
	require.NoError(t, s.PutDeadLetter(ctx, DeadLetter{EventID: "e1", ReceivedAt: at, Error: "again", Payload: body}))
	letters, err := s.DeadLetters(ctx)
	require.NoError(t, err)
	require.Len(t, letters, 2)
	require.Equal(t, "e1", letters[0].EventID, "the earliest received first")
	require.Equal(t, body, letters[0].Payload, "byte for byte")
	require.Equal(t, "again", letters[0].Error)
	require.Equal(t, at, letters[0].ReceivedAt)
	require.NoError(t, s.RemoveDeadLetter(ctx, "e1"))
	letters, err = s.DeadLetters(ctx)
	require.NoError(t, err)
	require.Len(t, letters, 1)
	require.ErrorIs(t, s.PutDeadLetter(ctx, DeadLetter{}), ErrInvalid)
}
