package main

import (
	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/plugins/socket"
	"github.com/mtnode/mtnode/plugins/telnet"
	"github.com/mtnode/mtnode/plugins/timer"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/sdk"
)

// builtins are the services linked into mtnode: the five core services that
// sit on the path of every other service's I/O. User services and the demos
// run as plugins.
func builtins() []sdk.Spec {
	return []sdk.Spec{timer.Spec, socket.Spec, webserver.Spec, rpc.Spec, telnet.Spec}
}

// defaultStart is Start='s default, as in the seed.
func defaultStart() string { return rpc.Name }

// extraCommands are verbs that live in their own files.
func extraCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newPluginsCmd(func() (string, error) {
			_, prefix, err := boot.OpenStore(g.options(), true)
			return prefix, err
		}),
		newSendCmd(),
	}
}
