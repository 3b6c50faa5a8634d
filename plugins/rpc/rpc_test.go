package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

func TestLocalAndRemoteCallers(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b"})
	tests := []struct {
		name string
		from *node
		to   sdk.Addr
	}{
		{"local", b, sdk.To("Echo")},
		{"local by own address", b, sdk.At(b.addr, "Echo")},
		{"remote", a, sdk.At(b.addr, "Echo")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := request(t, tc.from, tc.to, wrapperspb.String(tc.name))
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if got := ev.Msg.(*wrapperspb.StringValue).GetValue(); got != tc.name {
				t.Errorf("got %q, want %q", got, tc.name)
			}
		})
	}
}

func TestRemoteErrors(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b"})
	tests := []struct {
		name string
		to   sdk.Addr
		want error
	}{
		{"no such service", sdk.At(b.addr, "Ech"), sdk.ErrNoService},
		{"unknown event type", sdk.At(b.addr, rpc.Name), sdk.ErrUnknownEvent},
		{"unreachable node", sdk.At("127.0.0.1:1", "Echo"), sdk.ErrLinkLost},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := request(t, a, tc.to, wrapperspb.String("x"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The link survived the errors.
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("after")); err != nil {
		t.Fatalf("request after errors: %v", err)
	}
	if got := len(listLinks(t, a).GetLinks()); got != 1 {
		t.Errorf("got %d links on a, want 1", got)
	}
}

// TestChains sends through 3- and 5-node chains of relays, by Forward and by
// Relay; the answer retraces the route with no state on the relays.
func TestChains(t *testing.T) {
	for _, length := range []int{3, 5} {
		for _, mode := range []string{"forward", "relay"} {
			t.Run(fmt.Sprintf("nodes=%d/mode=%s", length, mode), func(t *testing.T) {
				last := startNode(t, nodeOpts{name: fmt.Sprintf("n%d", length-1)})
				next := last.addr + "/Echo"
				var first *node
				for i := length - 2; i >= 0; i-- {
					n := startNode(t, nodeOpts{name: fmt.Sprintf("n%d", i),
						conf: map[string]string{"Relay.next": next, "Relay.mode": mode}})
					next, first = n.addr+"/Relay", n
				}
				for i := range 20 {
					want := fmt.Sprintf("m%d", i)
					ev, err := request(t, first, sdk.To("Relay"), wrapperspb.String(want))
					if err != nil {
						t.Fatalf("Request %d: %v", i, err)
					}
					if got := ev.Msg.(*wrapperspb.StringValue).GetValue(); got != want {
						t.Fatalf("got %q, want %q", got, want)
					}
				}
				// An error at the end of the chain comes back the same way.
				last.Stop(context.Background())
				_, err := request(t, first, sdk.To("Relay"), wrapperspb.String("x"))
				if !errors.Is(err, sdk.ErrLinkLost) && !errors.Is(err, sdk.ErrStopped) {
					t.Fatalf("got %v, want ErrLinkLost or ErrStopped", err)
				}
			})
		}
	}
}

// TestBothSidesOneLink: after a dials b, b's requests to a use the same
// link.
func TestBothSidesOneLink(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b"})
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("a->b")); err != nil {
		t.Fatalf("a->b: %v", err)
	}
	if _, err := request(t, b, sdk.At(a.addr, "Echo"), wrapperspb.String("b->a")); err != nil {
		t.Fatalf("b->a: %v", err)
	}
	for _, n := range []*node{a, b} {
		links := listLinks(t, n).GetLinks()
		if len(links) != 1 {
			t.Fatalf("%s: got %d links, want 1: %v", n.Name(), len(links), links)
		}
		if links[0].GetSent() == 0 || links[0].GetReceived() == 0 {
			t.Errorf("%s: link sent %d, received %d; want both > 0", n.Name(), links[0].GetSent(), links[0].GetReceived())
		}
	}
}

// TestPendingBound: events wait in order while the link connects, up to
// RPC.maxPending; beyond it the sender gets ErrQueueFull.
func TestPendingBound(t *testing.T) {
	// A listener that accepts TCP but never answers the handshake.
	l := silentListener(t)
	a := startNode(t, nodeOpts{name: "a", conf: map[string]string{"RPC.maxPending": "3", "RPC.dialTimeout": "300ms", "RPC.handshakeTimeout": "300ms"}})
	errs := make(chan error, 10)
	ep := a.OpenEndpoint(func(ev *sdk.Event) { errs <- ev.Err })
	defer ep.Close()
	for range 4 {
		ep.Send(sdk.At(l.Addr().String(), "Echo"), wrapperspb.String("x"))
	}
	var got []error
	for range 4 {
		select {
		case err := <-errs:
			got = append(got, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d error events, want 4: %v", len(got), got)
		}
	}
	if !errors.Is(got[0], sdk.ErrQueueFull) {
		t.Errorf("first error: got %v, want ErrQueueFull", got[0])
	}
	for _, err := range got[1:] {
		if !errors.Is(err, sdk.ErrLinkLost) {
			t.Errorf("got %v, want ErrLinkLost (handshake timed out)", err)
		}
	}
}

func TestSubscribe(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b", noStop: true})
	events := make(chan *sdk.Event, 10)
	ep := a.OpenEndpoint(func(ev *sdk.Event) { events <- ev })
	defer ep.Close()
	ep.Send(sdk.To(rpc.Name), &rpcpb.Subscribe{})
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	next := func() *sdk.Event {
		t.Helper()
		return testwait.Recv(t, events, "link event")
	}
	up, ok := next().Msg.(*rpcpb.LinkUp)
	if !ok || up.GetPeer() != b.addr || !up.GetDialled() || up.GetNode() != "b" {
		t.Fatalf("got %v, want LinkUp for %s dialled", up, b.addr)
	}
	b.stop(t)
	down, ok := next().Msg.(*rpcpb.LinkDown)
	if !ok || down.GetPeer() != b.addr {
		t.Fatalf("got %v, want LinkDown for %s", down, b.addr)
	}
}

// TestSelfAddress: a request to this node under an address it did not know
// as its own fails once, then is delivered locally.
func TestSelfAddress(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	_, port, _ := net.SplitHostPort(a.addr)
	alias := net.JoinHostPort("::ffff:127.0.0.1", port)
	_, err := request(t, a, sdk.At(alias, "Echo"), wrapperspb.String("x"))
	if !errors.Is(err, sdk.ErrNoService) {
		t.Fatalf("first request: got %v, want ErrNoService (this node itself)", err)
	}
	if _, err := request(t, a, sdk.At(alias, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatalf("second request: got %v, want a local reply", err)
	}
}

// TestIPv6 listens on IPv4 and IPv6 loopback and links over IPv6.
func TestIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	l.Close()
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b", conf: map[string]string{"RPC.bindAddr": "127.0.0.1:0,[::1]:0"}})
	listen := listLinks(t, b).GetListen()
	if len(listen) != 2 {
		t.Fatalf("got listen %v, want two addresses", listen)
	}
	for _, addr := range listen {
		ev, err := request(t, a, sdk.At(addr, "Echo"), wrapperspb.String(addr))
		if err != nil {
			t.Fatalf("request to %s: %v", addr, err)
		}
		if got := ev.Msg.(*wrapperspb.StringValue).GetValue(); got != addr {
			t.Errorf("got %q, want %q", got, addr)
		}
	}
}

// TestInflightBound: past RPC.maxInflight requests awaiting answers on a
// link, a request is refused with ErrQueueFull at once (it is never sent
// untracked, where a lost link would leave it waiting forever); answers
// make room again.
func TestInflightBound(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a", conf: map[string]string{"RPC.maxInflight": "3"}})
	b := startNode(t, nodeOpts{name: "b"})
	answers := make(chan *sdk.Event, 10)
	ep := a.OpenEndpoint(func(ev *sdk.Event) { answers <- ev })
	defer ep.Close()
	for i := range 3 {
		ep.Send(sdk.At(b.addr, "Hold"), wrapperspb.String(fmt.Sprint(i)))
	}
	eventually(t, 5*time.Second, "3 requests held on b", func() bool {
		l := listLinks(t, a).GetLinks()
		return len(l) == 1 && l[0].GetInFlight() == 3
	})
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("over")); !errors.Is(err, sdk.ErrQueueFull) {
		t.Fatalf("4th request: got %v, want ErrQueueFull", err)
	}
	// Release on b until Hold has answered all three (they may still be on
	// their way to it).
	released := int64(0)
	eventually(t, 5*time.Second, "b's Hold answers the 3 held requests", func() bool {
		ev, err := request(t, b, sdk.To("Hold"), wrapperspb.Bool(true))
		if err != nil {
			t.Fatalf("releasing held requests: %v", err)
		}
		released += ev.Msg.(*wrapperspb.Int64Value).GetValue()
		return released == 3
	})
	for range 3 {
		select {
		case ev := <-answers:
			if ev.Err != nil {
				t.Fatalf("held request: got %v, want a reply", ev.Err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("held requests not answered")
		}
	}
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("room")); err != nil {
		t.Fatalf("after answers: got %v, want a reply", err)
	}
}

// TestSubscribersDoNotPileUp: a route subscribes at most once, Unsubscribe
// ends its subscription, and a subscriber on another node is forgotten when
// its link closes.
func TestSubscribersDoNotPileUp(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b", noStop: true})
	subscribers := func() uint32 { return listLinks(t, a).GetSubscribers() }

	events := make(chan *sdk.Event, 10)
	ep := a.OpenEndpoint(func(ev *sdk.Event) { events <- ev })
	defer ep.Close()
	for range 3 {
		ep.Send(sdk.To(rpc.Name), &rpcpb.Subscribe{})
	}
	eventually(t, 5*time.Second, "3 Subscribes from one route make 1 subscriber", func() bool { return subscribers() == 1 })

	// b subscribes over the link b dials to a.
	bEvents := make(chan *sdk.Event, 10)
	bep := b.OpenEndpoint(func(ev *sdk.Event) { bEvents <- ev })
	defer bep.Close()
	bep.Send(sdk.At(a.addr, rpc.Name), &rpcpb.Subscribe{})
	eventually(t, 5*time.Second, "b's subscription counted on a", func() bool { return subscribers() == 2 })
	b.stop(t)
	eventually(t, 5*time.Second, "b's subscription dropped with its link", func() bool { return subscribers() == 1 })

	ep.Send(sdk.To(rpc.Name), &rpcpb.Unsubscribe{})
	eventually(t, 5*time.Second, "Unsubscribe ends the subscription", func() bool { return subscribers() == 0 })

	// The unsubscribed endpoint hears nothing of a new link.
	c := startNode(t, nodeOpts{name: "c"})
	if _, err := request(t, a, sdk.At(c.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-events:
			if up, ok := ev.Msg.(*rpcpb.LinkUp); ok && up.GetPeer() == c.addr {
				t.Fatalf("got %v after Unsubscribe", up)
			}
			continue
		default:
		}
		break
	}
}

// TestGoneSubscriberForgotten: a subscriber that can no longer be reached
// (its endpoint closed without Unsubscribe) is forgotten at the next link
// event, rather than kept, and sent to, for the life of the node.
func TestGoneSubscriberForgotten(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	subscribers := func() uint32 { return listLinks(t, a).GetSubscribers() }
	ep := a.OpenEndpoint(func(*sdk.Event) {})
	ep.Send(sdk.To(rpc.Name), &rpcpb.Subscribe{})
	eventually(t, 5*time.Second, "the subscription counted", func() bool { return subscribers() == 1 })
	ep.Close()
	b := startNode(t, nodeOpts{name: "b"})
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the closed endpoint's subscription forgotten at the link's LinkUp",
		func() bool { return subscribers() == 0 })
}

// TestWildcardListener: a node that listens on 0.0.0.0 knows 127.0.0.1 on
// its port as itself (a request to it is delivered locally the first time),
// and the link it dials to a peer is the one that peer uses to send back to
// it at 127.0.0.1: one link, not a second dial.
func TestWildcardListener(t *testing.T) {
	k := startNode(t, nodeOpts{name: "k", conf: map[string]string{"RPC.bindAddr": "0.0.0.0:0"}})
	_, port, _ := net.SplitHostPort(k.addr)
	kLocal := net.JoinHostPort("127.0.0.1", port)
	if _, err := request(t, k, sdk.At(kLocal, "Echo"), wrapperspb.String("self")); err != nil {
		t.Fatalf("a request to itself at %s: %v, want a local reply", kLocal, err)
	}
	h := startNode(t, nodeOpts{name: "h"})
	if _, err := request(t, k, sdk.At(h.addr, "Echo"), wrapperspb.String("k to h")); err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, h, sdk.At(kLocal, "Echo"), wrapperspb.String("h to k")); err != nil {
		t.Fatal(err)
	}
	if links := listLinks(t, h).GetLinks(); len(links) != 1 {
		t.Errorf("h has %d links to k, want the one k dialled: %v", len(links), links)
	}
}

