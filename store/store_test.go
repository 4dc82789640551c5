package store

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/pgtest"
	"github.com/coursehook/coursehook/workflows"
)

func TestSQLite(t *testing.T) {
	runSuite(t, func(t *testing.T) string {
		t.Helper()
		return filepath.Join(t.TempDir(), "coursehook.db")
	})
}

func TestPostgres(t *testing.T) {
	runSuite(t, func(t *testing.T) string {
		t.Helper()
		return pgtest.URL(t)
	})
}

// runSuite runs every case against a fresh database that newURL makes for
// each test. It takes a URL rather than an open Store because reopening the
// same database is one of the cases.
func runSuite(t *testing.T, newURL func(t *testing.T) string) {
	cases := []struct {
		name string
		run  func(t *testing.T, url string)
	}{
		{"InsertRoundTripsEveryField", testInsertRoundTrip},
		{"InsertExistingKeepsOriginal", testInsertExistingKeepsOriginal},
		{"ConcurrentInsertCreatesOnce", testConcurrentInsert},
		{"InsertRejectsBadInput", testInsertRejectsBadInput},
		{"RecordOutcomeSetsStatusAndReceipts", testRecordOutcome},
		{"RecordOutcomeKeepsReceiptsLeftEmpty", testRecordOutcomeKeepsReceipts},
		{"RecordOutcomeMissing", testRecordOutcomeMissing},
		{"GetMissing", testGetMissing},
		{"ReopenKeepsDataAndMigratesOnce", testReopen},
		{"SQLMetacharactersStoredVerbatim", testSQLMetacharacters},
		{"Count", testCount},
		{"List", testList},
		{"Resends", testResends},
		{"RefusalsArePermanent", testRefusalsArePermanent},
		{"SchemaMismatchWaits", testSchemaMismatchWaits},
		{"ReadOnlyDatabaseWaits", testReadOnlyDatabaseWaits},
		{"BadStatementsArePermanent", testBadStatementsArePermanent},
		{"LockTimeoutIsRetryable", testLockTimeoutIsRetryable},
		{"RouteIsKeptFromTheFirstInsert", testRouteKept},
		{"ReCompletionLinksTheEarlierOne", testReCompletion},
		{"AnnouncementIsKept", testAnnouncement},
		{"VerificationCode", testVerificationCode},
		{"CertificateByCode", testCertificateByCode},
		{"QueriesUseTheirIndexes", testQueriesUseTheirIndexes},
		{"LearnerKeyMigration", testLearnerKeyMigration},
		{"DigestEntries", testDigestEntries},
		{"DeadLetters", testDeadLetters},
		{"RevokeAndUnrevoke", testRevokeAndUnrevoke},
		{"RevokeRefusals", testRevokeRefusals},
		{"ConcurrentRevokeChangesOnce", testConcurrentRevoke},
		{"MigrationKeepsOlderRows", testMigrationKeepsOlderRows},
		{"MigrationMovesReceipts", testMigrationMovesReceipts},
		{"Deliveries", testDeliveries},
		{"DeliveryBatchOfThousands", testDeliveryBatchOfThousands},
		{"RenewalSupersedes", testRenewalSupersedes},
		{"CertificateNotices", testCertificateNotices},
		{"WhoIsDue", testWhoIsDue},
		{"RendererOfTheFirstInsertStays", testRendererStays},
		{"KeepReceipt", testKeepReceipt},
		{"KeepReceiptConcurrently", testKeepReceiptConcurrently},
		{"KeepAnnounced", testKeepAnnounced},
		{"PlanNotice", testPlanNotice},
		{"PlanNoticeConcurrently", testPlanNoticeConcurrently},
		{"PlanNoticeKeepsWindows", testPlanNoticeKeepsWindows},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newURL(t))
		})
	}
}

func TestOpenEmptyURL(t *testing.T) {
	_, err := Open(t.Context(), "")
	require.Error(t, err)
}

