package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// runLocal starts an N-node cluster on 127.0.0.1 as child processes of this
// binary, for trying rkv out, and stops them all on Ctrl-C.
func runLocal(args []string) error {
	fs := flag.NewFlagSet("rkv local", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	nodes := fs.Int("nodes", 3, "number of nodes")
	basePort := fs.Int("base-port", 7001, "client port of node 1; node i listens on base-port+i-1 (bus: +10000)")
	dir := fs.String("dir", "rkv-local", "parent directory of the nodes' data directories")
	extra := fs.String("flags", "", "extra flags passed to every node, space separated (e.g. \"--read-mode lease\")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Println("usage: rkv local [--nodes 3] [--base-port 7001] [--dir rkv-local] [--flags \"...\"]")
			fs.PrintDefaults()
			return err
		}
		return &usageError{err.Error() + " (run rkv local -h for the flags)"}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *nodes < 1 || *nodes > 9 {
		return &usageError{"--nodes must be between 1 and 9"}
	}
	if *basePort < 1 || *basePort+*nodes-1+10000 > 65535 {
		return &usageError{"--base-port leaves no room for the nodes' bus ports (+10000)"}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var spec []string
	for i := 1; i <= *nodes; i++ {
		spec = append(spec, fmt.Sprintf("%d=127.0.0.1:%d", i, *basePort+i-1))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var cmds []*exec.Cmd
	for i := 1; i <= *nodes; i++ {
		args := []string{"--id", strconv.Itoa(i), "--addr", fmt.Sprintf("127.0.0.1:%d", *basePort+i-1),
			"--dir", filepath.Join(*dir, fmt.Sprintf("node%d", i)), "--cluster", strings.Join(spec, ",")}
		args = append(args, strings.Fields(*extra)...)
		cmd := exec.Command(self, args...)
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		// Own process group: Ctrl-C reaches us, and we stop the nodes in order.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			stopAll(cmds)
			return fmt.Errorf("starting node %d: %w", i, err)
		}
		cmds = append(cmds, cmd)
	}
	fmt.Fprintf(os.Stderr, "rkv local: %d nodes on 127.0.0.1:%d-%d; connect with: redis-cli -c -p %d\n",
		*nodes, *basePort, *basePort+*nodes-1, *basePort)
	exited := make(chan int, len(cmds))
	for i, c := range cmds {
		go func() { c.Wait(); exited <- i + 1 }()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "rkv local: stopping the nodes")
	case id := <-exited:
		fmt.Fprintf(os.Stderr, "rkv local: node %d exited; stopping the others\n", id)
	}
	stopAll(cmds)
	return nil
}

func stopAll(cmds []*exec.Cmd) {
	var wg sync.WaitGroup
	for _, c := range cmds {
		if c.Process == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Process.Signal(syscall.SIGTERM)
			c.Wait()
		}()
	}
	wg.Wait()
}
