package app

import "runtime/debug"

// WorkerGCPercent is the worker's garbage collection target (GOGC) unless
// the environment sets GOGC. Each certificate render allocates about 10 MB
// that is garbage as soon as the PDF is written (the PDF library parses
// and hashes its fonts for every document), and at Go's default of 100 the
// collector took about a third of a render's CPU.
const WorkerGCPercent = 400

// WorkerMemoryLimit is the worker's soft memory limit (GOMEMLIMIT) unless
// the environment sets GOMEMLIMIT. A fourfold target is cheap while the live
// heap is small, but the SDK caches running workflows (10,000 of them unless
// WORKER_WORKFLOW_CACHE_SIZE says otherwise), and during a 5,000-event burst
// the worker peaked at 832 MB with WorkerGCPercent alone; past this limit the
// collector runs as often as it must to stay near it.
const WorkerMemoryLimit = 256 << 20

// TuneGC sets WorkerGCPercent and WorkerMemoryLimit, each unless the
// environment sets its variable. It returns the target in force, whether it
// came from the environment, and undo, which puts back both settings as
// they were (for a process that renders like the worker only for a while).
func TuneGC(getenv func(string) string) (percent int, fromEnv bool, undo func()) {
	oldPercent, oldLimit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(oldPercent)
	undo = func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(WorkerMemoryLimit)
	}
	if getenv("GOGC") != "" {
		// The runtime read GOGC at start and keeps it.
		return oldPercent, true, undo
	}
	debug.SetGCPercent(WorkerGCPercent)
	return WorkerGCPercent, false, undo
}