func TestOpenSQLiteSpellings(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, url, file string
	}{
		{"plain path in a new folder", filepath.Join(dir, "a", "b", "plain.db"), filepath.Join(dir, "a", "b", "plain.db")},
		{"sqlite scheme", "sqlite://" + filepath.Join(dir, "c", "scheme.db"), filepath.Join(dir, "c", "scheme.db")},
		{"file uri", "file:" + filepath.Join(dir, "d", "uri.db") + "?cache=private", filepath.Join(dir, "d", "uri.db")},
		{"file uri with authority", "file://" + filepath.Join(dir, "e", "auth.db"), filepath.Join(dir, "e", "auth.db")},
		{"name with uri characters", filepath.Join(dir, "f", "odd?#%.db"), filepath.Join(dir, "f", "odd?#%.db")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, c.url)
			require.Equal(t, "sqlite", s.Dialect())
			require.NoError(t, s.Ping(t.Context()))
			info, err := os.Stat(c.file)
			require.NoError(t, err, "database file should be where the URL says")
			require.True(t, info.Mode().IsRegular())
			folder, err := os.Stat(filepath.Dir(c.file))
			require.NoError(t, err)
			require.Zero(t, folder.Mode().Perm()&0o007, "the folder must be closed to other users")
		})
	}
}

