package store

import (
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coursehook/coursehook/workflows"
	"github.com/stretchr/testify/require"
)

// Canonical codes (verify.Normalize leaves them as they are).
const (
	codeA = "7KQ2M-X4D9R-0ZPV3-TNW8H"
	codeB = "1ABCD-EFGHJ-KMNPQ-RSTVW"
	codeC = "00000-11111-22222-33333"
)

// certified inserts a course completion whose certificate email went out,
// with code, and returns the row.
func certified(t *testing.T, s *Store, id, code string) Record {
	t.Helper()
	c := sampleCompletion(id)
	c.VerificationCode = code
	_, _, err := s.Insert(t.Context(), c, StatusRecorded)
	require.NoError(t, err)
	require.NoError(t, s.RecordOutcome(t.Context(), Outcome{EventID: id, Status: StatusCompleted,
		Receipts: workflows.Receipts{"email": {ID: "m-" + id, SHA256: "sha-" + id}}}))
	rec, err := s.Get(t.Context(), id)
	require.NoError(t, err)
	return rec
}

func testVerificationCode(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()

	// Insert stores the first code and keeps it on a duplicate.
	c := sampleCompletion("coded")
	c.VerificationCode = codeA
	rec, _, err := s.Insert(ctx, c, StatusRecorded)
	require.NoError(t, err)
	require.Equal(t, codeA, rec.VerificationCode)
	c.VerificationCode = codeB
	rec, created, err := s.Insert(ctx, c, StatusRecorded)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, codeA, rec.VerificationCode, "a certificate keeps its first code")
	list, err := s.List(ctx, Filter{})
	require.NoError(t, err)
	require.Equal(t, codeA, list[0].VerificationCode)

	// Rows without a code do not collide with each other.
	for _, id := range []string{"plain-1", "plain-2"} {
		rec, _, err := s.Insert(ctx, sampleCompletion(id), StatusRecorded)
		require.NoError(t, err)
		require.Empty(t, rec.VerificationCode)
	}
	got, err := s.SetVerificationCode(ctx, "plain-1", codeB)
	require.NoError(t, err)
	require.Equal(t, codeB, got)
	got, err = s.SetVerificationCode(ctx, "plain-1", codeB)
	require.NoError(t, err, "setting the same code again is a no-op")
	require.Equal(t, codeB, got)
	got, err = s.SetVerificationCode(ctx, "plain-1", codeC)
	require.NoError(t, err)
	require.Equal(t, codeB, got, "a different code keeps the first")
	rec, err = s.Get(ctx, "plain-1")
	require.NoError(t, err)
	require.Equal(t, codeB, rec.VerificationCode)
	got, err = s.SetVerificationCode(ctx, "coded", codeC)
	require.NoError(t, err)
	require.Equal(t, codeA, got, "a code given at insert stays too")

	// Another event's code is refused by the database, for good.
	_, err = s.SetVerificationCode(ctx, "plain-2", codeA)
	require.Error(t, err)
	require.True(t, IsPermanent(err), "%v", err)
	dup := sampleCompletion("dup-code")
	dup.VerificationCode = codeB
	_, _, err = s.Insert(ctx, dup, StatusRecorded)
	require.Error(t, err)
	require.True(t, IsPermanent(err), "%v", err)
	rec, err = s.Get(ctx, "plain-2")
	require.NoError(t, err)
	require.Empty(t, rec.VerificationCode)

	_, err = s.SetVerificationCode(ctx, "nobody", codeC)
	require.ErrorIs(t, err, ErrNotFound)

	for _, bad := range []string{"", "7kq2m-x4d9r-0zpv3-tnw8h", "7KQ2MX4D9R0ZPV3TNW8H", "7KQ2M-X4D9R-0ZPV3-TNW8U"} {
		_, err = s.SetVerificationCode(ctx, "plain-2", bad)
		require.ErrorIs(t, err, ErrInvalid, "%q", bad)
		bc := sampleCompletion("bad-code")
		bc.VerificationCode = bad
		if bad != "" {
			_, _, err = s.Insert(ctx, bc, StatusRecorded)
			require.ErrorIs(t, err, ErrInvalid, "%q", bad)
		}
	}
	_, err = s.SetVerificationCode(ctx, "", codeC)
	require.ErrorIs(t, err, ErrInvalid)
	n, err := s.Count(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
}

