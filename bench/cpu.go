package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times: 100
// on every architecture Go supports.
const clockTicks = 100

// processCPU is the processor time (user and system) pid has used so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses; the fields after
	// the last ")" are fixed: state is the first, utime the 12th, stime the
	// 13th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuMeter measures the processor time a set of processes use between its
// start and read.
type cpuMeter struct {
	pids  []int
	start []time.Duration
}

func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: make([]time.Duration, len(pids))}
	for i, pid := range pids {
		m.start[i], _ = processCPU(pid)
	}
	return m
}

// used is the time the processes used since startCPU, added up; ok is false
// when one of them could not be read (a server the bench did not start has
// pid 0).
func (m *cpuMeter) used() (d time.Duration, ok bool) {
	ok = true
	for i, pid := range m.pids {
		now, err := processCPU(pid)
		if err != nil || pid <= 0 {
			ok = false
			continue
		}
		d += now - m.start[i]
	}
	return d, ok
}

// cpuUse is the processor time a row's processes used, added up per part;
// OK says whether every one could be read.
type cpuUse struct {
	Server, Workers, Webhooks, Bench time.Duration
	OK                               bool
}

// measureCPU starts measuring the dev server, the given worker and webhook
// server processes and this one (the stand-ins, the senders and any
// in-process worker); the returned function reads what they used since.
func (b *bench) measureCPU(workers, webhooks []*process) func() cpuUse {
	server, ws, hs, self := startCPU(b.serverPid), startCPU(pids(workers)...), startCPU(pids(webhooks)...), startCPU(os.Getpid())
	return func() cpuUse {
		var u cpuUse
		var ok [4]bool
		u.Server, ok[0] = server.used()
		u.Workers, ok[1] = ws.used()
		u.Webhooks, ok[2] = hs.used()
		u.Bench, ok[3] = self.used()
		u.OK = ok[0] && ok[1] && ok[2] && ok[3]
		return u
	}
}

func pids(ps []*process) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.Pid()
	}
	return out
}

// cpuLabels name the parts of a cpuUse a row reports, in its order (server,
// workers, webhook servers, this process); an empty name leaves a part out.
type cpuLabels [4]string

// describe is "; processor time <per>: <part> <ms>, ..." for n workflows or
// events, or "" when the times could not be read.
func (u cpuUse) describe(n int, per string, labels cpuLabels) string {
	if !u.OK || n == 0 {
		return ""
	}
	var parts []string
	for i, d := range []time.Duration{u.Server, u.Workers, u.Webhooks, u.Bench} {
		if labels[i] != "" {
			parts = append(parts, labels[i]+" "+perEvent(d, n))
		}
	}
	return "; processor time " + per + ": " + strings.Join(parts, ", ")
}

// devServerPid finds the dev server the bench started by the frontend port
// on its command line, or 0.
func devServerPid(hostPort string) int {
	_, port, ok := strings.Cut(hostPort, ":")
	if !ok {
		return 0
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if !slices.Contains(args, "start-dev") {
			continue
		}
		for i, a := range args {
			if (a == "--port" || a == "-p") && i+1 < len(args) && args[i+1] == port || a == "--port="+port {
				pid, _ := strconv.Atoi(filepath.Base(d))
				return pid
			}
		}
	}
	return 0
}

// perEvent is d divided among n events, in milliseconds.
func perEvent(d time.Duration, n int) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(n)/float64(time.Millisecond))
}
