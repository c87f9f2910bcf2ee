//go:build !linux

package integration

import "syscall"

// nodeProcAttr has no parent-death signal to ask for outside Linux; the
// tests' cleanup still kills every node.
func nodeProcAttr() *syscall.SysProcAttr { return nil }
