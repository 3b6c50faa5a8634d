package rpc_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// TestProcessChains runs 3- and 5-node chains in which every node after the
// sender is its own OS process: the sender (this process) asks the first
// relay, each relay passes the request on to the next node by Forward or by
// Relay, and the last node's Hold service answers. Every answer retraces the
// route. While requests are held at the end, the only trace of them on a
// relay is its outgoing link's in-flight count (the tracking that turns a
// lost link into error events); it is zero again once they are answered.
// Killing the last node then fails the requests held there, back along
// the route, within a second.
func TestProcessChains(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	a := startNode(t, nodeOpts{name: "a"})
	for _, length := range []int{3, 5} {
		for _, mode := range []string{"forward", "relay"} {
			t.Run(fmt.Sprintf("nodes=%d/mode=%s", length, mode), func(t *testing.T) {
				testProcessChain(t, a, length, mode)
			})
		}
	}
}

func testProcessChain(t *testing.T, a *node, length int, mode string) {
	const k = 50
	end := startProc(t, "127.0.0.1:0")
	next := end.addr + "/Hold"
	relays := make([]*proc, length-2)
	for i := len(relays) - 1; i >= 0; i-- {
		relays[i] = startProc(t, "127.0.0.1:0", "Relay.next="+next, "Relay.mode="+mode)
		next = relays[i].addr + "/Relay"
	}
	first := sdk.At(relays[0].addr, "Relay")

	answers := make(chan *sdk.Event, 2*k+2)
	ep := a.OpenEndpoint(func(ev *sdk.Event) { answers <- ev })
	defer ep.Close()

	// held sums the requests in flight on a process's links.
	held := func(p *proc) uint64 {
		ev, err := request(t, a, sdk.At(p.addr, rpc.Name), &rpcpb.ListLinks{})
		if err != nil {
			t.Fatalf("ListLinks on %s: %v", p.addr, err)
		}
		var n uint64
		for _, l := range ev.Msg.(*rpcpb.Links).GetLinks() {
			n += l.GetInFlight()
		}
		return n
	}
	waitHeld := func(want uint64) {
		t.Helper()
		for i, r := range relays {
			eventually(t, 5*time.Second, fmt.Sprintf("relay %d has %d requests in flight", i, want),
				func() bool { return held(r) == want })
		}
	}

	for i := range k {
		ep.Send(first, wrapperspb.String(fmt.Sprintf("m%d", i)))
	}
	waitHeld(k)
	ep.Send(first, wrapperspb.Bool(true)) // Hold answers everything it holds
	got := map[string]bool{}
	var count int64 = -1
	deadline := time.After(5 * time.Second)
	for len(got) < k || count < 0 {
		select {
		case ev := <-answers:
			if ev.Kind != sdk.KindReply {
				t.Fatalf("got %v (%v), want a reply", ev.Kind, ev.Err)
			}
			switch m := ev.Msg.(type) {
			case *wrapperspb.StringValue:
				got[m.GetValue()] = true
			case *wrapperspb.Int64Value:
				count = m.GetValue()
			default:
				t.Fatalf("got reply %T, want StringValue or Int64Value", m)
			}
		case <-deadline:
			t.Fatalf("got %d of %d answers (count %d)", len(got), k, count)
		}
	}
	for i := range k {
		if want := fmt.Sprintf("m%d", i); !got[want] {
			t.Errorf("no answer %q", want)
		}
	}
	if count != k {
		t.Errorf("Hold answered %d held requests, want %d", count, k)
	}
	waitHeld(0) // no request leaves anything behind on a relay

	// Link loss at the end of the chain: every held request fails back
	// along the route.
	for i := range k {
		ep.Send(first, wrapperspb.String(fmt.Sprintf("lost%d", i)))
	}
	waitHeld(k)
	killed := time.Now()
	end.kill()
	limit := time.After(time.Until(killed.Add(time.Second)))
	for i := range k {
		select {
		case ev := <-answers:
			if !errors.Is(ev.Err, sdk.ErrLinkLost) {
				t.Fatalf("answer %d: got %v (%v), want ErrLinkLost", i, ev.Kind, ev.Err)
			}
		case <-limit:
			t.Fatalf("within a second of kill -9: %d of %d requests failed", i, k)
		}
	}
}
