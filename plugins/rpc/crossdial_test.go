package rpc_test

import (
	"testing"
	"time"

	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// TestCrossDialKeepsTwoLinks: two nodes that dial each other at the same
// moment (each has sent to the other before it accepts the other's link)
// keep both links. Each sends its requests on the link it dialled and
// answers on the link a request came in on: every event arrives once, in
// the order sent, and neither link is closed.
func TestCrossDialKeepsTwoLinks(t *testing.T) {
	const n = 100
	open := make(chan struct{})
	arrived := make(chan string, 2)
	// Each node's acceptor holds the other's handshake until both have
	// dialled.
	held := sdk.Define(rpc.Name, func() sdk.Service {
		return rpc.NewHeld(func(h *rpcpb.Hello) {
			select {
			case arrived <- h.GetNode():
			default:
			}
			select {
			case <-open:
			case <-time.After(5 * time.Second):
			}
		})
	})
	gotA, gotB := make(chan int64, 2*n), make(chan int64, 2*n)
	a := startNode(t, nodeOpts{name: "a", rpc: held, services: []sdk.Spec{recordSpec(gotA)}})
	b := startNode(t, nodeOpts{name: "b", rpc: held, services: []sdk.Spec{recordSpec(gotB)}})
	waitHeld := func(who string) {
		t.Helper()
		select {
		case got := <-arrived:
			if got != who {
				t.Fatalf("held the hello of %s, want %s", got, who)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s's link never reached the other node", who)
		}
	}

	round := func(what string) {
		t.Helper()
		_, ansAB := sendNumbered(t, a, b.addr, n)
		if what == "crossed dials" {
			waitHeld("a")
		}
		_, ansBA := sendNumbered(t, b, a.addr, n)
		if what == "crossed dials" {
			waitHeld("b")
			close(open)
		}
		wantReceived(t, gotB, n)
		wantReceived(t, gotA, n)
		for _, ans := range []*answers{ansAB, ansBA} {
			eventually(t, 5*time.Second, what+": every request answered", func() bool {
				r, e := ans.counts()
				return r+e == n
			})
			if r, e := ans.counts(); r != n || e != 0 {
				t.Fatalf("%s: %d replies and %d error events, want %d replies: %v", what, r, e, n, ans.errs)
			}
		}
		if len(gotA)+len(gotB) != 0 {
			t.Fatalf("%s: %d events received twice", what, len(gotA)+len(gotB))
		}
		for _, nd := range []*node{a, b} {
			links := listLinks(t, nd).GetLinks()
			if len(links) != 2 || links[0].GetDialled() == links[1].GetDialled() {
				t.Fatalf("%s: %s has links %v, want two, one dialled and one accepted", what, nd.Name(), links)
			}
			for _, l := range links {
				if l.GetSent() == 0 || l.GetReceived() == 0 || l.GetInFlight() != 0 {
					t.Errorf("%s: %s's link (dialled %v) sent %d, received %d, %d in flight; want traffic both ways and none left",
						what, nd.Name(), l.GetDialled(), l.GetSent(), l.GetReceived(), l.GetInFlight())
				}
			}
		}
	}
	round("crossed dials")
	round("once both links are up")
}
