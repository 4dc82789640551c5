package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// importCourses spreads the backfill over several courses, as a real one
// is.
var importCourses = []string{
	"c0a1b2c3-0000-4000-8000-000000000001", "c0a1b2c3-0000-4000-8000-000000000002",
	"c0a1b2c3-0000-4000-8000-000000000003", "c0a1b2c3-0000-4000-8000-000000000004",
}

// importEvent is the sample as learner n, with a fresh event id.
func importEvent(t *testing.T, n int) (id string, body []byte) {
	t.Helper()
	id, body = learner(t, importCourses[n%len(importCourses)], n)
	return id, body
}

// importFile writes lines as a JSON Lines file.
func importFile(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backfill.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return path
}

// waitForResults waits for each event's workflow to close, within one
// deadline, and returns the results.
func waitForResults(t *testing.T, s *stack, ids []string, within time.Duration) map[string]workflows.CourseCompletionResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	results := map[string]workflows.CourseCompletionResult{}
	for _, id := range ids {
		var r workflows.CourseCompletionResult
		require.NoError(t, s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &r), id)
		results[id] = r
	}
	return results
}

// TestImportBackfillsOnce imports 500 lines: 430 new events (10 of them of
// a type coursehook ignores), 50 the webhook had already taken, and 20
// invalid lines. Then it imports the same file again. Each event is worked
// on once: one row each, and the 50 delivered ones their one Slack notice
// and one email. The import is --record-only, the history-before-go-live
// case, which also keeps the test's load (480 workflows beside the other
// integration tests) to the database steps: TestImportRecordOnly and the
// webhook's own tests cover the notices.
func TestImportBackfillsOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 500, EmailsPerSecond: 500})

	invalid := []string{
		`{"id":"%s","event":"courseCompletion"`, // cut short
		`{"id":"%s","event":"courseCompletion","user":"not-an-address","notifiableId":"c","title":"T"}`,
		`{"id":"%s","event":"courseCompletion","user":"a@example.org","notifiableId":"c"}`,
		`{"id":"%s","event":"courseCompletion","user":"a@example.org","notifiableId":"c","title":"T","timestamp":"last week"}`,
		`["%s"]`,
	}
	var lines, completions, ignored, delivered []string
	var invalidLines []int
	for n := range 500 {
		switch {
		case n%25 == 7: // 20 invalid lines
			lines = append(lines, fmt.Sprintf(invalid[len(invalidLines)%len(invalid)], uuid.NewString()))
			invalidLines = append(invalidLines, n+1)
		case n%50 == 3: // 10 ignored events
			id := uuid.NewString()
			lines = append(lines, `{"id":"`+id+`","event":"courseStarted","user":"learner@example.org"}`)
			ignored = append(ignored, id)
		default:
			id, body := importEvent(t, n)
			lines = append(lines, string(body))
			completions = append(completions, id)
			if len(delivered) < 50 && n%9 == 0 {
				// The platform delivered this one before giving up on the rest.
				require.Equal(t, http.StatusAccepted, s.post(t, body).Status)
				delivered = append(delivered, id)
			}
		}
	}
	require.Len(t, invalidLines, 20)
	require.Len(t, ignored, 10)
	require.Len(t, delivered, 50)
	require.Len(t, completions, 470)
	path := importFile(t, lines)

	start := time.Now()
	out, code := s.coursehookctl(t, "import", "--record-only", "--rate", "0", path)
	t.Logf("the first import took %s", time.Since(start))
	require.Equal(t, 1, code, "invalid lines make the exit status non-zero: %s", out)
	require.Contains(t, out, "500 lines: 430 accepted (10 of them ignored event types), 50 duplicate, 20 invalid, 0 failed\n", out)
	for _, n := range invalidLines {
		require.Contains(t, out, fmt.Sprintf("\n  line %d: ", n))
	}
	require.NotContains(t, out, "not-an-address", "the problems name fields, never values")

	// Again, without waiting for the first run's workflows: a running
	// workflow is a duplicate as much as a finished one.
	out, code = s.coursehookctl(t, "import", "--record-only", "--rate", "0", path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "500 lines: 0 accepted (0 of them ignored event types), 480 duplicate, 20 invalid, 0 failed\n", out)

	// 480 workflows beside the rest of the suite on two cores: they are
	// done about 21 s after the first import starts when the test runs
	// alone, and were not in 90 s in one loaded CI run. The deadline only
	// bounds a hang.
	results := waitForResults(t, s, append(append([]string{}, completions...), ignored...), 4*time.Minute)
	t.Logf("its workflows were done %s after it started", time.Since(start))
	for _, id := range completions {
		require.Equal(t, workflows.StatusCompleted, results[id].Status, id)
	}
	for _, id := range ignored {
		require.Equal(t, workflows.StatusIgnored, results[id].Status, id)
	}

	// One row an event, no more.
	ctx := context.Background()
	for status, want := range map[store.Status]int{store.StatusCompleted: 470, store.StatusIgnored: 10, store.StatusRecorded: 0, store.StatusPartial: 0} {
		n, err := s.Store.CountStatus(ctx, status)
		require.NoError(t, err)
		require.Equal(t, want, n, status)
	}
	// One Slack notice and one email for each event the webhook took, and
	// none for the imported history: this stack has no routing, so no
	// digest stands for several.
	slack, email := s.Slack.MessagesPerEvent(), s.SendGrid.MessagesPerEvent()
	require.Len(t, slack, len(delivered))
	require.Len(t, email, len(delivered))
	for _, id := range delivered {
		require.Equal(t, 1, slack[id], "Slack notices of %s", id)
		require.Equal(t, 1, email[id], "emails of %s", id)
	}
}

// TestImportRecordOnly: history from before go-live is recorded, with
// verification codes, and nobody is notified.
func TestImportRecordOnly(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{SlackPerSecond: 50, Routing: true, Verification: true})
	var ids, lines []string
	for n := range 3 {
		id, body := importEvent(t, n)
		ids, lines = append(ids, id), append(lines, string(body))
	}
	out, code := s.coursehookctl(t, "import", "--record-only", "--rate", "0", importFile(t, lines))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "3 lines: 3 accepted (0 of them ignored event types), 0 duplicate, 0 invalid, 0 failed\n")

	results := waitForResults(t, s, ids, time.Minute)
	for _, id := range ids {
		require.Equal(t, workflows.CourseCompletionResult{Status: workflows.StatusCompleted}, results[id], id)
		rec, err := s.Store.Get(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, store.StatusCompleted, rec.Status)
		require.NotEmpty(t, rec.VerificationCode, "an old certificate can be looked up")
		require.Empty(t, rec.Receipts)

		v, err := s.Temporal.QueryWorkflow(context.Background(), workflows.WorkflowID(id), "", workflows.ProgressQuery)
		require.NoError(t, err)
		var p workflows.Progress
		require.NoError(t, v.Get(&p))
		raw, err := json.Marshal(p.Channels)
		require.NoError(t, err)
		require.Contains(t, string(raw), "imported with --record-only", "progress says why nothing was sent")
	}
	require.Empty(t, s.Slack.Messages())
	require.Empty(t, s.SendGrid.Messages())
}
