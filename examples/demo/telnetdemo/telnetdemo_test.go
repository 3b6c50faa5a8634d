package telnetdemo

import (
	"testing"

	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// The console is not needed to test the service: Command events are sent
// to it directly, as the Telnet service would. Its registrations fail with
// ErrNoService (no Telnet here) and are only logged.
func TestCommands(t *testing.T) {
	n := sdktest.New(t, []sdk.Spec{Spec}, sdktest.WithStart(Name))
	cmd := func(path string, args ...string) *telnetpb.Command {
		m := &telnetpb.Command{Path: path}
		for i := 0; i+1 < len(args); i += 2 {
			m.Args = append(m.Args, &telnetpb.Arg{Name: args[i], Value: args[i+1]})
		}
		return m
	}
	steps := []struct {
		name string
		cmd  *telnetpb.Command
		want string
	}{
		{"pop empty", cmd("/demo/pop"), "the list is empty"},
		{"push", cmd("/demo/push", "item", "milk"), `pushed "milk" (1 on the list)`},
		{"push again", cmd("/demo/push", "item", "two eggs"), `pushed "two eggs" (2 on the list)`},
		{"show", cmd("/demo/show"), "  1  milk\n  2  two eggs\n"},
		{"pop", cmd("/demo/pop"), `popped "two eggs" (1 left)`},
		{"count", cmd("/demo/count"), "counter = 1"},
		{"count by", cmd("/demo/count", "by", "-5"), "counter = -4"},
		{"greet", cmd("/demo/greet", "name", "Ada"), "Hello, Ada!"},
		{"greet loud", cmd("/demo/greet", "name", "Ada", "style", "loud"), "HELLO, ADA!"},
		{"unknown", cmd("/demo/nope"), "% TelnetDemo has no command /demo/nope"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			msg, err := n.Request(sdk.To(Name), s.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if got := msg.(*telnetpb.Output).GetText(); got != s.want {
				t.Errorf("got %q, want %q", got, s.want)
			}
		})
	}
}
