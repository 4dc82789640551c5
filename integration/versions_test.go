package integration

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/workflows"
)

// TestASleepingScheduleFinishesOnTheNextCode: a certificate's schedule is
// started by today's worker and is asleep in its timer when that worker
// is replaced by one whose CertificateValidity has a change behind
// workflow.GetVersion, as the next deployment's would. The new worker
// takes the sleeping run over (its history replays on the old branch),
// and the runs it continues into follow the new one; the schedule ends
// with every notice sent.
func TestASleepingScheduleFinishesOnTheNextCode(t *testing.T) {
	t.Parallel()
	queue := "versions-" + uuid.NewString()
	notices := make(chan string, 10)
	// The activities stand in for the worker's: the notices are sent, the
	// expiry is posted at once.
	register := func(w worker.Worker) {
		w.RegisterActivityWithOptions(func(_ context.Context, in workflows.CertificateNoticeInput) (workflows.CertificateNoticeResult, error) {
			notices <- in.Notice
			return workflows.CertificateNoticeResult{Receipt: workflows.Receipt{ID: in.Notice}}, nil
		}, activity.RegisterOptions{Name: workflows.ActivityCertificateNotice})
		w.RegisterActivityWithOptions(func(context.Context, workflows.EnqueueExpiryInput) (workflows.ExpiryPlan, error) {
			return workflows.ExpiryPlan{}, nil
		}, activity.RegisterOptions{Name: workflows.ActivityEnqueueExpiry})
	}
	start := func(identity string, validity any) func() {
		var ws []worker.Worker
		for _, q := range []string{queue, workflows.EmailTaskQueue(queue), workflows.SlackTaskQueue(queue)} {
			w := worker.New(temporal, q, worker.Options{Identity: identity})
			register(w)
			if q == queue {
				w.RegisterWorkflowWithOptions(validity, workflow.RegisterOptions{Name: workflows.ValidityWorkflowType})
			}
			require.NoError(t, w.Start())
			ws = append(ws, w)
		}
		return func() {
			for _, w := range ws {
				w.Stop()
			}
		}
	}

	stopPrevious := start("previous", workflows.CertificateValidity)
	expires := time.Now().Add(12 * time.Second).UTC()
	in := workflows.CertificateValidityInput{EventID: "versions-" + uuid.NewString(), ExpiresAt: expires,
		Reminders: []workflows.DueReminder{{Before: "6s", At: expires.Add(-6 * time.Second)}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ValidityWorkflowID(in.EventID), TaskQueue: queue},
		workflows.ValidityWorkflowType, in)
	require.NoError(t, err)
	// The previous worker has it asleep in its timer before it goes.
	require.Eventually(t, func() bool {
		// Eventually polls from a goroutine of its own: no require here.
		iter := temporal.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				return false
			}
			if e.GetEventType() == enums.EVENT_TYPE_TIMER_STARTED {
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
	stopPrevious()

	const change = "next-deployment"
	next := func(ctx workflow.Context, in workflows.CertificateValidityInput) (workflows.CertificateValidityResult, error) {
		if workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) == 1 {
			workflow.GetLogger(ctx).Info("the next deployment's branch")
		}
		return workflows.CertificateValidity(ctx, in)
	}
	defer start("next", next)()

	var res workflows.CertificateValidityResult
	require.NoError(t, temporal.GetWorkflow(ctx, run.GetID(), "").Get(ctx, &res))
	require.Equal(t, workflows.CertificateValidityResult{Ended: "expired", Outcomes: map[string]string{"reminder-6s": "sent", "expiry": "sent"}}, res)
	require.Equal(t, "reminder-6s", <-notices)
	require.Equal(t, "expiry", <-notices)
	require.Empty(t, notices, "each notice once")

	// The first run began on the previous worker and was finished by the
	// next, on the old branch: no marker in its history.
	first := historyOf(t, ctx, run.GetID(), run.GetRunID(), enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
	require.Equal(t, "previous", first[0].GetWorkflowTaskCompletedEventAttributes().GetIdentity())
	require.Equal(t, "next", first[len(first)-1].GetWorkflowTaskCompletedEventAttributes().GetIdentity())
	require.Empty(t, historyOf(t, ctx, run.GetID(), run.GetRunID(), enums.EVENT_TYPE_MARKER_RECORDED))
	// The last run, the next worker's from its start, took the new branch.
	require.NotEmpty(t, historyOf(t, ctx, run.GetID(), "", enums.EVENT_TYPE_MARKER_RECORDED))
}

// historyOf returns the events of one type in a run's history ("" for the
// latest run).
func historyOf(t *testing.T, ctx context.Context, workflowID, runID string, typ enums.EventType) []*historypb.HistoryEvent {
	t.Helper()
	iter := temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		if e.GetEventType() == typ {
			out = append(out, e)
		}
	}
	return out
}
