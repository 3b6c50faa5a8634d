//go:build !linux

package plugin

import "os/exec"

// setParentDeath does nothing where there is no parent-death signal; the
// plugin exits on its own when its parent pid changes.
func setParentDeath(*exec.Cmd) {}
