package integration

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/pgtest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// TestAFailedEventIsKeptAndReplayed: after the 202, the database refuses an
// event for good (a trigger here; in life a constraint, or data it will
// never take). Before its workflow fails, the body is kept as a dead
// letter, byte for byte, in DEAD_LETTER_DIR, since it is the database that
// failed. The platform's retry is still answered duplicate, but `starter
// replay-dead-letters` starts the event again over the failed run, once
// the cause is gone, and it completes once.
func TestAFailedEventIsKeptAndReplayed(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50})
	id, body := sample(t, "course-completion.json")
	db, err := sql.Open("sqlite", s.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.Exec(`CREATE TRIGGER refuse_one BEFORE INSERT ON completions WHEN NEW.event_id = '` + id + `'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
	require.NoError(t, err)

	require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, nil)
	require.ErrorContains(t, err, "refused by the test")
	kept, err := os.ReadFile(filepath.Join(s.DeadLetterDir, id+".json"))
	require.NoError(t, err, "the dead letter is in DEAD_LETTER_DIR")
	require.Equal(t, body, kept, "byte for byte")
	require.Equal(t, http.StatusOK, s.post(t, body).Status, "the platform's retry is a duplicate of the failed run")
	recordHistory(t, id, "history-dead-letter.json")

	_, err = db.Exec(`DROP TRIGGER refuse_one`)
	require.NoError(t, err)
	replay := func() string {
		cmd := exec.Command(starterBinary(t), "replay-dead-letters")
		cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+frontend, "TEMPORAL_NAMESPACE=default",
			"TEMPORAL_TASK_QUEUE="+s.TaskQueue, "DEAD_LETTER_DIR="+s.DeadLetterDir, "DATABASE_URL="+s.DatabaseURL)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	require.Contains(t, replay(), "1 dead letters: 1 accepted, 0 ignored, 0 duplicate, 0 failed")
	require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	require.Len(t, s.SendGrid.Messages(), 1)
	require.Len(t, s.Slack.Messages(), 1)
	require.Contains(t, replay(), "no dead letters", "a replayed letter is removed")
	require.Equal(t, http.StatusOK, s.post(t, body).Status)
	require.Len(t, s.SendGrid.Messages(), 1, "nothing is sent twice")
}

// TestRevokedRightsWaitForTheOperator: on PostgreSQL, the store's role
// loses INSERT on completions while events arrive. They wait (retried, not
// failed), the blocked counter the alert watches counts them, and once the
// right is granted again every one completes, with nothing lost or sent
// twice.
func TestRevokedRightsWaitForTheOperator(t *testing.T) {
	t.Parallel()
	admin := pgtest.URL(t)
	// Migrate as the owner, then hand the worker a role of its own, as a
	// production deployment does.
	owner, err := store.Open(context.Background(), admin)
	require.NoError(t, err)
	require.NoError(t, owner.Close())
	adminDB, err := sql.Open("pgx", admin)
	require.NoError(t, err)
	t.Cleanup(func() { _ = adminDB.Close() })
	u, err := url.Parse(admin)
	require.NoError(t, err)
	role := "coursehook_" + strings.TrimPrefix(u.Path, "/coursehook_test_")
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE, CREATE ON SCHEMA public TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role,
	} {
		_, err := adminDB.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	t.Cleanup(func() {
		// Roles belong to the server, not the test's database.
		_, _ = adminDB.Exec("DROP OWNED BY " + role)
		_, _ = adminDB.Exec("DROP ROLE " + role)
	})
	u.User = url.User(role)
	s := newStack(t, stackOptions{SlackPerSecond: 50, DatabaseURL: u.String()})

	_, err = adminDB.Exec("REVOKE INSERT ON completions FROM " + role)
	require.NoError(t, err)
	var ids []string
	for range 5 {
		id, body := sample(t, "course-completion.json")
		require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
		ids = append(ids, id)
	}
	eventually(t, time.Minute, "the blocked counter to count the refused inserts", func() bool {
		return blockedCount(t, s, store.BlockedPermission) >= 5
	})
	for _, id := range ids {
		d, err := s.Temporal.DescribeWorkflow(context.Background(), workflows.WorkflowID(id), "")
		require.NoError(t, err)
		require.Nil(t, d.RawResponse.GetWorkflowExecutionInfo().GetCloseTime(), "%s waits, it does not fail", id)
	}
	require.Contains(t, s.Logs.String(), "the database needs an operator")

	_, err = adminDB.Exec("GRANT INSERT ON completions TO " + role)
	require.NoError(t, err)
	for _, id := range ids {
		require.Equal(t, workflows.StatusCompleted, s.result(t, id).Status)
	}
	require.Len(t, s.SendGrid.Messages(), len(ids))
	require.Len(t, s.Slack.Messages(), len(ids))
}

// blockedCount reads coursehook_database_blocked_total{reason} from the
// worker's registry.
func blockedCount(t *testing.T, s *stack, reason string) float64 {
	t.Helper()
	families, err := s.WorkerMetrics.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "coursehook_database_blocked_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no coursehook_database_blocked_total{reason=%q}", reason)
	return 0
}
