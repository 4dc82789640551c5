// Package deliveries joins SendGrid's Event Webhook (sgevents) to the rest
// of coursehook: a batch is stored in the database the worker writes, then
// applied by a DeliveryEvents workflow started on the worker's task queue.
// The webhook server and the integration tests build the handler here.
package deliveries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/sgevents"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// Options configure the handler.
type Options struct {
	Verifier     *sgevents.Verifier
	MaxBodyBytes int64
	Engagement   bool
	Store        *store.Store
	Temporal     client.Client
	TaskQueue    string
	// NoticeDeadline bounds the retries of the Slack replies.
	NoticeDeadline time.Duration
	// Timeout bounds storing a batch and starting its workflow.
	Timeout time.Duration
	Metrics *sgevents.Metrics
	Log     *slog.Logger
}

// Handler is SendGrid's Event Webhook on o's store and Temporal.
func Handler(o Options) *sgevents.Handler {
	return &sgevents.Handler{
		Verifier:     o.Verifier,
		MaxBodyBytes: o.MaxBodyBytes,
		Engagement:   o.Engagement,
		Save: func(ctx context.Context, evs []sgevents.Event) ([]sgevents.Event, []string, error) {
			return save(ctx, o.Store, evs)
		},
		Start: func(ctx context.Context, ids []string) error {
			return start(ctx, o.Temporal, o.TaskQueue, o.NoticeDeadline, ids)
		},
		Timeout: o.Timeout,
		Metrics: o.Metrics,
		Log:     o.Log,
	}
}

// save stores a batch and gives back its new events.
func save(ctx context.Context, st *store.Store, evs []sgevents.Event) ([]sgevents.Event, []string, error) {
	rows := make([]store.DeliveryEvent, len(evs))
	byID := make(map[string]sgevents.Event, len(evs))
	for i, e := range evs {
		rows[i] = store.DeliveryEvent{
			ID: e.ID, Type: e.Type, State: e.State, EventID: e.EventID, ResendID: e.ResendID,
			MessageKey: sgevents.MessageKey(e.MessageID), At: e.At, Reason: e.Reason,
			Classification: e.Classification, Raw: e.Raw,
		}
		byID[e.ID] = e
	}
	fresh, pending, err := st.SaveDeliveryEvents(ctx, rows)
	if err != nil {
		return nil, nil, err
	}
	out := make([]sgevents.Event, len(fresh))
	for i, f := range fresh {
		out[i] = byID[f.ID]
	}
	return out, pending, nil
}

// start starts the workflow applying ids, or finds the one an earlier
// post of the same batch started.
func start(ctx context.Context, c client.Client, taskQueue string, deadline time.Duration, ids []string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflows.DeliveryEventsWorkflowID(ids),
		TaskQueue: taskQueue,
		// A batch whose workflow failed may run again on SendGrid's retry.
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            fmt.Sprintf("%d SendGrid delivery events", len(ids)),
	}, workflows.DeliveryEvents, workflows.DeliveryEventsInput{IDs: ids, NoticeDeadline: deadline})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		// Closed already, having applied these events: they would not be
		// pending otherwise.
		return nil
	}
	return err
}
