package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/client"
	"github.com/mtnode/mtnode/sdk"
)

// pusherSpec answers a UInt64Value request n with n replies, 0 to n-1.
var pusherSpec = sdk.Define("Pusher", func() sdk.Service {
	return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
		if ev.Kind != sdk.KindRequest {
			return nil
		}
		n, ok := ev.Msg.(*wrapperspb.UInt64Value)
		if !ok {
			return errors.New("pusher: want a UInt64Value count")
		}
		for i := range n.GetValue() {
			c.Reply(wrapperspb.UInt64(i))
		}
		return nil
	})
})

// next returns the next answer of sub, failing after 5 s.
func next(t *testing.T, sub *client.Subscription) (*sdk.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		return ev, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5s")
		return nil, false
	}
}

// TestSubscribe: every answer to one request reaches the subscription, in
// order and decoded; an error event arrives as an event and the
// subscription goes on; Close ends it cleanly.
func TestSubscribe(t *testing.T) {
	_, addr := startNode(t, conf{}, pusherSpec)
	c := dial(t, addr)
	sub, err := c.Subscribe(sdk.To("Pusher"), wrapperspb.UInt64(50), 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(50) {
		ev, ok := next(t, sub)
		if !ok {
			t.Fatalf("subscription ended after %d answers: %v", i, sub.Err())
		}
		if got := ev.Msg.(*wrapperspb.UInt64Value).GetValue(); ev.Kind != sdk.KindReply || got != i {
			t.Fatalf("answer %d: got %v %v, want reply %d", i, ev.Kind, ev.Msg, i)
		}
	}
	sub.Close()
	if _, ok := next(t, sub); ok || sub.Err() != nil {
		t.Errorf("after Close: the channel is open or Err is %v; want it closed, Err nil", sub.Err())
	}

	// An error that means nothing more can come ends the subscription
	// after it; a service's own failure does not.
	missing, err := c.Subscribe(sdk.To("Pushr"), wrapperspb.UInt64(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev, ok := next(t, missing); !ok || ev.Kind != sdk.KindError || !errors.Is(ev.Err, sdk.ErrNoService) {
		t.Errorf("subscribing to a missing service: got %v (open %v), want an ErrNoService error event", ev, ok)
	}
	if _, ok := next(t, missing); ok || !errors.Is(missing.Err(), sdk.ErrNoService) {
		t.Errorf("after ErrNoService: open %v, Err %v; want the subscription ended with ErrNoService", ok, missing.Err())
	}
	failing, err := c.Subscribe(sdk.To("Pusher"), wrapperspb.String("not a count"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer failing.Close()
	if ev, ok := next(t, failing); !ok || ev.Kind != sdk.KindError || !errors.Is(ev.Err, sdk.ErrHandlerFailed) {
		t.Errorf("a request Pusher's handler fails: got %v (open %v), want an ErrHandlerFailed error event", ev, ok)
	}
	select {
	case _, ok := <-failing.Events():
		t.Errorf("after the service's own failure the subscription ended (open %v, Err %v); it should go on", ok, failing.Err())
	case <-time.After(50 * time.Millisecond):
	}
}

// TestSubscribeSlowReader: a subscriber that does not keep up loses its
// subscription with ErrQueueFull, not the link: the link's reader never
// waits for it, and other calls go on.
func TestSubscribeSlowReader(t *testing.T) {
	_, addr := startNode(t, conf{}, pusherSpec)
	c := dial(t, addr)
	sub, err := c.Subscribe(sdk.To("Pusher"), wrapperspb.UInt64(10), 3)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing reads the subscription until it has ended.
	for deadline := time.Now().Add(5 * time.Second); sub.Err() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the subscription did not end within 5s of ten answers to a buffer of three")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, sdk.To("Echo"), wrapperspb.String("x")); err != nil {
		t.Fatalf("a call after the slow subscriber's overflow: %v", err)
	}
	var got int
	for range 4 {
		if _, ok := next(t, sub); !ok {
			break
		}
		got++
	}
	if got != 3 || !errors.Is(sub.Err(), sdk.ErrQueueFull) {
		t.Errorf("got %d answers and Err %v; want the 3 buffered, then the end with ErrQueueFull", got, sub.Err())
	}
}

// TestSubscribeLinkLost: when the link ends, every subscription ends with
// ErrLinkLost.
func TestSubscribeLinkLost(t *testing.T) {
	n, addr := startNode(t, conf{}, pusherSpec)
	c := dial(t, addr)
	sub, err := c.Subscribe(sdk.To("Pusher"), wrapperspb.UInt64(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := next(t, sub); !ok {
		t.Fatal("no first answer")
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := next(t, sub); ok || !errors.Is(sub.Err(), sdk.ErrLinkLost) {
		t.Errorf("after the node stopped: open %v, Err %v; want closed with ErrLinkLost", ok, sub.Err())
	}
	if _, err := c.Subscribe(sdk.To("Pusher"), wrapperspb.UInt64(1), 0); !errors.Is(err, sdk.ErrLinkLost) {
		t.Errorf("Subscribe on a closed link: got %v, want ErrLinkLost", err)
	}
}
