// Command mt-demo is the demo plugin: the seed's demo services in one
// plugin binary, installed into <prefix>/plugins and launched by the node
// on the first event for one of them.
//
// Services (add each demo here as it is written, under examples/demo/<name>):
//   - Echo: answers any event with its payload (examples/demo/echo).
//   - HelloWeb, HttpRpc, TelnetDemo: to be added from examples/demo/helloweb,
//     examples/demo/httprpc and examples/demo/telnetdemo.
package main

import (
	"github.com/mtnode/mtnode/examples/demo/echo"
	_ "github.com/mtnode/mtnode/internal/pluginrt" // the plugin runtime behind sdk.Serve
	"github.com/mtnode/mtnode/sdk"
)

func main() {
	sdk.Serve(
		echo.Spec,
		// helloweb.Spec, httprpc.Spec, telnetdemo.Spec,
	)
}
