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
// start and read. A process it cannot read counts nothing, and the meter
// says so through ok.
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

// used is the time the processes used since startCPU, added up.
func (m *cpuMeter) used() (d time.Duration, ok bool) {
	ok = len(m.pids) > 0
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
	if n == 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(n)/float64(time.Millisecond))
}
