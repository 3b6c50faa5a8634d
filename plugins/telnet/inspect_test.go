package telnet_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/plugins/timer"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// armer arms a few alarms and a timer when it starts.
type armer struct{}

func (armer) Handle(sdk.Context, *sdk.Event) error { return nil }

func (armer) Start(c sdk.Context) error {
	c.Send(sdk.To(timer.Name), &timerpb.SetTimer{Id: 7, Data: []byte("poll"), Period: 3600})
	for i := range 25 {
		c.Send(sdk.To(timer.Name), &timerpb.SetAlarm{Id: uint64(100 + i), Delay: float64(7200 + i)})
	}
	return nil
}

func TestTimersCommand(t *testing.T) {
	n, addr := startFileNode(t, fileNodeOpts{
		conf:  "Start=Telnet,Timer,Armer\n",
		specs: []sdk.Spec{timer.Spec, sdk.Define("Armer", func() sdk.Service { return armer{} })},
	})
	checkFor(t, "the Timer holds Armer's 26 entries", func() bool {
		ev, err := n.Request(context.Background(), sdk.To(timer.Name), &timerpb.List{Limit: 1})
		return err == nil && ev.Msg.(*timerpb.ListReply).GetTotal() == 26
	})
	c := dial(t, addr)
	c.expect(prompt)
	tests := []struct {
		line string
		want []string
	}{
		{"node/timers", []string{"26 pending", "REQUESTER", "KIND", "NEXT", "PERIOD",
			"Armer      timer  7", "1h0m0s", `"poll"`, "Armer      alarm  100", "and 6 more"}},
		{"node/timers 2", []string{"26 pending", "timer  7", "alarm  100", "and 24 more"}},
		{"node/timers 0", []string{`% count "0": want a number of entries, 1 or more`}},
	}
	for _, tt := range tests {
		out := c.run(tt.line, prompt)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output %q, want %q", tt.line, out, w)
			}
		}
	}
}

func TestTimersAndPeersWithoutTheServices(t *testing.T) {
	tests := []struct {
		name  string
		specs []sdk.Spec
		line  string
		want  string
	}{
		{"no Timer", nil, "node/timers", "% no Timer service on this node"},
		{"Timer idle", []sdk.Spec{timer.Spec}, "node/timers", "Timer is not running (state idle): no alarms or timers are pending"},
		{"no RPC", nil, "rpc/peers", "% no RPC service on this node"},
		{"RPC idle", []sdk.Spec{rpc.Spec}, "rpc/peers", "RPC is not running (state idle): no links to other nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, addr := startFileNode(t, fileNodeOpts{specs: tt.specs})
			c := dial(t, addr)
			c.expect(prompt)
			if out := c.run(tt.line, prompt); !strings.Contains(out, tt.want) {
				t.Errorf("output %q, want %q", out, tt.want)
			}
			for _, si := range n.Stats() {
				if si.Name != "Telnet" && si.State != "idle" {
					t.Errorf("%s is %s after %s, want idle: asking must not start it", si.Name, si.State, tt.line)
				}
			}
		})
	}
}

func TestPeersCommand(t *testing.T) {
	// Two nodes: b dials a by sending it an event.
	a, addrA := startFileNode(t, fileNodeOpts{conf: "Start=Telnet,RPC\nRPC.bindAddr=127.0.0.1:0\n", specs: []sdk.Spec{rpc.Spec}})
	b, _ := startFileNode(t, fileNodeOpts{conf: "Start=Telnet,RPC\nRPC.bindAddr=127.0.0.1:0\n", specs: []sdk.Spec{rpc.Spec}})
	ev, err := a.Request(context.Background(), sdk.To(rpc.Name), &rpcpb.ListLinks{})
	if err != nil {
		t.Fatalf("ListLinks: %v", err)
	}
	listenA := ev.Msg.(*rpcpb.Links).GetListen()[0]
	// Any request over the link will do; Telnet's status answers it.
	if _, err := b.Request(context.Background(), sdk.At(listenA, "Telnet"), &timerpb.List{}); err == nil {
		t.Fatal("Telnet answered a timer List, want an error event")
	}
	c := dial(t, addrA)
	c.expect(prompt)
	out := c.run("rpc/peers", prompt)
	for _, w := range []string{"listening on " + listenA, "PEER", "STATE", "NODE", "EPOCH", "DIRECTION", "IN FLIGHT", "EVENTS IN", "EVENTS OUT",
		"up", "test", "in (accepted)"} {
		if !strings.Contains(out, w) {
			t.Errorf("rpc/peers: output %q, want %q", out, w)
		}
	}
}
