package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/webhook"
)

// replayDeadLetters starts the workflow of every dead letter, through the
// same start the webhook uses, so a replayed event gets the same workflow
// id, input and duplicate check as a delivery. The letters are those in
// DEAD_LETTER_DIR (a start Temporal refused, or an event the database
// refused for good) and those the worker kept in the database (an event
// whose workflow failed otherwise). A failed workflow of the event's id
// does not stand in the way (ALLOW_DUPLICATE_FAILED_ONLY); one that
// completed does, and the letter is answered duplicate. A letter whose
// start succeeds, or whose event already completed, is removed; one that
// fails again stays for the next try, and the command exits non-zero.
func replayDeadLetters(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv, config.Starter)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := app.NewLogger(stderr, cfg.LogLevel)
	dir := deadletter.Dir(cfg.DeadLetterDir)
	letters, err := dir.List()
	if err != nil {
		return err
	}
	// The database's letters, where DATABASE_URL names it: a webhook
	// server that has no database still replays its folder. The webhook
	// server's own settings do not read it unless a feature needs it.
	var kept []store.DeadLetter
	var st *store.Store
	if dbURL := getenv("DATABASE_URL"); dbURL != "" {
		if st, err = store.Open(ctx, dbURL); err != nil {
			return fmt.Errorf("database of the worker's dead letters: %w", err)
		}
		defer st.Close()
		if kept, err = st.DeadLetters(ctx); err != nil {
			return err
		}
	}
	if len(letters)+len(kept) == 0 {
		fmt.Fprintf(stdout, "no dead letters in %s or the database\n", cfg.DeadLetterDir)
		return nil
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := app.DialTemporal(dialCtx, cfg, log)
	if err != nil {
		return err
	}
	defer c.Close()
	srv := webhook.New(c, log, webhookOptions(cfg, log))

	counts := map[string]int{}
	replay := func(name string, body []byte, receivedAt time.Time, remove func() error) error {
		status, err := srv.Import(ctx, body, receivedAt, webhook.ImportOptions{AfterFailure: true})
		if err != nil {
			counts["failed"]++
			fmt.Fprintf(stdout, "%s\tfailed, kept: %v\n", name, err)
			return nil
		}
		if err := remove(); err != nil {
			return err
		}
		counts[status]++
		fmt.Fprintf(stdout, "%s\t%s\n", name, status)
		return nil
	}
	for _, l := range letters {
		if err := replay(l.Path, l.Body, l.ReceivedAt, func() error { return dir.Remove(l) }); err != nil {
			return err
		}
	}
	for _, l := range kept {
		if err := replay("database:"+l.EventID, l.Payload, l.ReceivedAt, func() error { return st.RemoveDeadLetter(ctx, l.EventID) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d dead letters: %d accepted, %d ignored, %d duplicate, %d failed\n",
		len(letters)+len(kept), counts[webhook.StatusAccepted], counts[webhook.StatusIgnored], counts[webhook.StatusDuplicate], counts["failed"])
	if counts["failed"] > 0 {
		return fmt.Errorf("%d dead letters could not be started and are still kept", counts["failed"])
	}
	return nil
}
