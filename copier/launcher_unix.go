//go:build unix

package copier

import (
	"os/exec"
	"syscall"
)

// setLauncherAttrs puts a host's launcher (ssh, srun, ...) in a process
// group of its own: a Ctrl-C at the terminal is the coordinator's to act
// on, and killLauncher can end the launcher with whatever it started here.
func setLauncherAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killLauncher kills the launcher's process group.
func killLauncher(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
