package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// perfRecord samples a process's stacks with Linux perf until the returned
// function is called. The binaries serve no pprof endpoint; perf needs no
// change to them, and Go binaries keep the frame pointers it unwinds.
func perfRecord(dir, name string, pid int) (stop func() error, err error) {
	bin, err := exec.LookPath("perf")
	if err != nil {
		return nil, fmt.Errorf("--perf needs Linux perf on the PATH: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, name+".perf.data")
	cmd := exec.Command(bin, "record", "-F", "499", "-g", "-o", out, "-p", fmt.Sprint(pid))
	logFile, err := os.Create(filepath.Join(dir, name+".perf.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("perf record: %w", err)
	}
	return func() error {
		// Only perf's log; perf writes and closes the profile itself.
		defer func() { _ = logFile.Close() }()
		// perf writes its file on SIGINT, as on Ctrl-C.
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			// perf ends by raising the SIGINT it caught, once its file is
			// written.
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGINT {
					err = nil
				}
			}
			if err != nil {
				return fmt.Errorf("perf record of %s: %w (see %s)", name, err, logFile.Name())
			}
			return nil
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("perf record of %s did not stop", name)
		}
	}, nil
}
