package telnet

import (
	"testing"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
	"google.golang.org/protobuf/proto"
)

// fakeEndpoint answers each Send with a scripted event, either inside
// Send (as a request that fails at once does) or later.
type fakeEndpoint struct {
	cs     *calls
	next   uint64
	answer func(id uint64) *sdk.Event
	inline bool
	later  []*sdk.Event
}

func (f *fakeEndpoint) Send(to sdk.Addr, msg proto.Message) uint64 {
	f.next++
	ev := f.answer(f.next)
	if f.inline {
		f.cs.deliver(ev)
	} else {
		f.later = append(f.later, ev)
	}
	return f.next
}

func (f *fakeEndpoint) Close() {}

func TestCalls(t *testing.T) {
	output := func(id uint64) *sdk.Event {
		return &sdk.Event{Kind: sdk.KindReply, ID: id, Msg: &telnetpb.Output{Text: "ok"}}
	}
	gone := func(id uint64) *sdk.Event {
		return &sdk.Event{Kind: sdk.KindError, ID: id, Err: &sdk.DeliveryError{Code: sdk.CodeNoService, Message: "no service Demo"}}
	}
	busy := func(id uint64) *sdk.Event {
		return &sdk.Event{Kind: sdk.KindError, ID: id, Err: &sdk.DeliveryError{Code: sdk.CodeQueueFull, Message: "Demo's queue is full"}}
	}
	tests := []struct {
		name     string
		answer   func(uint64) *sdk.Event
		inline   bool
		want     string
		wantKept bool
	}{
		{"answer later", output, false, "ok", true},
		{"answer inside send", output, true, "ok", true},
		{"service gone", gone, true, "% /demo/x: no service Demo", false},
		{"service gone later", gone, false, "% /demo/x: no service Demo", false},
		{"queue full keeps the command", busy, true, "% /demo/x: Demo's queue is full", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := console.NewTree()
			var removed string
			cs := newCalls(tree, time.Second, time.Now, func(owner string, err error) {
				removed = owner
				tree.RemoveOwner(owner)
			})
			ep := &fakeEndpoint{cs: cs, answer: tt.answer, inline: tt.inline}
			cs.ep = ep
			if _, err := tree.Add("demo/x", "", "", "Demo", cs.handler("Demo")); err != nil {
				t.Fatal(err)
			}
			var got string
			cs.send("Demo", &console.Call{Path: "/demo/x"}, func(s string) { got = s })
			for _, ev := range ep.later {
				cs.deliver(ev)
			}
			if got != tt.want {
				t.Errorf("reply = %q, want %q", got, tt.want)
			}
			if _, kept := tree.Lookup("demo/x"); kept != tt.wantKept {
				t.Errorf("command kept = %v, want %v (removed owner %q)", kept, tt.wantKept, removed)
			}
			if len(cs.waiting) != 0 || len(cs.early) != 0 {
				t.Errorf("waiting %d, early %d after the answer; want 0, 0", len(cs.waiting), len(cs.early))
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:10123", true},
		{"127.1.2.3:1", true},
		{"[::1]:10123", true},
		{"localhost:10123", true},
		{"0.0.0.0:10123", false},
		{":10123", false},
		{"[::]:10123", false},
		{"192.168.1.5:10123", false},
		{"example.com:10123", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.addr); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