func TestOpenSQLiteInMemory(t *testing.T) {
	s := open(t, ":memory:")
	_, created, err := s.Insert(t.Context(), sampleCompletion("mem"), StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	n, err := s.Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestRebind(t *testing.T) {
	require.Equal(t, "a = $1 AND b = $2", postgres.rebind("a = ? AND b = ?"))
	require.Equal(t, "a = ? AND b = ?", sqlite.rebind("a = ? AND b = ?"))
}

// open opens url and closes the store when t ends.
func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// clock is a settable time source, so RecordedAt and UpdatedAt are known.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(s *Store) *clock {
	// Nanoseconds that the store must cut to microseconds.
	c := &clock{now: time.Date(2026, 5, 20, 14, 5, 0, 123456789, time.UTC)}
	s.Now = c.Now
	return c
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t, forward or back.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func sampleCompletion(id string) Completion {
	// A non-UTC zone and nanoseconds, to show both are normalised.
	berlin := time.FixedZone("CEST", 2*60*60)
	return Completion{
		EventID:            id,
		EventType:          "courseCompletion",
		LearnerEmail:       "zoe.mueller+training@example.de",
		FirstName:          "Zoë",
		LastName:           "Müller-Łukasiewicz",
		LearnerID:          "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0",
		ExternalCustomerID: "DE-000481516",
		CompanyID:          "7f3e2d1c-0b9a-4876-a5b4-c3d2e1f0a9b8",
		CourseID:           "7670fdbe-15ed-504b-a680-d404fa4b0eb4",
		CourseTitle:        "Über-Grundlagen: Sicherheit & Datenschutz — Modul 2",
		CompletedAt:        time.Date(2026, 5, 20, 16, 3, 27, 512345678, berlin),
		ReceivedAt:         time.Date(2026, 5, 20, 14, 3, 28, 1999, time.UTC),
		// Key order and spacing that a JSONB column would not keep.
		Payload: []byte(`{"id": "` + id + `", "zeta": 1, "alpha": {"firstName":"Zoë","lastName":"Müller-Łukasiewicz"},  "title":"Über — ✓"}`),
	}
}

// stored is the record Insert should give back for c: times in UTC, cut to
// microseconds, and no receipts yet.
func stored(c Completion, status Status, at time.Time) Record {
	c.CompletedAt = c.CompletedAt.UTC().Truncate(time.Microsecond)
	c.ReceivedAt = c.ReceivedAt.UTC().Truncate(time.Microsecond)
	if c.Renderer == 0 {
		c.Renderer = 1
	}
	at = at.UTC().Truncate(time.Microsecond)
	return Record{Completion: c, Status: status, RecordedAt: at, UpdatedAt: at}
}

func testInsertRoundTrip(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	c := sampleCompletion("evt-roundtrip")

	rec, created, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	want := stored(c, StatusRecorded, clk.Now())
	require.Equal(t, want, rec)
	require.Equal(t, string(c.Payload), string(rec.Payload), "payload bytes must be kept exactly")
	require.Equal(t, 512345000, rec.CompletedAt.Nanosecond(), "microseconds must survive")
	require.Equal(t, time.UTC, rec.CompletedAt.Location())

	got, err := s.Get(t.Context(), c.EventID)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func testInsertExistingKeepsOriginal(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	first := sampleCompletion("evt-dup")
	original, created, err := s.Insert(t.Context(), first, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)

	clk.Advance(time.Hour)
	second := first
	second.CourseTitle = "something else"
	second.Payload = []byte(`{"different":true}`)
	second.ReceivedAt = first.ReceivedAt.Add(time.Minute)
	rec, created, err := s.Insert(t.Context(), second, StatusIgnored)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, original, rec, "the earlier row must come back unchanged")

	got, err := s.Get(t.Context(), first.EventID)
	require.NoError(t, err)
	require.Equal(t, original, got)
}

func testConcurrentInsert(t *testing.T, url string) {
	s := open(t, url)
	const n = 20
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		created = make(chan bool, n)
		records = make(chan Record, n)
		errs    = make(chan error, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			rec, ok, err := s.Insert(t.Context(), sampleCompletion("evt-race"), StatusRecorded)
			errs <- err
			created <- ok
			records <- rec
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	close(created)
	close(records)

	for err := range errs {
		require.NoError(t, err)
	}
	wins := 0
	for ok := range created {
		if ok {
			wins++
		}
	}
	require.Equal(t, 1, wins, "exactly one insert must create the row")
	var first *Record
	for rec := range records {
		if first == nil {
			first = &rec
			continue
		}
		require.Equal(t, *first, rec, "every caller must see the same row")
	}
	count, err := s.Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, count)
}

func testInsertRejectsBadInput(t *testing.T, url string) {
	s := open(t, url)
	_, _, err := s.Insert(t.Context(), sampleCompletion(""), StatusRecorded)
	require.Error(t, err)
	_, _, err = s.Insert(t.Context(), sampleCompletion("evt-bad-status"), Status("done"))
	require.Error(t, err)
	count, err := s.Count(t.Context())
	require.NoError(t, err)
	require.Zero(t, count)
}

func testRecordOutcome(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	c := sampleCompletion("evt-outcome")
	inserted, _, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)

	clk.Advance(90 * time.Second)
	o := Outcome{
		EventID: c.EventID,
		Status:  StatusCompleted,
		Receipts: workflows.Receipts{
			"slack": {ID: "1716213807.000200", Where: "C0123456", Via: workflows.AnnouncedMessage},
			"email": {ID: "sg-msg-1", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		},
	}
	require.NoError(t, s.RecordOutcome(t.Context(), o))

	got, err := s.Get(t.Context(), c.EventID)
	require.NoError(t, err)
	want := inserted
	want.Status = StatusCompleted
	want.Receipts = o.Receipts
	want.UpdatedAt = clk.Now().Truncate(time.Microsecond)
	require.Equal(t, want, got)
	require.Equal(t, inserted.RecordedAt, got.RecordedAt, "RecordedAt must not move")
}

func testRecordOutcomeKeepsReceipts(t *testing.T, url string) {
	s := open(t, url)
	c := sampleCompletion("evt-retry")
	_, _, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)

	// First run: Slack worked, the email failed for good.
	require.NoError(t, s.RecordOutcome(t.Context(), Outcome{
		EventID:    c.EventID,
		Status:     StatusPartial,
		Receipts:   workflows.Receipts{"slack": {ID: "1716213807.000200", Where: "C0123456"}},
		FailedStep: "email",
		Error:      "sendgrid: 400 invalid recipient",
	}))
	got, err := s.Get(t.Context(), c.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusPartial, got.Status)
	require.Equal(t, "email", got.FailedStep)
	require.Equal(t, "sendgrid: 400 invalid recipient", got.Error)

	// An operator's retry only re-sent the email.
	require.NoError(t, s.RecordOutcome(t.Context(), Outcome{
		EventID:  c.EventID,
		Status:   StatusCompleted,
		Receipts: workflows.Receipts{"email": {ID: "sg-msg-2", SHA256: "abc123"}},
	}))
	got, err = s.Get(t.Context(), c.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusCompleted, got.Status)
	require.Equal(t, workflows.Receipts{
		"slack": {ID: "1716213807.000200", Where: "C0123456"},
		"email": {ID: "sg-msg-2", SHA256: "abc123"},
	}, got.Receipts, "a channel left out keeps its stored receipt")
	require.Empty(t, got.FailedStep, "a later success clears the failure")
	require.Empty(t, got.Error, "a later success clears the failure")
}

func testRecordOutcomeMissing(t *testing.T, url string) {
	s := open(t, url)
	err := s.RecordOutcome(t.Context(), Outcome{EventID: "evt-nobody", Status: StatusCompleted})
	require.ErrorIs(t, err, ErrNotFound)
	require.Contains(t, err.Error(), "evt-nobody")
}

func testGetMissing(t *testing.T, url string) {
	s := open(t, url)
	_, err := s.Get(t.Context(), "evt-nobody")
	require.True(t, errors.Is(err, ErrNotFound), "got %v", err)
}

func testReopen(t *testing.T, url string) {
	first, err := Open(t.Context(), url)
	require.NoError(t, err)
	c := sampleCompletion("evt-reopen")
	inserted, _, err := first.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	before := appliedMigrations(t, first)
	require.Len(t, before, len(migrations()))
	require.NoError(t, first.Close())

	second := open(t, url)
	require.Equal(t, before, appliedMigrations(t, second), "no migration may run twice")
	got, err := second.Get(t.Context(), c.EventID)
	require.NoError(t, err)
	require.Equal(t, inserted, got)
}

// appliedMigrations reads schema_migrations as version → applied_at.
func appliedMigrations(t *testing.T, s *Store) map[int]time.Time {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), "SELECT version, applied_at FROM schema_migrations")
	require.NoError(t, err)
	defer func() { require.NoError(t, rows.Close()) }()
	out := make(map[int]time.Time)
	for rows.Next() {
		var v int
		var at time.Time
		require.NoError(t, rows.Scan(&v, timeScanner{&at}))
		out[v] = at
	}
	require.NoError(t, rows.Err())
	return out
}

