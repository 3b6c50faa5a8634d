package main

import "github.com/mtnode/mtnode/sdk/plugin"

// main turns this program into a plugin: build it into the node's plugins/
// folder and the node launches it on the first event for Greeter.
func main() { plugin.Serve(Spec) }
