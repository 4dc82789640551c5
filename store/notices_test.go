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

// testWhoIsDue: a listing by expiry keeps the certificates whose date
// falls in its range, in date order, pages through them, and leaves out
// the renewed and the revoked; the count per course agrees.
func testWhoIsDue(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	now := time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)
	insert := func(id, course, learner string, expires time.Time) {
		c := sampleCompletion(id)
		c.CourseID, c.LearnerEmail, c.ExpiresAt = course, learner, expires
		_, _, err := s.Insert(ctx, c, StatusRecorded)
		require.NoError(t, err)
	}
	insert("lapsed", "c1", "a@example.org", now.AddDate(0, 0, -3))
	insert("soon-2", "c1", "b@example.org", now.AddDate(0, 0, 20))
	insert("soon-1", "c2", "c@example.org", now.AddDate(0, 0, 10))
	insert("later", "c1", "d@example.org", now.AddDate(0, 2, 0))
	insert("never", "c1", "e@example.org", time.Time{})
	insert("revoked", "c1", "f@example.org", now.AddDate(0, 0, 5))
	require.NoError(t, s.RecordOutcome(ctx, Outcome{EventID: "revoked", Status: StatusCompleted, Receipts: workflows.Receipts{"email": {ID: "m", SHA256: "ab"}}}))
	_, _, err := s.Revoke(ctx, "revoked", "other", "", "ops", now)
	require.NoError(t, err)
	// b@example.org completes c1 again: soon-2 is renewed.
	renewal := sampleCompletion("renewal")
	renewal.CourseID, renewal.LearnerEmail = "c1", "B@example.org"
	renewal.CompletedAt = renewal.CompletedAt.Add(time.Hour)
	renewal.ExpiresAt = now.AddDate(1, 0, 20)
	_, _, err = s.Insert(ctx, renewal, StatusRecorded)
	require.NoError(t, err)

	ids := func(f Filter) []string {
		var out []string
		for {
			recs, err := s.List(ctx, f)
			require.NoError(t, err)
			for _, r := range recs {
				out = append(out, r.EventID)
			}
			if len(recs) < f.Limit {
				return out
			}
			last := CursorOf(recs[len(recs)-1])
			f.After = &last
		}
	}
	due := Filter{Expiring: &ExpiryRange{From: now, Before: now.AddDate(0, 0, 30)}, Limit: 1}
	require.Equal(t, []string{"soon-1"}, ids(due), "soon-2 was renewed, revoked is revoked")
	require.Equal(t, []string{"lapsed"}, ids(Filter{Expiring: &ExpiryRange{Before: now}, Limit: 1}))
	require.Equal(t, []string{"soon-1", "later"}, ids(Filter{Expiring: &ExpiryRange{From: now, Before: now.AddDate(1, 0, 0)}, Limit: 1}))
	c1 := Filter{CourseID: "c1", Expiring: &ExpiryRange{Before: now.AddDate(2, 0, 0)}, Limit: 10}
	require.Equal(t, []string{"lapsed", "later", "renewal"}, ids(c1), "by expiry date, not completion")

	counts, err := s.ExpiringByCourse(ctx, now, now.AddDate(0, 0, 30))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"c2": 1}, counts)

	_, err = s.List(ctx, Filter{Expiring: &ExpiryRange{From: now}})
	require.ErrorIs(t, err, ErrInvalid)
}
