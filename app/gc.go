package app

import "runtime/debug"

// WorkerGCPercent is the worker's garbage collection target (GOGC) unless
// the environment sets GOGC. Each certificate render allocates about 10 MB
// that is garbage as soon as the PDF is written (the PDF library parses
// and hashes its fonts for every document), and at Go's default of 100 the
// collector took about a third of a render's CPU. The worker's live heap
// is small, so a fourfold target costs tens of megabytes.
const WorkerGCPercent = 400

// TuneGC sets WorkerGCPercent unless getenv("GOGC") is set, and returns the
// target in force.
func TuneGC(getenv func(string) string) (percent int, fromEnv bool) {
	if getenv("GOGC") != "" {
		// The runtime read GOGC at start; reading it back leaves it as is.
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p, true
	}
	debug.SetGCPercent(WorkerGCPercent)
	return WorkerGCPercent, false
}
