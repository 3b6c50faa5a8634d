package plugin

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the plugin process when the node's
// process dies, even by SIGKILL.
//
// Pdeathsig fires when the thread that forked the child exits; Go does not
// end threads while the process runs (unless a goroutine locked to a thread
// exits), and the plugin also exits when its parent pid changes.
func setParentDeath(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