func testSQLMetacharacters(t *testing.T, url string) {
	s := open(t, url)
	const evil = `'; DROP TABLE completions; --`
	c := sampleCompletion(evil)
	c.EventType = evil + `"`
	c.LearnerEmail = `o'brien@example.com`
	c.FirstName = `Robert'); DROP TABLE students;--`
	c.LastName = `\'; SELECT 1; ?$1`
	c.CourseTitle = evil
	c.Payload = []byte(`{"title":"` + `'; DROP TABLE completions; --` + `"}`)

	rec, created, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, c.EventID, rec.EventID)
	require.Equal(t, c.EventType, rec.EventType)
	require.Equal(t, c.LearnerEmail, rec.LearnerEmail)
	require.Equal(t, c.FirstName, rec.FirstName)
	require.Equal(t, c.LastName, rec.LastName)
	require.Equal(t, c.CourseTitle, rec.CourseTitle)
	require.Equal(t, c.Payload, rec.Payload)

	require.NoError(t, s.RecordOutcome(t.Context(), Outcome{EventID: evil, Status: StatusPartial, FailedStep: evil, Error: evil}))
	got, err := s.Get(t.Context(), evil)
	require.NoError(t, err)
	require.Equal(t, evil, got.FailedStep)
	require.Equal(t, evil, got.Error)

	count, err := s.Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, count, "the table must still be there with its row")
}

func testCount(t *testing.T, url string) {
	s := open(t, url)
	n, err := s.Count(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)

	for _, id := range []string{"a", "b", "c", "a"} {
		_, _, err := s.Insert(t.Context(), sampleCompletion(id), StatusRecorded)
		require.NoError(t, err)
	}
	n, err = s.Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 3, n, "a duplicate id must not add a row")
}

func testRouteKept(t *testing.T, url string) {
	s := open(t, url)
	c := sampleCompletion("route-1")
	c.Route = `{"slack":{"channel":"C0456EFGH","enabled":true}}`
	_, created, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	// A later run decided otherwise (the file changed): the first decision stands.
	c.Route = `{"slack":{"channel":"C0999ZZZZ","enabled":false}}`
	rec, created, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	require.False(t, created)
	require.JSONEq(t, `{"slack":{"channel":"C0456EFGH","enabled":true}}`, rec.Route)
	list, err := s.List(t.Context(), Filter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, rec.Route, list[0].Route)
}

