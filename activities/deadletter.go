package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// DeadLetterStore is the part of the database that keeps dead letters.
type DeadLetterStore interface {
	PutDeadLetter(ctx context.Context, l store.DeadLetter) error
}

// keptInDatabase is DeadLetterResult.Where for a letter in the database.
const keptInDatabase = "database"

// KeepDeadLetter keeps the body of an event whose workflow fails after it
// was accepted, byte for byte, where the failure was not: in DEAD_LETTER_DIR
// when the database refused the event, in the database otherwise; and in
// the other place when the first cannot take it.
func (a *Activities) KeepDeadLetter(ctx context.Context, in workflows.DeadLetterInput) (workflows.DeadLetterResult, error) {
	toDir := func() (string, error) {
		if a.DeadLetters == "" {
			return "", errors.New("no DEAD_LETTER_DIR")
		}
		return a.DeadLetters.Put(deadletter.Letter{EventID: in.EventID, ReceivedAt: in.ReceivedAt, Error: in.Error, Body: in.Payload})
	}
	toDB := func() (string, error) {
		ds, ok := a.Store.(DeadLetterStore)
		if !ok {
			return "", errors.New("this worker's store keeps no dead letters")
		}
		return keptInDatabase, ds.PutDeadLetter(ctx, store.DeadLetter{EventID: in.EventID, ReceivedAt: in.ReceivedAt, Error: in.Error, Payload: in.Payload})
	}
	first, second := toDB, toDir
	if in.DatabaseFailed {
		first, second = toDir, toDB
	}
	where, err := first()
	if err != nil {
		var err2 error
		if where, err2 = second(); err2 != nil {
			return workflows.DeadLetterResult{}, fmt.Errorf("keep dead letter %s: %w", in.EventID, errors.Join(err, err2))
		}
	}
	activity.GetLogger(ctx).Warn("dead letter kept", "eventId", in.EventID, "where", where)
	return workflows.DeadLetterResult{Where: where}, nil
}
