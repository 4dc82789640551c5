package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one long-running program of the cluster: a Temporal service, a
// coursehook worker or webhook server. It runs in a session of its own, so
// it outlives the `up` command that started it and a signal meant for the
// caller's terminal does not reach it; its pid file lets `down` find it.
//
// Its exported fields are its spec, which start saves beside the pid file
// (run/NAME.json), so that a later command can start it again after `up`
// has exited.
type Process struct {
	Name string   `json:"name"`
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
	// Env is the whole environment, database passwords included: the spec
	// file is readable by its owner only.
	Env []string `json:"env"`
	// Log is the file its standard output and error are appended to.
	Log string `json:"log"`

	pidFile string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// newProcess is the process name of the cluster in dir, with its log and
// pid file where the cluster keeps them.
func newProcess(dir, name, path string, env []string, args ...string) *Process {
	return &Process{
		Name: name, Path: path, Args: args, Env: env,
		Log:     filepath.Join(dir, "logs", name+".log"),
		pidFile: filepath.Join(dir, "run", name+".pid"),
	}
}

// specFile is where start saves the spec: beside the pid file.
func specFile(pidFile string) string {
	return strings.TrimSuffix(pidFile, ".pid") + ".json"
}

// loadProcess reads the spec of the process name of the cluster in dir.
func loadProcess(dir, name string) (*Process, error) {
	pidFile := filepath.Join(dir, "run", name+".pid")
	raw, err := os.ReadFile(specFile(pidFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s has no spec (%s): it was started before `start` existed; run `scripts/cluster.sh down` and `up` once", name, specFile(pidFile))
	}
	if err != nil {
		return nil, err
	}
	p := &Process{}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("%s: %w", specFile(pidFile), err)
	}
	if p.Name != name || p.Path == "" {
		return nil, fmt.Errorf("%s is not the spec of %s", specFile(pidFile), name)
	}
	p.pidFile = pidFile
	return p, nil
}

// saveSpec writes the spec through a file of mode 0600 that is renamed into
// place, so no one else can read the passwords in it even for a moment and
// a reader never sees half of it.
func (p *Process) saveSpec() error {
	raw, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	path := specFile(p.pidFile)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".spec-*")
	if err != nil {
		return fmt.Errorf("save the spec of %s: %w", p.Name, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a no-op once renamed
	_, err = tmp.Write(append(raw, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save the spec of %s: %w", p.Name, err)
	}
	return nil
}

// start runs the program; a process that was started before and has
// exited is started again with the same arguments and environment. It
// refuses while the program its pid file names still runs, whoever started
// it.
func (p *Process) start() error {
	if p.Running() {
		return fmt.Errorf("%s is %w (pid %d)", p.Name, errRunning, p.cmd.Process.Pid)
	}
	if pid, running, err := readPidFile(p.pidFile); err == nil && running {
		return fmt.Errorf("%s is %w (pid %d)", p.Name, errRunning, pid)
	}
	if err := p.saveSpec(); err != nil {
		return err
	}
	logFile, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Only a log; the program writes it through its own descriptor.
	defer func() { _ = logFile.Close() }()
	fmt.Fprintf(logFile, "--- %s: starting %s %s\n", time.Now().UTC().Format(time.RFC3339), p.Path, strings.Join(p.Args, " "))
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	return os.WriteFile(p.pidFile, []byte(fmt.Sprintf("%d\n%s\n", cmd.Process.Pid, p.Path)), 0o644)
}

// Running says whether the process this value started is still running.
func (p *Process) Running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Pid is the process id of the latest start, or 0.
func (p *Process) Pid() int {
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill sends SIGKILL, as a crash would end it, and waits until it is gone.
func (p *Process) Kill() error {
	if !p.Running() {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	<-p.exited
	return nil
}

// Stop sends SIGTERM, as `docker stop` does, and waits up to grace for a
// clean exit before it kills.
func (p *Process) Stop(grace time.Duration) error {
	if !p.Running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// waitUntil polls ready until it holds, within the given time, and fails
// early, with the end of the log, if the process exits meanwhile. what says
// what is waited for.
func (p *Process) waitUntil(ctx context.Context, within time.Duration, what string, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for !ready(ctx) {
		if !p.Running() {
			b, _ := os.ReadFile(p.Log)
			return fmt.Errorf("%s exited at start (log %s):\n%s", p.Name, p.Log, lastLines(string(b), 5))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not %s after %s (log %s)", p.Name, what, within, p.Log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// readPidFile reads a pid file and says whether the process it names still
// runs the program the file records: a pid may have been reused since.
func readPidFile(pidFile string) (pid int, running bool, err error) {
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false, err
	}
	fields := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
	pid, err = strconv.Atoi(fields[0])
	if err != nil || len(fields) < 2 {
		return 0, false, fmt.Errorf("%s: not a pid file of ours", pidFile)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return pid, false, nil
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if exe != fields[1] {
		// The kernel names the program by its real path.
		if real, err := filepath.EvalSymlinks(fields[1]); err != nil || real != exe {
			return pid, false, nil
		}
	}
	return pid, alive(pid), nil
}

// signalPidFile sends sig to the process a pid file names, if it still runs
// the program the file records, and waits until it is gone, sending SIGKILL
// after grace. It says what it did; stopped is false when the process had
// already stopped.
func signalPidFile(pidFile string, sig syscall.Signal, grace time.Duration) (msg string, stopped bool, err error) {
	name := strings.TrimSuffix(filepath.Base(pidFile), ".pid")
	pid, running, err := readPidFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return name + " is not running (no pid file)", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if !running {
		return fmt.Sprintf("%s had already stopped (pid %d is gone)", name, pid), false, nil
	}
	proc, _ := os.FindProcess(pid)
	_ = proc.Signal(sig)
	deadline := time.Now().Add(grace)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = proc.Signal(syscall.SIGKILL)
			deadline = time.Now().Add(grace)
		}
		time.Sleep(50 * time.Millisecond)
	}
	verb := "stopped"
	if sig == syscall.SIGKILL {
		verb = "killed"
	}
	return fmt.Sprintf("%s %s (pid %d)", verb, name, pid), true, nil
}

// stopByPidFile stops the process a pid file names, if it still runs the
// program the file records, with SIGTERM and then, after grace, SIGKILL. It
// removes the file and the spec beside it.
func stopByPidFile(pidFile string, grace time.Duration) (string, error) {
	if _, err := os.Stat(pidFile); err != nil {
		return "", err
	}
	defer func() {
		_ = os.Remove(pidFile)
		_ = os.Remove(specFile(pidFile))
	}()
	msg, _, err := signalPidFile(pidFile, syscall.SIGTERM, grace)
	return msg, err
}

// alive says whether pid runs and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 && i+2 < len(rest) {
		return rest[i+2] != 'Z'
	}
	return true
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// FreePort asks the kernel for a TCP port on loopback that nothing listens
// on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port, nil
}
