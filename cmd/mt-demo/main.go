// Command mt-demo is the demo plugin: the seed's demo services in one
// plugin binary, installed into <prefix>/plugins and launched by the node
// on the first event for one of them.
//
// Services:
//   - Echo: answers any event with its payload (examples/demo/echo).
//   - HelloWeb: GET / answers "Hello, World!", or files from HelloWeb.docRoot (examples/demo/helloweb).
//   - HttpRpc: each HTTP request becomes one event to Echo at HttpRpc.backend (examples/demo/httprpc).
//   - TelnetDemo: a console command directory, demo/ (examples/demo/telnetdemo).
//   - Heartbeat: logs a Timer tick every Heartbeat.period (examples/demo/heartbeat).
package main

import (
	"github.com/mtnode/mtnode/examples/demo/echo"
	"github.com/mtnode/mtnode/examples/demo/heartbeat"
	"github.com/mtnode/mtnode/examples/demo/helloweb"
	"github.com/mtnode/mtnode/examples/demo/httprpc"
	"github.com/mtnode/mtnode/examples/demo/telnetdemo"
	"github.com/mtnode/mtnode/sdk/plugin"
)

func main() {
	plugin.Serve(echo.Spec, helloweb.Spec, httprpc.Spec, telnetdemo.Spec, heartbeat.Spec)
}
