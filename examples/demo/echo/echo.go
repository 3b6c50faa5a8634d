// Package echo is the Echo demo service: it answers any request with its
// own payload. It is written against the public sdk only, so it runs the
// same linked into a node or inside the mt-demo plugin.
package echo

import "github.com/mtnode/mtnode/sdk"

// Name is the service's name: its address, config prefix and Start= entry.
const Name = "Echo"

// Spec registers Echo. Echo is stateless, so it runs inline on its
// senders' goroutines.
var Spec = sdk.Define(Name, func() sdk.Service { return sdk.HandlerFunc(handle) }, sdk.Inline())

// handle answers a request with its payload; replies and error events
// addressed to Echo (it sends nothing, so there are none) are ignored.
func handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind == sdk.KindRequest {
		c.Reply(ev.Msg)
	}
	return nil
}
