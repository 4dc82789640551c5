package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// withCertificates is seeded's database where e1 and e3 had their
// certificates emailed; e2 is still at work.
func withCertificates(t *testing.T) map[string]string {
	t.Helper()
	env := seeded(t)
	st, err := store.Open(context.Background(), env["DATABASE_URL"])
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.RecordOutcome(context.Background(), store.Outcome{EventID: "e1", Status: store.StatusCompleted, Receipts: workflows.Receipts{"email": {ID: "m-1", SHA256: "sha-1"}}}))
	require.NoError(t, st.RecordOutcome(context.Background(), store.Outcome{EventID: "e3", Status: store.StatusPartial, Receipts: workflows.Receipts{"email": {ID: "m-3", SHA256: "sha-3"}},
		FailedStep: "slack", Error: "slack: invalid_auth"}))
	return env
}

// revokeCtl runs revoke or unrevoke (the first argument) at now.
func revokeCtl(t *testing.T, env map[string]string, now time.Time, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := revoke(context.Background(), args[1:], func(k string) string { return env[k] }, &out, now, args[0] == "unrevoke")
	return out.String(), err
}

func TestRevokeAndUnrevoke(t *testing.T) {
	env := withCertificates(t)
	t1 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	t2, t3 := t1.Add(time.Hour), t1.Add(2*time.Hour)

	out, err := revokeCtl(t, env, t1, "revoke", "--event", "e1", "--reason", "Issued-In-Error",
		"--note", "wrong learner\n\x1b[31mticket\tOPS-7", "--by", "alice")
	require.NoError(t, err)
	lines := strings.Split(out, "\n")
	require.Equal(t, "revoked e1 (issued_in_error) at 2026-11-29T09:00:00Z", lines[0])
	require.Regexp(t, `^  AT \(UTC\)\s+ACTION\s+REASON\s+BY\s+NOTE$`, lines[3])
	require.Regexp(t, `^  2026-11-29T09:00:00Z\s+revoke\s+issued_in_error\s+alice\s+"wrong learner\\n\\x1b\[31mticket\\tOPS-7"$`, lines[4])
	require.NotContains(t, out, "\x1b", "a note cannot reach the terminal as an escape")

	out, err = revokeCtl(t, env, t2, "revoke", "--event", "e1", "--reason", "misconduct", "--by", "bob")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out,
		"e1 already revoked since 2026-11-29T09:00:00Z (issued_in_error); nothing changed\n"+
			"to record misconduct instead, unrevoke it, then revoke it again\n"), out)
	require.Equal(t, 1, strings.Count(out, "  2026-"), "nothing was audited:\n%s", out)

	out, err = revokeCtl(t, env, t3, "unrevoke", "--event", "e1", "--by", "carol")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "unrevoked e1 at 2026-11-29T11:00:00Z: its certificate is valid again\n"), out)
	require.Regexp(t, `\n  2026-11-29T11:00:00Z\s+unrevoke\s+-\s+carol\s+-\n`, out)

	out, err = revokeCtl(t, env, t3, "unrevoke", "--event", "e1")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "e1 is not revoked; nothing changed\n"), out)

	st, err := store.Open(context.Background(), env["DATABASE_URL"])
	require.NoError(t, err)
	defer st.Close()
	audit, err := st.Revocations(context.Background(), "e1")
	require.NoError(t, err)
	require.Len(t, audit, 2)
	require.Equal(t, "wrong learner\n\x1b[31mticket\tOPS-7", audit[0].Note, "stored as typed")
	require.Equal(t, t1, audit[0].RequestedAt)
	rec, err := st.Get(context.Background(), "e1")
	require.NoError(t, err)
	require.False(t, rec.Revoked())
}

func TestRevokeByDefaultsToTheOSUser(t *testing.T) {
	env := withCertificates(t)
	_, err := revokeCtl(t, env, time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC), "revoke", "--event", "e3", "--reason", "superseded")
	require.NoError(t, err)
	st, err := store.Open(context.Background(), env["DATABASE_URL"])
	require.NoError(t, err)
	defer st.Close()
	audit, err := st.Revocations(context.Background(), "e3")
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, osUser(), audit[0].RequestedBy)
	require.Equal(t, string(verify.ReasonSuperseded), audit[0].Reason)
}

func TestRevokeRefusesBadInput(t *testing.T) {
	env := withCertificates(t)
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"no event", []string{"revoke", "--reason", "other"}, "revoke needs --event ID"},
		{"no reason", []string{"revoke", "--event", "e1"}, "--reason is required: one of issued_in_error, superseded, learner_request, misconduct, other"},
		{"unknown reason", []string{"revoke", "--event", "e1", "--reason", "fraud"}, `unknown revocation reason "fraud": use one of issued_in_error, superseded`},
		{"unrevoke takes no reason", []string{"unrevoke", "--event", "e1", "--reason", "other"}, "flag provided but not defined: -reason"},
		{"stray argument", []string{"revoke", "--event", "e1", "--reason", "other", "now"}, `revoke takes flags only, got "now"`},
		{"unknown event", []string{"revoke", "--event", "e9", "--reason", "other"}, `no event "e9" in the database`},
		{"unknown event to unrevoke", []string{"unrevoke", "--event", "e9"}, `no event "e9" in the database`},
		{"no certificate yet", []string{"revoke", "--event", "e2", "--reason", "other"}, "the event has no certificate: no certificate email went out for it (status recorded)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := revokeCtl(t, env, now, c.args...)
			require.True(t, errors.Is(err, errUsage), "%v", err)
			require.ErrorContains(t, err, c.says)
			require.Empty(t, out)
		})
	}
}

func TestUsageListsEveryRevocationReason(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"help"}, func(string) string { return "" }, &out, &bytes.Buffer{}))
	require.Contains(t, out.String(), "--reason "+strings.ReplaceAll(reasonList(), ", ", "|"))
	require.Contains(t, out.String(), "unrevoke --event ID")
}

func TestRevokeIsDispatched(t *testing.T) {
	for _, cmd := range []string{"revoke", "unrevoke"} {
		err := run(context.Background(), []string{cmd}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
		require.True(t, errors.Is(err, errUsage), "%v", err)
		require.ErrorContains(t, err, cmd+" needs --event ID")
	}
}
