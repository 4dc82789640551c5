// Command coursehookctl is the operators' command line. It reads the same
// environment as the binaries.
//
//	coursehookctl find [flags]         list events from the database
//	coursehookctl resend [flags]       send an event's notices again
//	coursehookctl revoke [flags]       revoke an event's certificate
//	coursehookctl unrevoke [flags]     make a revoked certificate valid again
//	coursehookctl import [flags] FILE  start the workflows of events the
//	                                   platform gave up on (a backfill)
//	coursehookctl learner-hash EMAIL   the LearnerHash of an email address,
//	                                   to find the learner's events in the
//	                                   Temporal UI and in the logs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/store"
)

const usage = `usage: coursehookctl <command> [arguments]

commands:
  find [--course ID|NAME] [--company ID] [--email EMAIL] [--status recorded|completed|partial|ignored]
       [--since 24h|TIME] [--expires-before 30d|TIME | --expired] [--limit N] [--json]
                       list events from the database, in completion order, and print the
                       Temporal filter that finds the same workflows in the UI; with
                       --expires-before or --expired, the certificates due to renew (not the
                       renewed or revoked ones), in expiry order
  resend --event ID --what email|slack|all [--reason TEXT] [--request-id ID] [--by NAME]
         [--current-routing]
                       send an event's notices again, as a workflow of its own; the same request id
                       (by default: the event, --what and today's UTC date) never sends twice; by the
                       route recorded with the event, or with --current-routing by COURSES_FILE now
  resend --status partial --since 24h [--what W] [--dry-run] [--reason TEXT]
                       the same for every matching event (without --what: its failed steps)
  revoke --event ID --reason issued_in_error|superseded|learner_request|misconduct|other
         [--note TEXT] [--by NAME]
                       revoke the event's certificate: its public page says revoked, with the
                       reason's label (never the note), and resends leave the certificate out;
                       revoking a revoked certificate changes nothing. Prints the audit
  unrevoke --event ID [--note TEXT] [--by NAME]
                       lift the revocation: the certificate is valid again (a certificate that
                       expires does not get back the reminders its revocation ended)
  import [--format jsonl|csv] [--record-only] [--dry-run] [--rate N] [--from-line N] FILE|-
                       start the workflow of every event in FILE (JSON Lines of the webhook's
                       bodies, or a CSV; - is standard input), through the webhook's validation
                       and duplicate check: what already has a workflow is a duplicate, so a re-run
                       is safe. --record-only records the completions and sends no notice (history
                       from before go-live); --dry-run validates and counts; --rate caps starts per
                       second (20; 0 for no limit); --from-line resumes. Exits 0 only when every
                       line was accepted or a duplicate
  learner-hash EMAIL   print the LearnerHash of EMAIL (keyed by LEARNER_HASH_KEY) and the
                       Temporal filter that lists the learner's events`

// errUsage marks bad input: the process exits 2, as for a flag error.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "coursehookctl:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "coursehookctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command\n%s", errUsage, usage)
	}
	switch args[0] {
	case "find":
		return find(ctx, args[1:], getenv, stdout, stderr, time.Now())
	case "resend":
		return resend(ctx, args[1:], getenv, stdout, time.Now())
	case "revoke", "unrevoke":
		return revoke(ctx, args[1:], getenv, stdout, time.Now(), args[0] == "unrevoke")
	case "import":
		return importEvents(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "learner-hash":
		return learnerHash(args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
}

func learnerHash(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("learner-hash", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return fmt.Errorf("%w: learner-hash takes one email address", errUsage)
	}
	cfg, err := config.Load(getenv, config.Ctl)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if cfg.LearnerHashKeyDefault {
		fmt.Fprintln(stderr, "coursehookctl: LEARNER_HASH_KEY is unset; this is the hash under the development key, as the binaries use when it is unset")
	}
	h := event.LearnerHash(cfg.LearnerHashKey, fs.Arg(0))
	fmt.Fprintln(stdout, h)
	fmt.Fprintf(stdout, "Temporal filter: LearnerHash = %q\n", h)
	return nil
}

// openStore reads the configuration and opens the database the binaries use.
func openStore(ctx context.Context, getenv func(string) string) (config.Config, *store.Store, error) {
	cfg, err := config.Load(getenv, config.Ctl)
	if err != nil {
		return config.Config{}, nil, fmt.Errorf("configuration: %w", err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, st, nil
}

// dialTemporal connects to Temporal as the binaries do, within 30 s. The
// SDK's own log lines are left out of the command's output.
func dialTemporal(ctx context.Context, cfg config.Config) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return app.DialTemporal(ctx, cfg, discardLog())
}

func discardLog() *slog.Logger {
	return app.NewLogger(io.Discard, "error")
}
