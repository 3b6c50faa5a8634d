// Command garbage is a plugin that prints on stdout before the handshake.
package main

import (
	"fmt"

	_ "github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/plugin"
)

func main() {
	fmt.Println("starting up, please wait...")
	plugin.Serve(sdk.Define("Garbage", func() sdk.Service {
		return sdk.HandlerFunc(func(sdk.Context, *sdk.Event) error { return nil })
	}))
}
