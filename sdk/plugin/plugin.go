// Package plugin turns a program into an mtnode plugin.
//
//	func main() { plugin.Serve(echo.Spec, helloweb.Spec) }
//
// Build the program into a node's plugins folder: the node learns the
// services it holds, launches it on the first event for one of them, and
// supervises it. The services are the same sdk.Spec values that would run
// linked into the node; only their main differs. Services inside one plugin
// reach each other without a trip to the node.
package plugin

import (
	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/sdk"
)

// Serve serves specs to the node that launched this process and never
// returns. Run by hand rather than by a node, the program says it is a
// plugin and exits with status 1. Keep stdout free before Serve: the node
// reads go-plugin's handshake there.
func Serve(specs ...sdk.Spec) { pluginrt.Serve(specs) }
