package activities

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// signals records the answers signalled, as the Temporal client would
// deliver them; a workflow id in gone has ended.
type signals struct {
	mu   sync.Mutex
	got  map[string][]workflows.Announcement
	gone map[string]bool
}

func (s *signals) SignalWithStartWorkflow(context.Context, string, string, any, client.StartWorkflowOptions, any, ...any) (client.WorkflowRun, error) {
	panic("not used here")
}

func (s *signals) SignalWorkflow(_ context.Context, workflowID, _, signal string, arg any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if signal != workflows.AnnouncementSignal {
		return fmt.Errorf("unexpected signal %s", signal)
	}
	if s.gone[workflowID] {
		return serviceerror.NewNotFound("workflow execution already completed")
	}
	s.got[workflowID] = append(s.got[workflowID], arg.(workflows.Announcement))
	return nil
}

// TestAnswerDigestAnswersEveryEntryOnce: on a real store, a window of
// 2,500 entries (more than one page) is answered, each entry once with its
// own event id, an ended workflow counted as gone; an entry that comes
// again afterwards is answered again by GatherDigestEntries, and a look-up
// names it without storing anything.
func TestAnswerDigestAnswersEveryEntryOnce(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "coursehook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	sig := &signals{got: map[string][]workflows.Announcement{}, gone: map[string]bool{"wf-e17": true}}
	a := &Activities{Store: st, Digests: sig}
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)

	const n = 2500
	in := workflows.GatherInput{DigestID: "digest-1", WindowID: "w1"}
	for i := range n {
		in.Entries = append(in.Entries, workflows.GatheredEntry{EventID: fmt.Sprint("e", i), WorkflowID: fmt.Sprint("wf-e", i)})
	}
	v, err := env.ExecuteActivity(workflows.ActivityGatherDigestEntries, in)
	require.NoError(t, err)
	var gathered workflows.GatherResult
	require.NoError(t, v.Get(&gathered))
	require.Len(t, gathered.Fresh, n)

	ann := workflows.Announcement{Kind: workflows.AnnounceDigest, Channel: "C0456EFGH", TS: "1700.1", WindowID: "w1"}
	v, err = env.ExecuteActivity(workflows.ActivityAnswerDigest, workflows.AnswerDigestInput{DigestID: "digest-1", WindowID: "w1", Announcement: ann})
	require.NoError(t, err)
	var res workflows.AnswerDigestResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, workflows.AnswerDigestResult{Answered: n - 1, Gone: 1}, res)
	require.Len(t, sig.got, n-1)
	for wf, got := range sig.got {
		require.Len(t, got, 1, wf)
		require.Equal(t, "wf-"+got[0].EventID, wf)
		require.Equal(t, "1700.1", got[0].TS)
	}

	again := workflows.GatherInput{DigestID: "digest-1", Entries: []workflows.GatheredEntry{
		{EventID: "e5", WorkflowID: "wf-e5"}, {EventID: "new", WorkflowID: "wf-new"},
		{EventID: "e17", WorkflowID: "wf-e17"}, // ended: nobody to tell, and no failure
	}}
	v, err = env.ExecuteActivity(workflows.ActivityGatherDigestEntries, again)
	require.NoError(t, err)
	var looked workflows.GatherResult
	require.NoError(t, v.Get(&looked))
	require.Equal(t, workflows.GatherResult{Late: 2}, looked, "a look-up stores nothing")
	require.Len(t, sig.got["wf-e5"], 2, "answered again")
	require.Equal(t, "e5", sig.got["wf-e5"][1].EventID)
	require.Empty(t, sig.got["wf-new"])
}

// TestAnswerDigestKeepsTheReceipts: before it answers, AnswerDigest keeps
// the digest's receipt with each gathered row; where the row's email went
// already, that completes it, and the answer says so. A row still waiting
// for its email keeps the receipt and stays open.
func TestAnswerDigestKeepsTheReceipts(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "coursehook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	sig := &signals{got: map[string][]workflows.Announcement{}}
	a := &Activities{Store: st, Digests: sig}
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	ctx := t.Context()
	for _, id := range []string{"emailed", "waiting"} {
		_, _, err := st.Insert(ctx, store.Completion{EventID: id, EventType: "courseCompletion", CourseID: "c1",
			LearnerEmail: id + "@example.org", CompletedAt: time.Now(), ReceivedAt: time.Now(), Payload: []byte("{}")}, store.StatusRecorded)
		require.NoError(t, err)
	}
	_, err = st.KeepReceipt(ctx, "emailed", workflows.StepNameEmail, workflows.Receipt{ID: "sg-1"}, []string{workflows.StepNameSlack, workflows.StepNameEmail})
	require.NoError(t, err)

	in := workflows.GatherInput{DigestID: "digest-1", WindowID: "w1", Entries: []workflows.GatheredEntry{
		{EventID: "emailed", WorkflowID: "wf-emailed"}, {EventID: "waiting", WorkflowID: "wf-waiting"}, {EventID: "no-row", WorkflowID: "wf-no-row"},
	}}
	_, err = env.ExecuteActivity(workflows.ActivityGatherDigestEntries, in)
	require.NoError(t, err)
	ann := workflows.Announcement{Kind: workflows.AnnounceDigest, Channel: "C0456EFGH", TS: "1700.1", WindowID: "w1"}
	_, err = env.ExecuteActivity(workflows.ActivityAnswerDigest, workflows.AnswerDigestInput{DigestID: "digest-1", WindowID: "w1", Announcement: ann})
	require.NoError(t, err)

	require.True(t, sig.got["wf-emailed"][0].Completed, "the digest's receipt completed the row")
	require.False(t, sig.got["wf-waiting"][0].Completed)
	require.False(t, sig.got["wf-no-row"][0].Completed, "no row: answered all the same")
	want := workflows.Receipt{ID: "1700.1", Where: "C0456EFGH", Via: workflows.AnnouncedDigest}
	for id, status := range map[string]store.Status{"emailed": store.StatusCompleted, "waiting": store.StatusRecorded} {
		rec, err := st.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, status, rec.Status, id)
		require.Equal(t, want, rec.Receipts[workflows.StepNameSlack], id)
	}
}
