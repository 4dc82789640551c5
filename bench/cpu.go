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

// procTimes is a process's processor time from /proc/<pid>/stat: its own
// (user and system), and that of its children it has waited for.
type procTimes struct {
	PPid          int
	Own, Children time.Duration
}

func readProcTimes(pid int) (procTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procTimes{}, err
	}
	// The command name may hold spaces and parentheses; the fields after
	// the last ")" are fixed: state is the first, ppid the second, utime
	// and stime the 12th and 13th, cutime and cstime the 14th and 15th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var n [5]int64
	for j, k := range []int{1, 11, 12, 13, 14} {
		if n[j], err = strconv.ParseInt(f[k], 10, 64); err != nil {
			return procTimes{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	tick := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return procTimes{PPid: int(n[0]), Own: tick(n[1] + n[2]), Children: tick(n[3] + n[4])}, nil
}

// processCPU is the processor time (user and system) pid has used so far.
func processCPU(pid int) (time.Duration, error) {
	t, err := readProcTimes(pid)
	return t.Own, err
}

// treeCPU is the processor time of pid and of the processes it started,
// those still running and those it has waited for: a PostgreSQL server
// serves each connection from a process of its own, which may end between
// two readings and is then counted in its parent's children's time.
func treeCPU(pid int) (time.Duration, error) {
	root, err := readProcTimes(pid)
	if err != nil {
		return 0, err
	}
	total := root.Own + root.Children
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, err := strconv.Atoi(filepath.Base(d))
		if err != nil || child == pid {
			continue
		}
		if t, err := readProcTimes(child); err == nil && t.PPid == pid {
			total += t.Own + t.Children
		}
	}
	return total, nil
}

// cpuMeter measures the processor time a set of processes use between its
// start and read.
type cpuMeter struct {
	pids  []int
	read  func(int) (time.Duration, error)
	start []time.Duration
}

func startCPU(pids ...int) *cpuMeter { return startMeter(processCPU, pids...) }

func startMeter(read func(int) (time.Duration, error), pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, read: read, start: make([]time.Duration, len(pids))}
	for i, pid := range pids {
		m.start[i], _ = read(pid)
	}
	return m
}

// used is the time the processes used since startCPU, added up; ok is false
// when one of them could not be read (a server the bench did not start has
// pid 0).
func (m *cpuMeter) used() (d time.Duration, ok bool) {
	ok = true
	for i, pid := range m.pids {
		now, err := m.read(pid)
		if err != nil || pid <= 0 {
			ok = false
			continue
		}
		d += now - m.start[i]
	}
	return d, ok
}

// serverPart is one process of the Temporal server whose processor time the
// workflow rows measure: the dev server, or on the cluster each service and
// PostgreSQL.
type serverPart struct {
	Name string
	Pid  int
	// Tree adds the processes it started (PostgreSQL's connections).
	Tree bool
}

// partTime is the time one server part used.
type partTime struct {
	Name string
	Used time.Duration
}

// cpuUse is the processor time a row's processes used, added up per part;
// OK says whether every one could be read. Server is the sum of
// ServerParts.
type cpuUse struct {
	Server, Workers, Webhooks, Bench time.Duration
	ServerParts                      []partTime
	OK                               bool
}

// measureCPU starts measuring the Temporal server's parts, the given worker
// and webhook server processes and this one (the stand-ins and the
// senders); the returned function reads what they used since.
func (b *bench) measureCPU(workers, webhooks []*process) func() cpuUse {
	parts := make([]*cpuMeter, len(b.serverParts))
	for i, p := range b.serverParts {
		read := processCPU
		if p.Tree {
			read = treeCPU
		}
		parts[i] = startMeter(read, p.Pid)
	}
	ws, hs, self := startCPU(pids(workers)...), startCPU(pids(webhooks)...), startCPU(os.Getpid())
	return func() cpuUse {
		u := cpuUse{OK: len(parts) > 0}
		for i, m := range parts {
			d, ok := m.used()
			u.Server += d
			u.ServerParts = append(u.ServerParts, partTime{Name: b.serverParts[i].Name, Used: d})
			u.OK = u.OK && ok
		}
		var ok [3]bool
		u.Workers, ok[0] = ws.used()
		u.Webhooks, ok[1] = hs.used()
		u.Bench, ok[2] = self.used()
		u.OK = u.OK && ok[0] && ok[1] && ok[2]
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
// events, or "" when the times could not be read. A server of several
// processes is broken down after its total.
func (u cpuUse) describe(n int, per string, labels cpuLabels) string {
	if !u.OK || n == 0 {
		return ""
	}
	var parts []string
	for i, d := range []time.Duration{u.Server, u.Workers, u.Webhooks, u.Bench} {
		if labels[i] == "" {
			continue
		}
		part := labels[i] + " " + perEvent(d, n)
		if i == 0 && len(u.ServerParts) > 1 {
			var each []string
			for _, p := range u.ServerParts {
				each = append(each, p.Name+" "+perEvent(p.Used, n))
			}
			part += " (" + strings.Join(each, ", ") + ")"
		}
		parts = append(parts, part)
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
