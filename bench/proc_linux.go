package main

import "syscall"

// childAttr kills the binaries with the bench, even when the bench itself is
// killed and cannot stop them.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
