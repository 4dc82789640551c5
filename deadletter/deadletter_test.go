package deadletter

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPutListRemove(t *testing.T) {
	d := Dir(filepath.Join(t.TempDir(), "dead-letter"))
	letters, err := d.List()
	require.NoError(t, err)
	require.Empty(t, letters, "a folder not made yet holds nothing")

	t1 := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	body := []byte("{\"id\": \"e1\",\n  \"title\": \"<b>&\"}")
	path, err := d.Put(Letter{EventID: "e1", ReceivedAt: t1.Add(time.Minute), Error: "refused", Body: body})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(string(d), "e1.json"), path)
	// Two ids that make the same safe file name must not share a letter.
	_, err = d.Put(Letter{EventID: "a.b", ReceivedAt: t1, Body: []byte(`{"id":"a.b"}`)})
	require.NoError(t, err)
	_, err = d.Put(Letter{EventID: "a_b", ReceivedAt: t1.Add(2 * time.Minute), Body: []byte(`{"id":"a_b"}`)})
	require.NoError(t, err)
	// A re-delivery replaces its own letter.
	_, err = d.Put(Letter{EventID: "e1", ReceivedAt: t1.Add(time.Minute), Error: "refused again", Body: body})
	require.NoError(t, err)

	letters, err = d.List()
	require.NoError(t, err)
	require.Len(t, letters, 3)
	require.Equal(t, []string{"a.b", "e1", "a_b"}, []string{letters[0].EventID, letters[1].EventID, letters[2].EventID}, "oldest first")
	require.Equal(t, body, letters[1].Body, "byte for byte")
	require.Equal(t, "refused again", letters[1].Error)

	require.NoError(t, d.Remove(letters[1]))
	letters, err = d.List()
	require.NoError(t, err)
	require.Len(t, letters, 2)
	entries, err := os.ReadDir(string(d))
	require.NoError(t, err)
	require.Len(t, entries, 4, "the body and the metadata of two letters, nothing left over")
}

func TestABodyWithoutMetadataIsStillListed(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "by-hand.json"), []byte(`{"id":"x"}`), 0o600))
	letters, err := Dir(dir).List()
	require.NoError(t, err)
	require.Len(t, letters, 1)
	require.Equal(t, []byte(`{"id":"x"}`), letters[0].Body)
	require.True(t, letters[0].ReceivedAt.IsZero())
}
