package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/pgtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// TestScaleOutTwoWorkersTwoWebhookServers runs a scaled-out deployment as
// separate processes: two workers and two webhook servers against one
// Temporal server and one PostgreSQL database, with the cohort digest on.
// Every event of a cohort is posted to both webhook servers at once, as a
// platform re-delivery landing on the other server would be. Each must be
// started once and processed once: one row, one Slack message of its own or
// a place in one digest, and one email; and both workers must have done
// some of the work.
func TestScaleOutTwoWorkersTwoWebhookServers(t *testing.T) {
	t.Parallel()
	const events = 40
	dbURL := pgtest.URL(t)
	s := newStack(t, stackOptions{NoWorker: true})
	s.Slack.SetRateLimit(3)
	dir := t.TempDir()

	shared := []string{
		"LEARNER_HASH_KEY=integration-learner-hash-key",
		"TEMPORAL_CONFIG_FILE=" + filepath.Join(dir, "none.toml"),
	}
	workerEnv := s.workerEnv(dbURL, slices.Concat(shared, []string{"SLACK_DIGEST_WINDOW=5s"})...)
	startWorkerProcess(t, workerEnv, "worker-1.log")
	startWorkerProcess(t, workerEnv, "worker-2.log")
	var urls []string
	for i := range 2 {
		env := append(slices.Concat(os.Environ(), shared),
			"TEMPORAL_ADDRESS="+frontend, "TEMPORAL_TASK_QUEUE="+s.TaskQueue,
			"HTTP_ADDR=127.0.0.1:0", "ADMIN_ADDR=127.0.0.1:0", "ALLOWED_SOURCE_IPS=127.0.0.1",
			"DEAD_LETTER_DIR="+filepath.Join(dir, fmt.Sprintf("dead-letter-%d", i+1)))
		urls = append(urls, startStarterProcess(t, env))
	}

	// One course, so past the digest's threshold the cohort is digested.
	ids, bodies := samples(t, events)
	type answer struct {
		status int
		body   map[string]any
		err    error
	}
	answers := make([][2]answer, events)
	var wg sync.WaitGroup
	for i := range events {
		for j, u := range urls {
			wg.Go(func() {
				var a answer
				a.status, a.body, a.err = postStatus(u, bodies[i])
				answers[i][j] = a
			})
		}
	}
	wg.Wait()
	for i, id := range ids {
		accepted := 0
		for j, a := range answers[i] {
			require.NoError(t, a.err)
			switch a.body["status"] {
			case "accepted":
				require.Equal(t, http.StatusAccepted, a.status, "event %s at webhook server %d", id, j+1)
				accepted++
			case "duplicate":
				require.Equal(t, http.StatusOK, a.status, "event %s at webhook server %d", id, j+1)
			default:
				t.Fatalf("event %s at webhook server %d: %d %v", id, j+1, a.status, a.body)
			}
		}
		require.Equal(t, 1, accepted, "event %s was started once, by one of the two servers", id)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	identities := map[string]bool{}
	for _, id := range ids {
		var r workflows.CourseCompletionResult
		require.NoError(t, s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &r), id)
		require.Equal(t, workflows.StatusCompleted, r.Status, id)
		for _, who := range taskIdentities(t, id) {
			identities[who] = true
		}
	}
	require.GreaterOrEqual(t, len(identities), 2, "both worker processes took work: %v", identities)

	st, err := store.Open(ctx, dbURL)
	require.NoError(t, err)
	defer st.Close()
	n, err := st.Count(ctx)
	require.NoError(t, err)
	require.Equal(t, events, n, "one row per event")

	digests := map[string]slacktest.Posted{}
	for _, m := range s.Slack.Messages() {
		if meta, ok := m.Meta(); ok && meta.EventType == slacktest.DigestEventType {
			digests[m.TS] = m
		}
	}
	perDigest := map[string]int{}
	for _, id := range ids {
		rec, err := st.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, store.StatusCompleted, rec.Status, id)
		require.Len(t, s.SendGrid.MessagesFor(id), 1, "one email for %s", id)
		switch rec.Receipts[workflows.StepNameSlack].Via {
		case workflows.AnnouncedMessage:
			require.Len(t, s.Slack.MessagesFor(id), 1, "one Slack message for %s", id)
		case workflows.AnnouncedDigest:
			require.Empty(t, s.Slack.MessagesFor(id), "%s was digested, not posted", id)
			require.Contains(t, digests, rec.Receipts[workflows.StepNameSlack].ID, "%s's row names its digest", id)
			perDigest[rec.Receipts[workflows.StepNameSlack].ID]++
		default:
			t.Fatalf("event %s: announcement %q", id, rec.Receipts[workflows.StepNameSlack].Via)
		}
	}
	require.NotEmpty(t, perDigest, "the cohort was digested")
	for ts, count := range perDigest {
		require.Contains(t, digests[ts].Text, fmt.Sprint(count), "the digest counts each learner once")
	}
	require.Zero(t, s.Slack.RateLimited(), "no 429 from Slack")
}

// taskIdentities are the identities of the workers that took the event's
// workflow and activity tasks: the process id and host by default, so two
// worker processes differ.
func taskIdentities(t *testing.T, eventID string) []string {
	t.Helper()
	var out []string
	for _, e := range rawHistory(t, eventID) {
		if a := e.GetWorkflowTaskStartedEventAttributes(); a != nil {
			out = append(out, a.GetIdentity())
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
			out = append(out, a.GetIdentity())
		}
	}
	return out
}
