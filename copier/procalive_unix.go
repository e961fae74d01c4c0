//go:build unix

package copier

import "syscall"

// processAlive says whether a process with this pid may still be running
// (it exists, whoever owns it).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