// TestUnworkableValuesRaised: a value the link cannot work with (frames
// smaller than 64 KiB, a longest reconnect delay below the first) is raised
// to the least workable one, and the log says so, with the key.
func TestUnworkableValuesRaised(t *testing.T) {
	var logs sdktest.LogBuffer
	a := startNode(t, nodeOpts{name: "a", log: &logs, conf: map[string]string{"RPC.maxMessage": "1000",
		"RPC.reconnectMin": "100ms", "RPC.reconnectMax": "10ms"}})
	b := startNode(t, nodeOpts{name: "b"})
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RPC.maxMessage=1000 is below the least workable value; using 65536", "RPC.reconnectMax=10ms is below RPC.reconnectMin; using 100ms"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestWildcardIPv6ListenerIsNotIPv4: a [::] listener takes IPv6 only, so
// 127.0.0.1 on its port may be another node: a request there is sent to
// that node, not delivered here, while [::1] on the port is this node.
func TestWildcardIPv6ListenerIsNotIPv4(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		l.Close()
	}
	only := func(name string) sdk.Spec {
		return sdk.Define(name, func() sdk.Service {
			return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error { c.Reply(ev.Msg); return nil })
		})
	}
	k := startNode(t, nodeOpts{name: "k", conf: map[string]string{"RPC.bindAddr": "[::]:0"}})
	_, port, _ := net.SplitHostPort(k.addr)
	h := startNode(t, nodeOpts{name: "h", conf: map[string]string{"RPC.bindAddr": "127.0.0.1:" + port}, services: []sdk.Spec{only("OnlyH")}})
	if _, err := request(t, k, sdk.At(h.addr, "OnlyH"), wrapperspb.String("x")); err != nil {
		t.Errorf("k to h at %s: %v, want h's reply", h.addr, err)
	}
	if _, err := request(t, k, sdk.At(net.JoinHostPort("::1", port), "Echo"), wrapperspb.String("x")); err != nil {
		t.Errorf("k to itself at [::1]:%s: %v, want a local reply", port, err)
	}
}
