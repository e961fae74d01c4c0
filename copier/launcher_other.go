//go:build !unix

package copier

import "os/exec"

// setLauncherAttrs does nothing here: there are no process groups.
func setLauncherAttrs(cmd *exec.Cmd) {}

// killLauncher kills the launcher.
func killLauncher(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}