func testCertificateByCode(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	want := certified(t, s, "done", codeA)

	// Partial: the email went out, Slack failed.
	p := sampleCompletion("slack-failed")
	p.VerificationCode = codeB
	_, _, err := s.Insert(ctx, p, StatusRecorded)
	require.NoError(t, err)
	require.NoError(t, s.RecordOutcome(ctx, Outcome{EventID: "slack-failed", Status: StatusPartial,
		Receipts: workflows.Receipts{"email": {ID: "m", SHA256: "sha"}}, FailedStep: "slack", Error: "boom"}))

	got, err := s.CertificateByCode(ctx, codeA)
	require.NoError(t, err)
	require.Equal(t, want, got)
	got, err = s.CertificateByCode(ctx, codeB)
	require.NoError(t, err)
	require.Equal(t, "slack-failed", got.EventID)

	// Rows that are not certificates: still at work, email failed, ignored.
	cases := []struct {
		id      string
		status  Status
		outcome *Outcome
	}{
		{"at-work", StatusRecorded, nil},
		{"email-failed", StatusRecorded, &Outcome{Status: StatusPartial, Receipts: workflows.Receipts{"slack": {ID: "1.2"}}, FailedStep: "email", Error: "bounced"}},
		{"ignored", StatusIgnored, nil},
	}
	codes := []string{"22222-22222-22222-22222", "33333-33333-33333-33333", "44444-44444-44444-44444"}
	for i, c := range cases {
		comp := sampleCompletion(c.id)
		comp.VerificationCode = codes[i]
		_, _, err := s.Insert(ctx, comp, c.status)
		require.NoError(t, err)
		if c.outcome != nil {
			o := *c.outcome
			o.EventID = c.id
			require.NoError(t, s.RecordOutcome(ctx, o))
		}
		_, err = s.CertificateByCode(ctx, codes[i])
		require.ErrorIs(t, err, ErrNotFound, c.id)
	}

	// The row without a code must not answer to the empty one, and
	// another spelling of a code is not the code.
	_, _, err = s.Insert(ctx, sampleCompletion("no-code"), StatusRecorded)
	require.NoError(t, err)
	require.NoError(t, s.RecordOutcome(ctx, Outcome{EventID: "no-code", Status: StatusCompleted, Receipts: workflows.Receipts{"email": {ID: "m", SHA256: "sha"}}}))
	for _, code := range []string{"", strings.ToLower(codeA), strings.ReplaceAll(codeA, "-", ""), codeC, "' OR '1'='1"} {
		_, err := s.CertificateByCode(ctx, code)
		require.ErrorIs(t, err, ErrNotFound, "%q", code)
		require.NotContains(t, err.Error(), strings.ToLower(codeA), "errors do not quote the code")
	}
}

