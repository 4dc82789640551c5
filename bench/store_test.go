package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoreRow runs the store row small: both databases load, every query
// finds rows in each (timeQuery fails a query that finds nothing), and
// the report names each query with its figures.
func TestStoreRow(t *testing.T) {
	b := &bench{opts: defaultOptions(), log: io.Discard, work: t.TempDir()}
	b.opts.StoreRows, b.opts.StoreSamples = 5000, 20
	res, err := b.storeRow(t.Context())
	require.NoError(t, err)
	require.Len(t, res, 2)
	for _, r := range res {
		if r.Skipped != "" {
			t.Logf("%s not measured: %s", r.Database, r.Skipped)
			continue
		}
		for _, q := range storeQueries {
			require.Len(t, r.Times[q], 20, "%s: %s", r.Database, q)
		}
	}
	rows := (&report{Store: res}).storeRows()
	require.Len(t, rows, 2)
	require.Contains(t, rows[0].what, "5,000 completions")
	require.Contains(t, rows[0].measured, "find --email p50")
}
