package rpc_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/sdk"
)

// gate answers every request with its payload, but its first request
// blocks the service until open is closed.
type gate struct {
	open    chan struct{}
	entered chan struct{} // closed when the first request blocks
	blocked bool
}

func (g *gate) Handle(c sdk.Context, ev *sdk.Event) error {
	if !g.blocked {
		g.blocked = true
		close(g.entered)
		<-g.open
	}
	c.Reply(ev.Msg)
	return nil
}

// TestStoppingNodeRefusesNewRequests: a node that begins to stop closes its
// RPC port and answers new requests from peers with ErrStopped at once,
// while requests it took before are still answered over the same link.
func TestStoppingNodeRefusesNewRequests(t *testing.T) {
	g := &gate{open: make(chan struct{}), entered: make(chan struct{})}
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b", noStop: true,
		services: []sdk.Spec{sdk.Define("Gate", func() sdk.Service { return g })}})
	defer func() {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	}()

	// Echo runs: without the refusal it would answer during the drain.
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("warm")); err != nil {
		t.Fatal(err)
	}
	// Two requests taken before the stop: one in Gate's handler, one in
	// its queue, so that b's drain lasts until the gate opens.
	answers := make(chan error, 2)
	for _, v := range []string{"first", "second"} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ev, err := a.Request(ctx, sdk.At(b.addr, "Gate"), wrapperspb.String(v))
			if err == nil && ev.Msg.(*wrapperspb.StringValue).GetValue() != v {
				err = errors.New("wrong answer")
			}
			answers <- err
		}()
		eventually(t, 5*time.Second, "Gate to receive "+v, func() bool {
			select {
			case <-g.entered:
			default:
				return false
			}
			for _, st := range b.Stats() {
				if st.Name == "Gate" && v == "second" {
					return st.QueueLen == 1
				}
			}
			return true
		})
	}

	stop := testwait.Go(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return b.Stop(ctx)
	})

	// b still drains Gate's queue; a new request from a is refused at once.
	var refusal error
	eventually(t, 5*time.Second, "b to refuse new requests", func() bool {
		_, refusal = request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("new"))
		return refusal != nil
	})
	var de *sdk.DeliveryError
	if !errors.Is(refusal, sdk.ErrStopped) || !errors.As(refusal, &de) || de.Hop != "b" {
		t.Errorf("new request to a stopping node: got %#v, want ErrStopped from b", refusal)
	}
	if c, err := net.DialTimeout("tcp", b.addr, time.Second); err == nil {
		c.Close()
		t.Error("the RPC port still accepts connections while the node stops")
	}
	stop.Running(t, "b's Stop, with requests still queued,")

	close(g.open)
	for range 2 {
		select {
		case err := <-answers:
			if err != nil {
				t.Errorf("a request taken before the stop: %v, want its answer", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a request taken before the stop got no answer")
		}
	}
	if err := stop.Wait(t, "b's Stop"); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// answerAtStop keeps the requests it gets, and answers them all in its
// Stop, as a service that flushes its work when the node stops does.
type answerAtStop struct {
	h    sdk.Handle
	held []*sdk.Event
	got  chan<- struct{} // a token per request kept
}

func (s *answerAtStop) Start(c sdk.Context) error { s.h = c.Handle(); return nil }

func (s *answerAtStop) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind == sdk.KindRequest {
		s.held = append(s.held, ev)
		s.got <- struct{}{}
	}
	return nil
}

func (s *answerAtStop) Stop(context.Context) error {
	for _, ev := range s.held {
		s.h.ReplyTo(ev, ev.Msg)
	}
	return nil
}

// TestStopWritesWhatLinksHold: answers queued on its links when RPC stops
// (here 2,000 that a service sends from its own Stop, just before RPC's)
// are written before the links close: the peer gets every one of them,
// not ErrLinkLost.
func TestStopWritesWhatLinksHold(t *testing.T) {
	const n = 2000
	got := make(chan struct{}, n)
	late := sdk.Define("Late", func() sdk.Service { return &answerAtStop{got: got} })
	b := startNode(t, nodeOpts{name: "b", noStop: true, services: []sdk.Spec{late}})
	a := startNode(t, nodeOpts{name: "a"})
	answers := make(chan *sdk.Event, n)
	ep := a.OpenEndpoint(func(ev *sdk.Event) { answers <- ev })
	defer ep.Close()
	for i := range n {
		ep.Send(sdk.At(b.addr, "Late"), wrapperspb.Int64(int64(i)))
	}
	for range n {
		testwait.Recv(t, got, "request kept by Late")
	}
	b.stop(t) // Late, started after RPC, stops first
	for i := range n {
		if ev := testwait.Recv(t, answers, "answer"); ev.Kind != sdk.KindReply {
			t.Fatalf("answer %d of %d: got %v (%v), want a reply", i+1, n, ev.Kind, ev.Err)
		}
	}
}