func testRevokeAndUnrevoke(t *testing.T, url string) {
	s := open(t, url)
	clk := newClock(s)
	ctx := t.Context()
	certified(t, s, "cert", codeA)
	certified(t, s, "other", codeB)

	revokedAt := time.Date(2026, 6, 1, 8, 0, 0, 987654321, time.UTC)
	clk.Advance(time.Minute)
	rec, changed, err := s.Revoke(ctx, "cert", "issued_in_error", "wrong learner; ticket 'OPS-7'", "alice", revokedAt)
	require.NoError(t, err)
	require.True(t, changed)
	require.True(t, rec.Revoked())
	require.Equal(t, dbTime(revokedAt), rec.RevokedAt)
	require.Equal(t, "issued_in_error", rec.RevocationReason)
	require.Equal(t, dbTime(clk.Now()), rec.UpdatedAt)
	got, err := s.Get(ctx, "cert")
	require.NoError(t, err)
	require.Equal(t, rec, got)
	other, err := s.Get(ctx, "other")
	require.NoError(t, err)
	require.False(t, other.Revoked(), "only the one event is revoked")

	// Revoking again, for another reason, changes nothing and writes no audit.
	clk.Advance(time.Minute)
	again, changed, err := s.Revoke(ctx, "cert", "misconduct", "again", "bob", revokedAt.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, rec, again, "the first revocation stands")

	// A certificate that stands is not unrevoked.
	_, changed, err = s.Unrevoke(ctx, "other", "", "alice", time.Time{})
	require.NoError(t, err)
	require.False(t, changed)

	unrevokedAt := revokedAt.Add(24 * time.Hour)
	rec, changed, err = s.Unrevoke(ctx, "cert", "revoked by mistake", "carol", unrevokedAt)
	require.NoError(t, err)
	require.True(t, changed)
	require.False(t, rec.Revoked())
	require.Empty(t, rec.RevocationReason)
	_, changed, err = s.Unrevoke(ctx, "cert", "", "carol", unrevokedAt)
	require.NoError(t, err)
	require.False(t, changed)

	// Revoked again later; a zero time means now.
	clk.Advance(time.Hour)
	rec, changed, err = s.Revoke(ctx, "cert", "other", "", "", time.Time{})
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, dbTime(clk.Now()), rec.RevokedAt)

	audit, err := s.Revocations(ctx, "cert")
	require.NoError(t, err)
	require.Len(t, audit, 3)
	for i, want := range []Revocation{
		{EventID: "cert", Action: ActionRevoke, Reason: "issued_in_error", Note: "wrong learner; ticket 'OPS-7'", RequestedBy: "alice", RequestedAt: dbTime(revokedAt)},
		{EventID: "cert", Action: ActionUnrevoke, Note: "revoked by mistake", RequestedBy: "carol", RequestedAt: dbTime(unrevokedAt)},
		{EventID: "cert", Action: ActionRevoke, Reason: "other", RequestedAt: dbTime(clk.Now())},
	} {
		require.NotZero(t, audit[i].ID)
		if i > 0 {
			require.Greater(t, audit[i].ID, audit[i-1].ID, "ids follow the order of the changes")
		}
		want.ID = audit[i].ID
		require.Equal(t, want, audit[i])
	}
	none, err := s.Revocations(ctx, "other")
	require.NoError(t, err)
	require.Empty(t, none)

	// The revocation is what List returns too.
	list, err := s.List(ctx, Filter{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	for _, r := range list {
		require.Equal(t, r.EventID == "cert", r.Revoked(), r.EventID)
	}
}

func testRevokeRefusals(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	certified(t, s, "cert", codeA)
	_, _, err := s.Insert(ctx, sampleCompletion("at-work"), StatusRecorded)
	require.NoError(t, err)
	ignored := sampleCompletion("ignored")
	ignored.EventType = "userCreated"
	_, _, err = s.Insert(ctx, ignored, StatusIgnored)
	require.NoError(t, err)

	cases := []struct {
		name, id string
		reason   string
		want     error
		says     string
	}{
		{"unknown event", "nobody", "other", ErrNotFound, "nobody"},
		{"empty event id", "", "other", ErrInvalid, "event id is empty"},
		{"no reason", "cert", "", ErrInvalid, "no revocation reason"},
		{"not emailed yet", "at-work", "other", ErrInvalid, "no certificate email went out for it (status recorded)"},
		{"ignored event", "ignored", "other", ErrInvalid, `"userCreated" event`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, changed, err := s.Revoke(ctx, c.id, c.reason, "note", "ops", time.Time{})
			require.ErrorIs(t, err, c.want)
			require.ErrorContains(t, err, c.says)
			require.False(t, changed)
			require.True(t, IsPermanent(err))
			if c.reason != "other" {
				return
			}
			_, changed, err = s.Unrevoke(ctx, c.id, "note", "ops", time.Time{})
			require.ErrorIs(t, err, c.want)
			require.False(t, changed)
		})
	}
	for _, id := range []string{"cert", "at-work", "ignored", "nobody"} {
		audit, err := s.Revocations(ctx, id)
		require.NoError(t, err)
		require.Empty(t, audit, id)
		if rec, err := s.Get(ctx, id); err == nil {
			require.False(t, rec.Revoked(), id)
		}
	}
}

