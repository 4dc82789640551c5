package app

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(before)
		debug.SetMemoryLimit(limit)
	})

	debug.SetMemoryLimit(1 << 40)
	p, fromEnv, undo := TuneGC(func(string) string { return "" })
	require.Equal(t, WorkerGCPercent, p)
	require.False(t, fromEnv)
	require.Equal(t, WorkerGCPercent, debug.SetGCPercent(WorkerGCPercent), "the runtime has the worker's target")
	require.Equal(t, int64(WorkerMemoryLimit), debug.SetMemoryLimit(-1), "and its soft memory limit")
	undo()
	require.Equal(t, 100, debug.SetGCPercent(100), "undo puts the target back")
	require.Equal(t, int64(1<<40), debug.SetMemoryLimit(-1), "and the memory limit")

	p, fromEnv, _ = TuneGC(func(name string) string {
		if name == "GOGC" {
			return "150"
		}
		return ""
	})
	require.True(t, fromEnv)
	require.Equal(t, 100, p, "GOGC from the environment is left as the runtime read it")
}
