package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// resendArgs are resend's flags.
type resendArgs struct {
	eventID, what, reason, requestID, by string
	// to is a corrected address for the email.
	to            string
	status, since string
	dryRun        bool
	// currentRouting sends by the worker's routing now, not the route
	// recorded with the event.
	currentRouting bool
}

// resend sends notices again, for one event or for every event a filter
// selects, each as a Resend workflow of its own.
func resend(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("resend", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var r resendArgs
	fs.StringVar(&r.eventID, "event", "", "the event id")
	fs.StringVar(&r.what, "what", "", "a channel (slack, email, webhook…), several with commas, or all")
	fs.StringVar(&r.reason, "reason", "", "why, for the audit")
	fs.StringVar(&r.requestID, "request-id", "", "the request's id; the same id never sends twice")
	fs.StringVar(&r.to, "to", "", "with --what email: send the certificate to this corrected address (later resends use it too)")
	fs.StringVar(&r.by, "by", "", "who asks (default: the OS user)")
	fs.StringVar(&r.status, "status", "", "with --since: resend every event of this status")
	fs.StringVar(&r.since, "since", "", "with --status: a duration back from now (24h, 7d, 2w) or an RFC 3339 time")
	fs.BoolVar(&r.dryRun, "dry-run", false, "list what would be resent, send nothing")
	fs.BoolVar(&r.currentRouting, "current-routing", false, "send by the worker's COURSES_FILE now, not the route recorded with the event")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: resend: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: resend takes flags only, got %q", errUsage, fs.Arg(0))
	}
	if r.what != "" {
		if err := workflows.CheckWhat(r.what); err != nil {
			return fmt.Errorf("%w: --what: %v", errUsage, err)
		}
	}
	bulk := r.status != "" || r.since != ""
	if r.to != "" {
		if err := checkAddress(r.to); err != nil {
			return err
		}
		switch {
		case bulk:
			return fmt.Errorf("%w: --to is one learner's corrected address: give it with --event", errUsage)
		case r.what != workflows.ResendEmail:
			return fmt.Errorf("%w: --to changes where the certificate email goes: use it with --what email", errUsage)
		}
	}
	switch {
	case bulk && r.eventID != "":
		return fmt.Errorf("%w: give either --event, or --status with --since", errUsage)
	case bulk && r.requestID != "":
		return fmt.Errorf("%w: --request-id names one resend; with --status each event gets its own", errUsage)
	case !bulk && r.eventID == "":
		return fmt.Errorf("%w: resend needs --event ID, or --status and --since", errUsage)
	case !bulk && r.what == "":
		return fmt.Errorf("%w: --what is required: a channel (slack, email, webhook…), several with commas, or all", errUsage)
	case !bulk && r.dryRun:
		return fmt.Errorf("%w: --dry-run goes with --status and --since", errUsage)
	}
	var filter store.Filter
	if bulk {
		if r.status == "" || r.since == "" {
			return fmt.Errorf("%w: --status and --since go together", errUsage)
		}
		filter.Status = store.Status(r.status)
		if !filter.Status.Valid() || filter.Status == store.StatusIgnored {
			return fmt.Errorf("%w: --status %q must be recorded, completed or partial", errUsage, r.status)
		}
		var err error
		if filter.ReceivedSince, err = parseSince(r.since, now); err != nil {
			return err
		}
		filter.Limit = store.DefaultListLimit * 10
	}
	if r.by == "" {
		r.by = osUser()
	}

	cfg, st, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()

	var recs []store.Record
	if bulk {
		if recs, err = listAll(ctx, st, filter); err != nil {
			return err
		}
	} else {
		rec, err := st.Get(ctx, r.eventID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no event %q in the database (coursehookctl find lists them)", errUsage, r.eventID)
		}
		if err != nil {
			return err
		}
		if rec.Status == store.StatusIgnored {
			return fmt.Errorf("%w: event %q is a %q event, which coursehook ignores: it has no certificate or notice to resend", errUsage, r.eventID, rec.EventType)
		}
		recs = []store.Record{rec}
	}
	if r.dryRun {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EVENT ID\tSTATUS\tFAILED\tWOULD RESEND")
		for _, rec := range recs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(rec.EventID), rec.Status, rec.FailedStep, whatFor(r.what, rec))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%d events would be resent (dry run: nothing was sent)\n", len(recs))
		return nil
	}
	if len(recs) == 0 {
		fmt.Fprintln(stdout, "no events match; nothing to resend")
		return nil
	}

	c, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()

	counts := map[string]int{}
	var failures int
	for i, rec := range recs {
		what := whatFor(r.what, rec)
		requestID := r.requestID
		if requestID == "" {
			requestID = workflows.DefaultResendRequestID(rec.EventID, what, now)
		}
		line, outcome, err := resendOne(ctx, c, st, cfg, rec, what, requestID, r, now)
		var refused *temporal.ApplicationError
		if err != nil && !bulk && errors.As(err, &refused) && refused.Type() == workflows.ErrResendRefused {
			// The worker refused the request itself (a channel it does not
			// have): bad input, said as such.
			return fmt.Errorf("%w: %s", errUsage, refused.Message())
		}
		if err != nil {
			failures++
			line = "failed: " + err.Error()
			outcome = "failed"
		}
		counts[outcome]++
		if bulk {
			fmt.Fprintf(stdout, "[%d/%d] %s %s\n", i+1, len(recs), oneLine(rec.EventID), line)
		} else {
			fmt.Fprintln(stdout, line)
		}
	}
	if bulk {
		fmt.Fprintf(stdout, "%d events: %d now completed, %d still partial, %d already resent, %d failed\n",
			len(recs), counts[string(workflows.StatusCompleted)], counts[string(workflows.StatusPartial)], counts["already"], counts["failed"])
	}
	if failures > 0 {
		return fmt.Errorf("%d resends failed", failures)
	}
	return nil
}

