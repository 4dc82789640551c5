package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/store"
)

// TestBulkResendListsEveryEvent: a bulk resend pages through all the events
// its filter selects, not only the first page.
func TestBulkResendListsEveryEvent(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 7 {
		// Pairs share an instant, so the paging must break ties.
		_, _, err := st.Insert(context.Background(), store.Completion{EventID: fmt.Sprintf("e%d", i), EventType: "courseCompletion",
			CompletedAt: at.Add(time.Duration(i/2) * time.Minute), ReceivedAt: at, Payload: []byte(`{}`)}, store.StatusPartial)
		require.NoError(t, err)
	}
	recs, err := listAll(context.Background(), st, store.Filter{Status: store.StatusPartial, Limit: 2})
	require.NoError(t, err)
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.EventID)
	}
	require.Equal(t, []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6"}, ids)
}
