// Package telnetdemo is the TelnetDemo service: it registers a small
// directory of console commands with the Telnet service, showing typed
// arguments, a multi-line answer and state kept across commands without a
// lock (every command arrives in the service's own queue).
package telnetdemo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name.
const Name = "TelnetDemo"

// Spec registers the service.
var Spec = sdk.Define(Name, New)

// maxItems bounds the list, as every buffer a user can grow is bounded.
const maxItems = 1000

// commands returns the console commands the service registers: path,
// argument spec, description.
func commands() [][3]string {
	return [][3]string{
		{"demo/", "", "TelnetDemo: a list and a counter kept across commands"},
		{"demo/push", "item...", "push an item onto the list"},
		{"demo/pop", "", "remove the last item and show it"},
		{"demo/show", "", "show the list, one item per line"},
		{"demo/count", "[by:int]", "add to the counter (default 1) and show it"},
		{"demo/greet", "name [style:plain|loud]", "greet someone"},
	}
}

// Service keeps a list and a counter; only its goroutine touches them.
type Service struct {
	mux   sdk.Mux
	items []string
	count int64
}

// New builds the service.
func New() sdk.Service {
	s := &Service{}
	sdk.On(&s.mux, s.onCommand)
	s.mux.OnError(s.onError)
	return s
}

// Start registers the console commands.
func (s *Service) Start(c sdk.Context) error {
	for _, cmd := range commands() {
		c.Send(sdk.To("Telnet"), &telnetpb.Register{Path: cmd[0], Args: cmd[1], Description: cmd[2]})
	}
	return nil
}

// Handle routes commands and errors.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Types lists the events the service takes.
func (s *Service) Types() []string { return s.mux.Types() }

func (s *Service) onCommand(c sdk.Context, m *telnetpb.Command) error {
	args := make(map[string]string, len(m.GetArgs()))
	for _, a := range m.GetArgs() {
		args[a.GetName()] = a.GetValue()
	}
	c.Reply(&telnetpb.Output{Text: s.run(m.GetPath(), args)})
	return nil
}

// run executes one command and returns its answer.
func (s *Service) run(path string, args map[string]string) string {
	switch path {
	case "/demo/push":
		if len(s.items) >= maxItems {
			return fmt.Sprintf("%% the list is full (%d items); pop some first", maxItems)
		}
		s.items = append(s.items, args["item"])
		return fmt.Sprintf("pushed %q (%d on the list)", args["item"], len(s.items))
	case "/demo/pop":
		if len(s.items) == 0 {
			return "the list is empty"
		}
		last := s.items[len(s.items)-1]
		s.items = s.items[:len(s.items)-1]
		return fmt.Sprintf("popped %q (%d left)", last, len(s.items))
	case "/demo/show":
		if len(s.items) == 0 {
			return "the list is empty"
		}
		var b strings.Builder
		for i, it := range s.items {
			fmt.Fprintf(&b, "%3d  %s\n", i+1, it)
		}
		return b.String()
	case "/demo/count":
		by := int64(1)
		if v, ok := args["by"]; ok {
			by, _ = strconv.ParseInt(v, 10, 64) // checked by the console
		}
		s.count += by
		return fmt.Sprintf("counter = %d", s.count)
	case "/demo/greet":
		msg := "Hello, " + args["name"] + "!"
		if args["style"] == "loud" {
			msg = strings.ToUpper(msg)
		}
		return msg
	}
	return "% TelnetDemo has no command " + path
}

// onError logs refused registrations (for example a path taken by another
// service).
func (s *Service) onError(c sdk.Context, ev *sdk.Event) error {
	c.Logger().Warn("telnetdemo: request failed", sdk.KeyErr, ev.Err.Error())
	return nil
}

// Interface guards.
var (
	_ sdk.Service = (*Service)(nil)
	_ sdk.Starter = (*Service)(nil)
)
