package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildBinaries builds the worker and the webhook server into dir, as
// `make build` does, and the reference rows' naiveworker, and returns their
// paths.
func buildBinaries(ctx context.Context, root, dir string) (worker, starter, naiveWorker string, err error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./worker", "./starter", "./bench/naiveworker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", "", fmt.Errorf("go build ./worker ./starter ./bench/naiveworker: %w\n%s", err, out)
	}
	return filepath.Join(dir, "worker"), filepath.Join(dir, "starter"), filepath.Join(dir, "naiveworker"), nil
}

// process is a coursehook binary the bench runs, its log in a file.
type process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{}
}

// startProcess runs bin with env in dir, logging to dir/<name>.log, and
// waits until a log line matches ready; it returns the line's first
// submatch (the address a binary listens on, say).
func startProcess(ctx context.Context, name, bin, dir string, env []string, ready *regexp.Regexp, timeout time.Duration) (*process, string, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	w := &lineWatch{out: f, re: ready, found: make(chan string, 1)}
	cmd := exec.Command(bin)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{Name: name, LogPath: logPath, cmd: cmd, log: f, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m := <-w.found:
		return p, m, nil
	case <-p.exited:
		err = fmt.Errorf("%s exited at start (%s); its log ends:\n%s", name, cmd.ProcessState, p.Tail(2000))
	case <-timer.C:
		err = fmt.Errorf("%s not ready after %s; its log ends:\n%s", name, timeout, p.Tail(2000))
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.Stop()
	return nil, "", err
}

// Pid is the process id, for perf, pprof or a look at /proc.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// PeakRSS is the process's peak resident set (VmHWM) in bytes.
func (p *process) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("peak rss of %s: %w", p.Name, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak rss of %s: %q: %w", p.Name, line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("peak rss of %s: no VmHWM in /proc/%d/status", p.Name, p.Pid())
}

// Stop sends SIGTERM, which both binaries take as a graceful stop, and kills
// the process if it has not ended 15 s later.
func (p *process) Stop() {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	// Only a log, whose writes go unchecked too: a failed close loses
	// nothing the bench measures.
	_ = p.log.Close()
}

// Tail is the end of the process's log, at most n bytes.
func (p *process) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// lineWatch copies a process's output to its log and reports the first
// line that matches re, so readiness is an event rather than a poll.
type lineWatch struct {
	out   *os.File
	re    *regexp.Regexp
	found chan string

	mu      sync.Mutex
	partial []byte
	done    bool
}

func (w *lineWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.partial = append(w.partial, b...)
		for {
			i := bytes.IndexByte(w.partial, '\n')
			if i < 0 {
				break
			}
			line := w.partial[:i]
			w.partial = w.partial[i+1:]
			if m := w.re.FindSubmatch(line); m != nil {
				sub := ""
				if len(m) > 1 {
					sub = string(m[1])
				}
				w.found <- sub
				w.done, w.partial = true, nil
				break
			}
		}
	}
	return w.out.Write(b)
}
