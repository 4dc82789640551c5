package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testLearnerKeyMigration: rows written before migration 8 get the learner
// key of event.EmailKey, including the addresses SQL's LOWER and TRIM
// would fold differently, and afterwards find and the re-completion
// lookup agree that an address in another case is the same learner.
func testLearnerKeyMigration(t *testing.T, url string) {
	db, d := migratedTo(t, url, 7)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := []struct{ id, email, key string }{
		{"v7-ascii", "Ana.Silva@Example.ORG", "ana.silva@example.org"},
		{"v7-unicode", "ZOË@Bücher.example", "zoë@bücher.example"},
		{"v7-tab", "\tkai@example.org \n", "kai@example.org"},
		{"v7-none", "", ""},
	}
	for _, r := range rows {
		_, err := db.ExecContext(t.Context(), d.rebind(`INSERT INTO completions
			(event_id, status, learner_email, course_id, completed_at, received_at, payload, recorded_at, updated_at)
			VALUES (?, 'completed', ?, 'course-a', ?, ?, ?, ?, ?)`),
			r.id, r.email, d.timeArg(at), d.timeArg(at), d.payloadArg([]byte(`{}`)), d.timeArg(at), d.timeArg(at))
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s := open(t, url)
	for _, r := range rows {
		var key string
		require.NoError(t, s.db.QueryRowContext(t.Context(), s.dialect.rebind("SELECT learner_key FROM completions WHERE event_id = ?"), r.id).Scan(&key))
		require.Equal(t, r.key, key, r.id)
	}
	got, err := s.List(t.Context(), Filter{LearnerEmail: "zoë@BÜCHER.example"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "v7-unicode", got[0].EventID)

	// The same learner in another case completes the course again: the
	// new row follows the old one.
	again := sampleCompletion("again")
	again.CourseID, again.LearnerEmail = "course-a", "Zoë@bücher.EXAMPLE"
	again.CompletedAt = at.Add(24 * time.Hour)
	rec, created, err := s.Insert(t.Context(), again, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "v7-unicode", rec.PreviousEventID)
	got, err = s.List(t.Context(), Filter{LearnerEmail: " ZOË@bücher.example"})
	require.NoError(t, err)
	require.Len(t, got, 2, "find sees both completions of the learner")
}