// resendOne runs one resend to its end and says what came of it.
func resendOne(ctx context.Context, c client.Client, st *store.Store, cfg config.Config, rec store.Record, what, requestID string, r resendArgs, now time.Time) (line, outcome string, err error) {
	// The audit outlives Temporal's history: a request already recorded is
	// never run again, even after its workflow is gone.
	if prev, err := st.GetResend(ctx, requestID); err == nil {
		return fmt.Sprintf("already resent by request %s on %s (%s: %s); nothing sent. Pass a new --request-id to send again.",
			requestID, prev.RequestedAt.Format(time.RFC3339), prev.Status, prev.Result), "already", nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", "", err
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       workflows.ResendWorkflowID(requestID),
		TaskQueue:                                cfg.TaskQueue,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:                            "Resend " + what + " of " + workflows.WorkflowID(rec.EventID),
	}, workflows.Resend, workflows.ResendInput{
		ResendRecord: workflows.ResendRecord{
			RequestID: requestID, EventID: rec.EventID, What: what, Reason: r.reason,
			RequestedBy: r.by, RequestedAt: now.UTC(), To: r.to,
		},
		LearnerHash:    event.LearnerHash(cfg.LearnerHashKey, rec.LearnerEmail),
		CurrentRouting: r.currentRouting,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return fmt.Sprintf("already requested as %s; nothing sent. Pass a new --request-id to send again.", workflows.ResendWorkflowID(requestID)), "already", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("start resend: %w", err)
	}
	var res workflows.ResendResult
	if err := run.Get(ctx, &res); err != nil {
		return "", "", fmt.Errorf("resend %s: %w", run.GetID(), err)
	}
	line = fmt.Sprintf("resent %s (request %s): event now %s", strings.Join(res.Sent, ", "), requestID, res.Status)
	if len(res.Failed) > 0 {
		line += fmt.Sprintf("; %s failed: %s", strings.Join(res.Failed, ", "), res.Error)
	}
	for _, name := range res.Sent {
		if r, ok := res.Receipts[name]; ok {
			line += "; " + name + " " + oneLine(r.ID)
		}
	}
	if len(res.Withheld) > 0 {
		line += "; not sent: " + strings.Join(res.Withheld, ", ") + " (a revoked certificate, or off for this course)"
	}
	return line, string(res.Status), nil
}

// listAll pages through every event f selects, a page of f.Limit at a
// time: a bulk resend takes them all, however many.
func listAll(ctx context.Context, st *store.Store, f store.Filter) ([]store.Record, error) {
	var all []store.Record
	for {
		page, err := st.List(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < f.Limit {
			return all, nil
		}
		after := store.CursorOf(page[len(page)-1])
		f.After = &after
	}
}

// whatFor is what to resend for rec: what was asked, or, in bulk without
// --what, the event's failed steps.
func whatFor(what string, rec store.Record) string {
	if what != "" {
		return what
	}
	if workflows.CheckWhat(rec.FailedStep) == nil {
		return rec.FailedStep
	}
	return workflows.ResendAll
}

// checkAddress holds a corrected address to the rule the webhook holds the
// learner's to: one plain address, nothing else.
func checkAddress(addr string) error {
	if err := event.CheckEmail(addr); err != nil {
		return fmt.Errorf("%w: --to: %v", errUsage, err)
	}
	return nil
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
