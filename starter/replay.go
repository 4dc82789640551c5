package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/webhook"
)

// replayDeadLetters starts the workflow of every event in DEAD_LETTER_DIR,
// through the same start the webhook uses, so a replayed event gets the same
// workflow id, input and duplicate check as a delivery. A letter whose start
// succeeds, or whose event already has a workflow, is removed; one that fails
// again stays for the next try, and the command exits non-zero.
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
	if len(letters) == 0 {
		fmt.Fprintf(stdout, "no dead letters in %s\n", cfg.DeadLetterDir)
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
	for _, l := range letters {
		status, err := srv.Replay(ctx, l)
		if err != nil {
			counts["failed"]++
			fmt.Fprintf(stdout, "%s\tfailed, kept: %v\n", l.Path, err)
			continue
		}
		if err := dir.Remove(l); err != nil {
			return err
		}
		counts[status]++
		fmt.Fprintf(stdout, "%s\t%s\n", l.Path, status)
	}
	fmt.Fprintf(stdout, "%d dead letters: %d accepted, %d ignored, %d duplicate, %d failed\n",
		len(letters), counts["accepted"], counts["ignored"], counts["duplicate"], counts["failed"])
	if counts["failed"] > 0 {
		return fmt.Errorf("%d dead letters could not be started and are still in %s", counts["failed"], cfg.DeadLetterDir)
	}
	return nil
}
