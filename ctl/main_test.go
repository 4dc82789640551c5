package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/event"
)

func TestLearnerHashMatchesTheBinaries(t *testing.T) {
	env := map[string]string{"LEARNER_HASH_KEY": "a-long-deployment-secret"}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"learner-hash", "Bob.Johnson@example.com"}, func(k string) string { return env[k] }, &out, &errOut)
	require.NoError(t, err)
	want := event.Event{User: "bob.johnson@example.com"}.LearnerHash([]byte("a-long-deployment-secret"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, want, lines[0])
	require.Equal(t, `Temporal filter: LearnerHash = "`+want+`"`, lines[1])
	require.Empty(t, errOut.String())
}

func TestBadInputIsAUsageError(t *testing.T) {
	for _, args := range [][]string{nil, {"learner-hash"}, {"learner-hash", "a@b", "c@d"}, {"frobnicate"}} {
		err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
		require.True(t, errors.Is(err, errUsage), "%v: %v", args, err)
	}
}
