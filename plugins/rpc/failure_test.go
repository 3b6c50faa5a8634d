package rpc_test

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// silentListener accepts connections and never writes to them.
func silentListener(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l
}

// TestInFlightFailOnStop: requests in flight on a link that dies end as
// ErrLinkLost error events at once (well within a second).
func TestInFlightFailOnStop(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b", noStop: true})
	const n = 500
	var lost, other atomic.Int64
	done := make(chan struct{})
	ep := a.OpenEndpoint(func(ev *sdk.Event) {
		if errors.Is(ev.Err, sdk.ErrLinkLost) {
			lost.Add(1)
		} else {
			other.Add(1)
		}
		if lost.Load()+other.Load() == n {
			close(done)
		}
	})
	defer ep.Close()
	for range n {
		ep.Send(sdk.At(b.addr, "Hold"), wrapperspb.String("x"))
	}
	eventually(t, 5*time.Second, "requests held on b", func() bool {
		links := listLinks(t, a).GetLinks()
		return len(links) == 1 && links[0].GetInFlight() == n
	})
	// In flight on a is sent, not received: a request still in b's socket
	// when b stops is rightly answered ErrStopped, not ErrLinkLost.
	eventually(t, 5*time.Second, "requests received by b", func() bool {
		links := listLinks(t, b).GetLinks()
		return len(links) == 1 && links[0].GetReceived() == n
	})
	killed := time.Now()
	b.stop(t)
	select {
	case <-done:
	case <-time.After(time.Second + time.Until(killed.Add(time.Second))):
		t.Fatalf("within a second of the stop: %d lost, %d other, want %d lost", lost.Load(), other.Load(), n)
	}
	if lost.Load() != n {
		t.Errorf("got %d ErrLinkLost and %d other, want %d ErrLinkLost", lost.Load(), other.Load(), n)
	}
}

// TestStaleReplyRefused: a reply from a service on c for a request that
// came from b's previous incarnation never reaches b's new incarnation,
// which has the same address.
func TestStaleReplyRefused(t *testing.T) {
	c := startNode(t, nodeOpts{name: "c"})
	b1 := startNode(t, nodeOpts{name: "b", noStop: true})
	addr := b1.addr
	errs := make(chan error, 1)
	ep := b1.OpenEndpoint(func(ev *sdk.Event) { errs <- ev.Err })
	ep.Send(sdk.At(c.addr, "Hold"), wrapperspb.String("held"))
	eventually(t, 5*time.Second, "request held on c", func() bool {
		links := listLinks(t, b1).GetLinks()
		return len(links) == 1 && links[0].GetInFlight() == 1
	})
	// Sent is not received: stopping b1 before c read the request could
	// lose it in c's socket (a reset discards unread bytes), and b1 would
	// rightly get ErrLinkLost with nothing held on c.
	eventually(t, 5*time.Second, "request received by c", func() bool {
		links := listLinks(t, c).GetLinks()
		return len(links) == 1 && links[0].GetReceived() >= 1
	})
	b1.stop(t)
	wantLinkLost(t, errs)

	b2 := startNode(t, nodeOpts{name: "b", conf: map[string]string{"RPC.bindAddr": addr}})
	if b2.Epoch() == b1.Epoch() {
		t.Fatal("restarted node kept its epoch")
	}
	got := make(chan *sdk.Event, 4)
	ep2 := b2.OpenEndpoint(func(ev *sdk.Event) { got <- ev })
	defer ep2.Close()
	// b2 links to c, then c answers the request b1 made.
	if _, err := request(t, b2, sdk.At(c.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	before := c.Undeliverable()
	ev, err := request(t, b2, sdk.At(c.addr, "Hold"), wrapperspb.Bool(true))
	if err != nil {
		t.Fatal(err)
	}
	if n := ev.Msg.(*wrapperspb.Int64Value).GetValue(); n != 1 {
		t.Fatalf("c answered %d held requests, want 1", n)
	}
	eventually(t, 5*time.Second, "stale reply counted as undeliverable on c", func() bool { return c.Undeliverable() > before })
	select {
	case ev := <-got:
		t.Fatalf("b2 got %v, a reply meant for b1", ev)
	default:
	}
	if b2.Undeliverable() != 0 {
		t.Errorf("b2 counted %d undeliverable events, want 0 (the reply must not reach it)", b2.Undeliverable())
	}
}
