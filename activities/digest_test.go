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
	"go.temporal.io/sdk/activity"
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
	// completed are the AwaitDigest activities completed, by workflow id;
	// one in gone is not scheduled yet, or has ended.
	completed map[string]workflows.Announcement
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

func (s *signals) CompleteActivityByID(_ context.Context, namespace, workflowID, runID, activityID string, result any, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if namespace == "" || runID != "" || activityID != workflows.AwaitDigestActivityID || err != nil {
		return fmt.Errorf("unexpected completion of %s/%s/%s/%s (%v)", namespace, workflowID, runID, activityID, err)
	}
	if s.gone[workflowID] {
		return serviceerror.NewNotFound("cannot find pending activity with ActivityID " + activityID)
	}
	s.completed[workflowID] = result.(workflows.Announcement)
	return nil
}

// TestAPlannedWindowIsAwaitedAndAnswered: entries the record step kept in
// a planned window wait in AwaitDigest until AnswerDigest completes them by
// id, with the digest's receipt kept first; an AwaitDigest that was not
// scheduled yet when the answer came finds it kept, and returns it at once.
func TestAPlannedWindowIsAwaitedAndAnswered(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "coursehook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	sig := &signals{completed: map[string]workflows.Announcement{}, gone: map[string]bool{"wf-late": true}}
	a := &Activities{Store: st, Digests: sig}
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	ctx := t.Context()
	var window string
	for _, id := range []string{"early", "late"} {
		_, _, err := st.Insert(ctx, store.Completion{EventID: id, EventType: "courseCompletion", CourseID: "c1",
			LearnerEmail: id + "@example.org", CompletedAt: time.Now(), ReceivedAt: time.Now(), Payload: []byte("{}")}, store.StatusRecorded)
		require.NoError(t, err)
		_, err = st.KeepReceipt(ctx, id, workflows.StepNameEmail, workflows.Receipt{ID: "sg-" + id}, []string{workflows.StepNameSlack, workflows.StepNameEmail})
		require.NoError(t, err)
		p, err := st.PlanNotice(ctx, id, store.NoticeRule{DigestID: "digest-1", Window: time.Minute,
			Keep: &store.DigestEntry{EventID: id, WorkflowID: "wf-" + id, LearnerName: id}})
		require.NoError(t, err)
		require.Equal(t, workflows.NoticeGather, p.Notice)
		window = p.Window
	}

	_, err = a.AwaitDigest(ctx, workflows.AwaitDigestInput{DigestID: "digest-1", WindowID: window, EventID: "early"})
	require.ErrorIs(t, err, activity.ErrResultPending, "no answer yet: the activity stays open")

	v, err := env.ExecuteActivity(workflows.ActivitySealDigestWindow, workflows.SealDigestInput{DigestID: "digest-1", WindowID: window})
	require.NoError(t, err)
	var sum workflows.SealDigestResult
	require.NoError(t, v.Get(&sum))
	require.Equal(t, workflows.SealDigestResult{Count: 2, Names: []string{"early", "late"}}, sum)

	ann := workflows.Announcement{Kind: workflows.AnnounceDigest, Channel: "C0456EFGH", TS: "1700.1", WindowID: window}
	v, err = env.ExecuteActivity(workflows.ActivityAnswerDigest, workflows.AnswerDigestInput{DigestID: "digest-1", WindowID: window,
		Announcement: ann, Awaited: true})
	require.NoError(t, err)
	var res workflows.AnswerDigestResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, workflows.AnswerDigestResult{Answered: 1, Gone: 1}, res)
	require.Empty(t, sig.got, "no signals")
	got := sig.completed["wf-early"]
	require.Equal(t, "early", got.EventID)
	require.Equal(t, "1700.1", got.TS)
	require.True(t, got.Completed, "the digest's receipt completed the row")

	late, err := a.AwaitDigest(ctx, workflows.AwaitDigestInput{DigestID: "digest-1", WindowID: window, EventID: "late"})
	require.NoError(t, err, "scheduled after the answer: it finds it kept")
	require.Equal(t, "late", late.EventID)
	require.Equal(t, "1700.1", late.TS)
	require.True(t, late.Completed)
	rec, err := st.Get(ctx, "late")
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, rec.Status)
}
