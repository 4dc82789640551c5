package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/workflows"
)

// testRenewalSupersedes: a re-completion supersedes the learner's earlier
// certificate of the course when it has an expiry date, once, whichever
// insert of the renewal runs; one without an expiry date is left alone.
func testRenewalSupersedes(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	expiring := sampleCompletion("first")
	expiring.ExpiresAt = time.Date(2027, 5, 20, 14, 3, 28, 0, time.UTC)
	rec, _, err := s.Insert(ctx, expiring, StatusRecorded)
	require.NoError(t, err)
	require.Equal(t, expiring.ExpiresAt, rec.ExpiresAt)
	require.True(t, rec.Expired(expiring.ExpiresAt))
	require.False(t, rec.Expired(expiring.ExpiresAt.Add(-time.Microsecond)))

	renewal := sampleCompletion("renewal")
	renewal.CompletedAt = renewal.CompletedAt.Add(30 * 24 * time.Hour)
	renewal.ExpiresAt = expiring.ExpiresAt.Add(30 * 24 * time.Hour)
	_, created, err := s.Insert(ctx, renewal, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	old, err := s.Get(ctx, "first")
	require.NoError(t, err)
	require.Equal(t, "renewal", old.SupersededBy)
	// The renewal's retry changes nothing; nor does a later renewal move
	// the mark.
	_, created, err = s.Insert(ctx, renewal, StatusRecorded)
	require.NoError(t, err)
	require.False(t, created)
	third := sampleCompletion("third")
	third.CompletedAt = renewal.CompletedAt.Add(time.Hour)
	third.ExpiresAt = renewal.ExpiresAt.Add(time.Hour)
	_, _, err = s.Insert(ctx, third, StatusRecorded)
	require.NoError(t, err)
	for id, want := range map[string]string{"first": "renewal", "renewal": "third", "third": ""} {
		r, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, r.SupersededBy, id)
	}

	// Certificates that never expire are never superseded.
	plain := sampleCompletion("plain-1")
	plain.CourseID = "another-course"
	_, _, err = s.Insert(ctx, plain, StatusRecorded)
	require.NoError(t, err)
	again := sampleCompletion("plain-2")
	again.CourseID = "another-course"
	again.CompletedAt = again.CompletedAt.Add(time.Hour)
	_, _, err = s.Insert(ctx, again, StatusRecorded)
	require.NoError(t, err)
	r, err := s.Get(ctx, "plain-1")
	require.NoError(t, err)
	require.Empty(t, r.SupersededBy)
	require.True(t, r.ExpiresAt.IsZero())
	require.False(t, r.Expired(time.Now()))
}

// testCertificateNotices: a notice is kept once per event and name; the
// first one kept stays.
func testCertificateNotices(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	at := time.Date(2027, 4, 20, 9, 0, 0, 0, time.UTC)
	n := CertificateNotice{EventID: "e1", Notice: workflows.ReminderNotice("30d"), Channel: "email", Receipt: workflows.Receipt{ID: "m1"}, SentAt: at}
	added, err := s.NoticeSent(ctx, n)
	require.NoError(t, err)
	require.True(t, added)
	second := n
	second.Receipt.ID = "m2"
	added, err = s.NoticeSent(ctx, second)
	require.NoError(t, err)
	require.False(t, added, "the first one kept stays")
	got, found, err := s.FindNotice(ctx, "e1", "reminder-30d")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, n, got)
	_, found, err = s.FindNotice(ctx, "e1", workflows.ExpiryNotice)
	require.NoError(t, err)
	require.False(t, found)

	expiry := CertificateNotice{EventID: "e1", Notice: workflows.ExpiryNotice, Channel: "slack",
		Receipt: workflows.Receipt{ID: "1.2", Where: "C1", Via: workflows.AnnouncedDigest}, SentAt: at.AddDate(0, 1, 0)}
	_, err = s.NoticeSent(ctx, expiry)
	require.NoError(t, err)
	all, err := s.Notices(ctx, "e1", "e2")
	require.NoError(t, err)
	require.Equal(t, []CertificateNotice{n, expiry}, all)
	_, err = s.NoticeSent(ctx, CertificateNotice{EventID: "e1"})
	require.ErrorIs(t, err, ErrInvalid)
}
