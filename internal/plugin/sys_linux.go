package plugin

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the plugin process when the node's
// process dies, even by SIGKILL, and puts the plugin in a process group of
// its own: a signal to the node's process group (timeout(1), kill -- -PGID,
// a terminal's Ctrl-C) then reaches the node alone, and
// the node stops its plugins in order, after their in-flight events, instead
// of each plugin dying mid-event.
//
// Pdeathsig fires when the thread that forked the child exits; Go does not
// end threads while the process runs (unless a goroutine locked to a thread
// exits), and the plugin also exits when its parent pid changes.
func setParentDeath(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true
}

// killGroup kills every process of the plugin's process group (setParentDeath
// made the plugin its leader): the plugin and whatever it started. It does
// nothing before the process started.
func killGroup(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
