//go:build unix && !linux

package lambdaemu

import "syscall"

// sysProcAttr puts the function in its own process group, so killing the
// group also kills anything it spawned.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// maxMemoryMB is not measured outside Linux.
func maxMemoryMB(int) int { return 0 }
