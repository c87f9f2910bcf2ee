package integration

import "syscall"

// nodeProcAttr makes the kernel kill a node if the test binary dies (a
// go test timeout, a panic, ^C) before its cleanup runs, so no rkv
// process outlives the run holding ports.
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
