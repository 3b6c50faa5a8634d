//go:build !linux

package plugin

import "os/exec"

// setParentDeath does nothing where there is no parent-death signal; the
// plugin exits on its own when its parent pid changes.
func setParentDeath(*exec.Cmd) {}

// killGroup kills the plugin process where there are no process groups to
// take its helpers with it.
func killGroup(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
