package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
)

// revocationArgs are the flags of revoke and unrevoke.
type revocationArgs struct {
	eventID, reason, note, by string
}

// revoke revokes an event's certificate (unrevoke false) or lifts its
// revocation (unrevoke true), then prints what happened and the event's
// revocation audit.
func revoke(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, now time.Time, unrevoke bool) error {
	name := "revoke"
	if unrevoke {
		name = "unrevoke"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var r revocationArgs
	fs.StringVar(&r.eventID, "event", "", "the event id")
	if !unrevoke {
		fs.StringVar(&r.reason, "reason", "", "the category: "+reasonList())
	}
	fs.StringVar(&r.note, "note", "", "the operator's words, for the audit; never shown publicly")
	fs.StringVar(&r.by, "by", "", "who asks (default: the OS user)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, name, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s takes flags only, got %q", errUsage, name, fs.Arg(0))
	}
	if r.eventID == "" {
		return fmt.Errorf("%w: %s needs --event ID", errUsage, name)
	}
	var reason verify.Reason
	if !unrevoke {
		if r.reason == "" {
			return fmt.Errorf("%w: --reason is required: one of %s", errUsage, reasonList())
		}
		var err error
		if reason, err = verify.ParseReason(r.reason); err != nil {
			return fmt.Errorf("%w: --reason: %v", errUsage, err)
		}
	}
	if r.by == "" {
		r.by = osUser()
	}

	_, st, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()

	var rec store.Record
	var changed bool
	if unrevoke {
		rec, changed, err = st.Unrevoke(ctx, r.eventID, r.note, r.by, now)
	} else {
		rec, changed, err = st.Revoke(ctx, r.eventID, string(reason), r.note, r.by, now)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: no event %q in the database (coursehookctl find lists them)", errUsage, r.eventID)
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%w: %w", errUsage, err)
	case err != nil:
		return err
	}

	id := event.Clean(rec.EventID)
	switch {
	case changed && unrevoke:
		fmt.Fprintf(stdout, "unrevoked %s at %s: its certificate is valid again\n", id, stamp(now))
	case changed:
		fmt.Fprintf(stdout, "revoked %s (%s) at %s\n", id, rec.RevocationReason, stamp(rec.RevokedAt))
	case unrevoke:
		fmt.Fprintf(stdout, "%s is not revoked; nothing changed\n", id)
	default:
		fmt.Fprintf(stdout, "%s already revoked since %s (%s); nothing changed\n", id, stamp(rec.RevokedAt), rec.RevocationReason)
		if rec.RevocationReason != string(reason) {
			fmt.Fprintf(stdout, "to record %s instead, unrevoke it, then revoke it again\n", reason)
		}
	}

	audit, err := st.Revocations(ctx, rec.EventID)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\naudit:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  AT (UTC)\tACTION\tREASON\tBY\tNOTE")
	for _, a := range audit {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", stamp(a.RequestedAt), a.Action, orDash(string(a.Reason)),
			orDash(event.Clean(a.RequestedBy)), quoted(a.Note))
	}
	return tw.Flush()
}

// reasonList is the revocation categories, for usage messages.
func reasonList() string {
	reasons := verify.Reasons()
	names := make([]string, len(reasons))
	for i, r := range reasons {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// stamp is how the command prints a time: UTC, to the second.
func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// quoted prints an operator's note on one line, escaped, so whatever was
// typed (tabs, newlines, terminal escapes) can neither break the table nor
// reach the terminal as a control sequence.
func quoted(s string) string {
	if s == "" {
		return "-"
	}
	return strconv.Quote(s)
}
