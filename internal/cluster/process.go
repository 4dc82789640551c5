package cluster

import (
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
type Process struct {
	Name string
	Path string
	Args []string
	Env  []string
	// Log is the file its standard output and error are appended to.
	Log string

	pidFile string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// start runs the program; a process that was started before and has
// exited is started again with the same arguments and environment.
func (p *Process) start() error {
	if p.Running() {
		return fmt.Errorf("%s is already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
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

// stopByPidFile stops the process a pid file names, if it still runs the
// program the file records (a pid may have been reused since), with
// SIGTERM and then, after grace, SIGKILL. It removes the file.
func stopByPidFile(pidFile string, grace time.Duration) (string, error) {
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return "", err
	}
	defer os.Remove(pidFile)
	fields := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
	pid, err := strconv.Atoi(fields[0])
	if err != nil || len(fields) < 2 {
		return "", fmt.Errorf("%s: not a pid file of ours", pidFile)
	}
	name := strings.TrimSuffix(filepath.Base(pidFile), ".pid")
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || strings.TrimSuffix(exe, " (deleted)") != fields[1] {
		return name + " had already stopped", nil
	}
	proc, _ := os.FindProcess(pid)
	_ = proc.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = proc.Signal(syscall.SIGKILL)
			deadline = time.Now().Add(grace)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("stopped %s (pid %d)", name, pid), nil
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
	c.Close()
	return true
}

// FreePort asks the kernel for a TCP port on loopback that nothing listens
// on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