func testConcurrentRevoke(t *testing.T, url string) {
	s := open(t, url)
	certified(t, s, "cert", codeA)
	const n = 10
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		changed = make(chan bool, n)
		errs    = make(chan error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			reasons := []string{"issued_in_error", "superseded", "other"}
			_, ok, err := s.Revoke(t.Context(), "cert", reasons[i%len(reasons)], "", "", time.Time{})
			changed <- ok
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(changed)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	wins := 0
	for ok := range changed {
		if ok {
			wins++
		}
	}
	require.Equal(t, 1, wins, "exactly one revoke must change the certificate")
	audit, err := s.Revocations(t.Context(), "cert")
	require.NoError(t, err)
	require.Len(t, audit, 1)
	rec, err := s.Get(t.Context(), "cert")
	require.NoError(t, err)
	require.Equal(t, audit[0].Reason, rec.RevocationReason, "the row and the audit tell the same revocation")
}

// testMigrationKeepsOlderRows upgrades a database that has rows from
// schema version 4: they get no code, stand unrevoked, and do not collide
// on the unique code index.
// migratedTo opens the database at url with the schema at version n, as
// a worker of that time left it; the caller closes it.
func migratedTo(t *testing.T, url string, n int) (*sql.DB, dialect) {
	t.Helper()
	d, driver, dsn := sqlite, "sqlite", ""
	if strings.HasPrefix(url, "postgres") {
		d, driver, dsn = postgres, "pgx", url
	} else {
		dsn, _ = sqliteDSN(url)
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	old := &Store{db: db, dialect: d}
	for _, m := range migrations()[:n] {
		require.NoError(t, old.apply(t.Context(), m))
	}
	return db, d
}

func testMigrationKeepsOlderRows(t *testing.T, url string) {
	db, d := migratedTo(t, url, 4)
	at := d.timeArg(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for _, id := range []string{"v4-a", "v4-b"} {
		_, err := db.ExecContext(t.Context(), d.rebind(`INSERT INTO completions
			(event_id, status, completed_at, received_at, payload, recorded_at, updated_at, certificate_sha256)
			VALUES (?, 'completed', ?, ?, ?, ?, ?, 'sha')`), id, at, at, d.payloadArg([]byte(`{}`)), at, at)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s := open(t, url)
	for _, id := range []string{"v4-a", "v4-b"} {
		rec, err := s.Get(t.Context(), id)
		require.NoError(t, err)
		require.Empty(t, rec.VerificationCode)
		require.False(t, rec.Revoked())
		require.Empty(t, rec.RevocationReason)
		require.Equal(t, 1, rec.Renderer, "every certificate before renderer versions was drawn by version 1")
	}
	code, err := s.SetVerificationCode(t.Context(), "v4-a", codeA)
	require.NoError(t, err)
	require.Equal(t, codeA, code)
	_, changed, err := s.Revoke(t.Context(), "v4-b", "learner_request", "", "", time.Time{})
	require.NoError(t, err)
	require.True(t, changed)
}

// testMigrationMovesReceipts: the receipts a version-5 database keeps in
// the completions' slack_* and email_* columns, and a resend's in its own,
// move to the receipts table, where a channel of any name now goes.
func testMigrationMovesReceipts(t *testing.T, url string) {
	db, d := migratedTo(t, url, 5)
	at := d.timeArg(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rows := []struct{ id, slackChannel, slackTS, announcement, messageID, sha string }{
		{"v5-both", "C0456EFGH", "1700.1", "digest", "sg-1", "abc"},
		{"v5-slack-only", "C1", "1700.2", "message", "", ""},
		{"v5-none", "", "", "", "", ""},
	}
	for _, r := range rows {
		_, err := db.ExecContext(t.Context(), d.rebind(`INSERT INTO completions
			(event_id, status, completed_at, received_at, payload, recorded_at, updated_at,
			slack_channel, slack_ts, announcement, email_message_id, certificate_sha256)
			VALUES (?, 'completed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.id, at, at, d.payloadArg([]byte(`{}`)), at, at, r.slackChannel, r.slackTS, r.announcement, r.messageID, r.sha)
		require.NoError(t, err)
	}
	_, err := db.ExecContext(t.Context(), d.rebind(`INSERT INTO resends
		(request_id, event_id, what, requested_at, status, slack_ts, email_message_id) VALUES ('r-old', 'v5-both', 'all', ?, 'done', '1800.1', 'sg-2')`), at)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s := open(t, url)
	// The legacy columns are no longer needed: blank them, and the
	// receipts are still there.
	_, err = s.db.ExecContext(t.Context(), `UPDATE completions SET slack_channel = '', slack_ts = '', announcement = '',
		email_message_id = '', certificate_sha256 = ''`)
	require.NoError(t, err)
	var moved int
	require.NoError(t, s.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM receipts").Scan(&moved))
	require.Equal(t, 3, moved)
	got, err := s.Get(t.Context(), "v5-both")
	require.NoError(t, err)
	require.Equal(t, workflows.Receipts{
		"slack": {ID: "1700.1", Where: "C0456EFGH", Via: "digest"},
		"email": {ID: "sg-1", SHA256: "abc"},
	}, got.Receipts)
	require.True(t, got.HasCertificate())
	got, err = s.Get(t.Context(), "v5-slack-only")
	require.NoError(t, err)
	require.Equal(t, workflows.Receipts{"slack": {ID: "1700.2", Where: "C1", Via: "message"}}, got.Receipts)
	require.False(t, got.HasCertificate())
	got, err = s.Get(t.Context(), "v5-none")
	require.NoError(t, err)
	require.Empty(t, got.Receipts)

	resend, err := s.GetResend(t.Context(), "r-old")
	require.NoError(t, err)
	require.Equal(t, workflows.Receipts{"slack": {ID: "1800.1"}, "email": {ID: "sg-2"}}, resend.Receipts)

	// A channel the schema never heard of needs no new column.
	require.NoError(t, s.RecordOutcome(t.Context(), Outcome{EventID: "v5-none", Status: StatusCompleted,
		Receipts: workflows.Receipts{"webhook": {ID: "msg_1", Where: "crm.example.com"}}}))
	list, err := s.List(t.Context(), Filter{})
	require.NoError(t, err)
	require.Len(t, list, 3)
	for _, r := range list {
		if r.EventID == "v5-none" {
			require.Equal(t, workflows.Receipts{"webhook": {ID: "msg_1", Where: "crm.example.com"}}, r.Receipts)
		}
	}
	require.ErrorIs(t, s.RecordOutcome(t.Context(), Outcome{EventID: "v5-none", Status: StatusCompleted,
		Receipts: workflows.Receipts{"webhook": {}}}), ErrInvalid, "a receipt without an id")
}
