// Greeter is the service of README's "write your own service in five
// minutes": it answers a name with a greeting and counts the greetings in a
// plain field, with no lock, because it handles one event at a time.
package main

import (
	"fmt"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// Spec registers Greeter: its name is its address, its config prefix and
// its entry in Start=.
var Spec = sdk.Define("Greeter", New)

// Greeter answers google.protobuf.StringValue names with greetings.
type Greeter struct {
	mux      sdk.Mux
	greeting string
	count    int
}

// New builds a Greeter; it has no side effects (Start does the work).
func New() sdk.Service {
	g := &Greeter{}
	sdk.On(&g.mux, g.greet)
	return g
}

// Start is the first event the service sees: read the config here.
func (g *Greeter) Start(c sdk.Context) error {
	g.greeting = c.Config().String("greeting", "Hello", "what Greeter says before the name")
	return nil
}

// Handle routes events by payload type.
func (g *Greeter) Handle(c sdk.Context, ev *sdk.Event) error { return g.mux.Handle(c, ev) }

func (g *Greeter) greet(c sdk.Context, name *wrapperspb.StringValue) error {
	if name.GetValue() == "" {
		return fmt.Errorf("greeter: empty name; send a google.protobuf.StringValue with a name")
	}
	g.count++
	c.Reply(wrapperspb.String(fmt.Sprintf("%s, %s! (greeting #%d)", g.greeting, name.GetValue(), g.count)))
	return nil
}

// Interface guards.
var (
	_ sdk.Service = (*Greeter)(nil)
	_ sdk.Starter = (*Greeter)(nil)
)