func testReCompletion(t *testing.T, url string) {
	s := open(t, url)
	first := sampleCompletion("first")
	_, _, err := s.Insert(t.Context(), first, StatusRecorded)
	require.NoError(t, err)

	// Another learner, another course and an ignored event never count.
	other := sampleCompletion("other-learner")
	other.LearnerEmail = "someone.else@example.com"
	other.CompletedAt = first.CompletedAt.Add(time.Hour)
	ignored := sampleCompletion("ignored")
	ignored.CompletedAt = first.CompletedAt.Add(2 * time.Hour)
	otherCourse := sampleCompletion("other-course")
	otherCourse.CourseID = "another-course"
	otherCourse.CompletedAt = first.CompletedAt.Add(3 * time.Hour)
	for _, c := range []Completion{other, otherCourse} {
		rec, _, err := s.Insert(t.Context(), c, StatusRecorded)
		require.NoError(t, err)
		require.Empty(t, rec.PreviousEventID, c.EventID)
	}
	_, _, err = s.Insert(t.Context(), ignored, StatusIgnored)
	require.NoError(t, err)

	again := sampleCompletion("again")
	again.CompletedAt = first.CompletedAt.Add(24 * time.Hour)
	rec, created, err := s.Insert(t.Context(), again, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "first", rec.PreviousEventID)

	// A third completion follows the second, and the first has none.
	third := sampleCompletion("third")
	third.CompletedAt = again.CompletedAt.Add(time.Hour)
	rec, _, err = s.Insert(t.Context(), third, StatusRecorded)
	require.NoError(t, err)
	require.Equal(t, "again", rec.PreviousEventID)
	rec, err = s.Get(t.Context(), "first")
	require.NoError(t, err)
	require.Empty(t, rec.PreviousEventID)
	// A duplicate delivery of the second keeps its link.
	rec, created, err = s.Insert(t.Context(), again, StatusRecorded)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "first", rec.PreviousEventID)
}

func testAnnouncement(t *testing.T, url string) {
	s := open(t, url)
	_, _, err := s.Insert(t.Context(), sampleCompletion("announced"), StatusRecorded)
	require.NoError(t, err)
	require.NoError(t, s.RecordOutcome(t.Context(), Outcome{EventID: "announced", Status: StatusCompleted,
		Receipts: workflows.Receipts{"slack": {ID: "1700000000.000100", Where: "C0456EFGH", Via: workflows.AnnouncedDigest}}}))
	// A later outcome that did not touch Slack keeps how it was announced.
	require.NoError(t, s.RecordOutcome(t.Context(), Outcome{EventID: "announced", Status: StatusCompleted,
		Receipts: workflows.Receipts{"email": {ID: "m-1"}}}))
	rec, err := s.Get(t.Context(), "announced")
	require.NoError(t, err)
	require.Equal(t, workflows.AnnouncedDigest, rec.Receipts["slack"].Via)
	require.Equal(t, "1700000000.000100", rec.Receipts["slack"].ID)
}

// testRendererStays: a row keeps the renderer version of its first insert,
// as it keeps its route and code, so a retry by a newer worker cannot move
// a certificate already emailed to another renderer; an insert naming none
// records version 1, what every row from before versions was drawn with.
func testRendererStays(t *testing.T, url string) {
	s := open(t, url)
	c := sampleCompletion("evt-renderer")
	c.Renderer = 2
	rec, created, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 2, rec.Renderer)
	c.Renderer = 3
	rec, created, err = s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, 2, rec.Renderer, "the first insert's version stays")

	old := sampleCompletion("evt-renderer-none")
	rec, _, err = s.Insert(t.Context(), old, StatusRecorded)
	require.NoError(t, err)
	require.Equal(t, 1, rec.Renderer)
	list, err := s.List(t.Context(), Filter{})
	require.NoError(t, err)
	got := map[string]int{}
	for _, r := range list {
		got[r.EventID] = r.Renderer
	}
	require.Equal(t, map[string]int{"evt-renderer": 2, "evt-renderer-none": 1}, got, "listings read it too")
}
