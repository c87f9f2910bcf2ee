package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one server process the harness started. Its output goes to a log
// file (appended across restarts) so that a failure can show its tail.
type proc struct {
	name string
	path string
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	// killed is set when the harness killed the process, so an exit it did
	// not cause (a crash) can be told apart and reported.
	killed bool
}

// procs tracks every process started, so cleanup can kill whatever is still
// running however Run returns.
type procs struct {
	mu  sync.Mutex
	all []*proc
}

func (ps *procs) start(name, log, path string, args ...string) (*proc, error) {
	p := &proc{name: name, path: path, args: args, log: log}
	if err := ps.restart(p); err != nil {
		return nil, err
	}
	return p, nil
}

// restart starts p's command again (with the same arguments, so the same
// data directory); p must have exited.
func (ps *procs) restart(p *proc) error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	// A process group of its own keeps a terminal's Ctrl-C away from the
	// servers (the harness decides when they stop, after it has reported);
	// Pdeathsig kills them if the harness itself dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.cmd = cmd
	p.killed = false
	done := make(chan struct{})
	p.done = done
	go func() { cmd.Wait(); close(done) }()
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (the crash the restart figures are about) and waits
// until the process is gone.
func (p *proc) kill() {
	p.killed = true
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// killAll kills every process still running.
func (ps *procs) killAll() {
	ps.mu.Lock()
	all := ps.all
	ps.all = nil
	ps.mu.Unlock()
	for _, p := range all {
		p.kill()
	}
}

// crashed describes every process that exited without being killed, with
// the end of its log: the first thing to read when a step fails.
func (ps *procs) crashed() string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var b strings.Builder
	for _, p := range ps.all {
		if !p.killed && p.exited() {
			fmt.Fprintf(&b, "\n%s\n", p.errExited())
		}
	}
	return b.String()
}

// logTail is the end of p's log, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// errExited reports that p died while the harness was waiting for it.
func (p *proc) errExited() error {
	return fmt.Errorf("%s exited unexpectedly (%v); log %s ends:\n%s", p.name, p.cmd.ProcessState, p.log, p.logTail())
}

// rssKiB reads VmRSS from /proc/<pid>/status.
func rssKiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(rest)
			if len(fs) == 0 {
				break
			}
			return strconv.ParseFloat(fs[0], 64)
		}
	}
	return 0, fmt.Errorf("bench: no VmRSS for pid %d", pid)
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. All listeners
// stay open until every port is chosen so that none is handed out twice.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// poll calls f every interval until it reports done, f fails for good,
// or the timeout or ctx ends. It is how the harness waits for conditions
// (no fixed sleeps: the time to the condition is often what is measured).
func poll(ctx context.Context, timeout, interval time.Duration, what string, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := f()
		if ok {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: timed out after %v waiting for %s (last error: %v)", timeout, what, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// fatalError stops a poll at once.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
