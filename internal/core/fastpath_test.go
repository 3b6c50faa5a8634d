package core

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// TestPanicMidBatch checks that a panic in the middle of a batch fails that
// event only: its sender gets an error event, and the events queued after
// it in the same batch are handled.
func TestPanicMidBatch(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	spec := sdk.Define("Gate", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			switch v := ev.Msg.(*wrapperspb.StringValue).GetValue(); v {
			case "gate":
				entered <- struct{}{}
				<-release
			case "panic":
				panic("boom")
			}
			c.Reply(ev.Msg)
			return nil
		})
	})
	results := make(chan *sdk.Event, 10)
	// The sender is a service: its sends queue the events' parts, which
	// Gate makes into events (svcContext.received), unlike an endpoint's.
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind != sdk.KindRequest {
				results <- ev
				return nil
			}
			c.Send(sdk.To("Gate"), wrapperspb.String("gate"))
			<-entered
			// Queued while the handler waits: one batch of three.
			for _, v := range []string{"a", "panic", "b"} {
				c.Send(sdk.To("Gate"), wrapperspb.String(v))
			}
			close(release)
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{spec, src}})
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		select {
		case ev := <-results:
			if ev.Kind == sdk.KindError {
				if !errors.Is(ev.Err, sdk.ErrHandlerFailed) {
					t.Errorf("got error %v, want ErrHandlerFailed", ev.Err)
				}
				got = append(got, "error")
				continue
			}
			got = append(got, ev.Msg.(*wrapperspb.StringValue).GetValue())
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v, then nothing", got)
		}
	}
	if want := "[gate a error b]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if st := findStats(n, "Gate"); st.Panics != 1 {
		t.Errorf("got panics=%d, want 1", st.Panics)
	}
}

// TestServiceToServiceRefusals checks the short cut a service's Send and
// Reply take to a running local service: a full queue still gives the
// sender an error event (counted once), and replies come back the same way.
func TestServiceToServiceRefusals(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := sdk.Define("Slow", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Msg.(*wrapperspb.StringValue).GetValue() == "0" {
				entered <- struct{}{}
				<-release
			}
			c.Reply(ev.Msg)
			return nil
		})
	}, sdk.QueueLen(1))
	errs := make(chan *sdk.Event, 10)
	replies := make(chan string, 10)
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			switch ev.Kind {
			case sdk.KindError:
				errs <- ev
			case sdk.KindReply:
				replies <- ev.Msg.(*wrapperspb.StringValue).GetValue()
			default:
				// "first" sends 0, taken by Slow's handler; "go" sends 1,
				// which fills Slow's queue, and 2, which is refused.
				vs := []string{"1", "2"}
				if ev.Msg.(*wrapperspb.StringValue).GetValue() == "first" {
					vs = []string{"0"}
				}
				for _, v := range vs {
					c.Send(sdk.To("Slow"), wrapperspb.String(v))
				}
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{slow, src}, Start: []string{"Slow", "Src"}})
	if err := n.Send(sdk.To("Src"), wrapperspb.String("first")); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-errs:
		if !errors.Is(ev.Err, sdk.ErrQueueFull) {
			t.Errorf("got %v, want ErrQueueFull", ev.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no queue-full error event")
	}
	close(release)
	var got []string
	for range 2 {
		select {
		case v := <-replies:
			got = append(got, v)
		case <-time.After(5 * time.Second):
			t.Fatalf("got replies %v, then nothing", got)
		}
	}
	if want := "[0 1]"; fmt.Sprint(got) != want {
		t.Errorf("got replies %v, want %s", got, want)
	}
	if st := findStats(n, "Slow"); st.QueueFull != 1 {
		t.Errorf("got queue_full=%d, want 1 (counted once)", st.QueueFull)
	}
}

// TestSendIsQueuedWhenItReturns: once a handler's Send to a running local
// service returns, the event is in the receiver's queue, so code the handler
// then signals (an HTTP goroutine, a test) can rely on it being ahead of
// anything it sends next, even while the handler is still running.
func TestSendIsQueuedWhenItReturns(t *testing.T) {
	got := make(chan string, 2)
	sink := sdk.Define("Sink", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			got <- ev.Msg.(*wrapperspb.StringValue).GetValue()
			return nil
		})
	})
	sent, release := make(chan struct{}), make(chan struct{})
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			c.Send(sdk.To("Sink"), wrapperspb.String("from the handler"))
			close(sent)
			<-release // still in the handler when the test sends
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{sink, src}, Start: []string{"Sink", "Src"}})
	defer close(release)
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	<-sent
	if err := n.Send(sdk.To("Sink"), wrapperspb.String("from outside")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"from the handler", "from outside"} {
		select {
		case v := <-got:
			if v != want {
				t.Fatalf("got %q, want %q first", v, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q within 5s", want)
		}
	}
}

// TestKeptEventsStayIntact: a handler may keep the events it receives (see
// sdk.Event). Events a handler sends in a burst share allocations, and the
// events sent after them must never reuse their memory.
func TestKeptEventsStayIntact(t *testing.T) {
	const perBurst, bursts = 50, 3
	kept := make(chan []*sdk.Event, 1)
	var all []*sdk.Event
	keep := sdk.Define("Keep", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if all = append(all, ev); len(all) == perBurst*bursts {
				kept <- all
			}
			return nil
		})
	})
	next := uint64(0)
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			for range perBurst {
				c.Send(sdk.To("Keep"), wrapperspb.UInt64(next))
				next++
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{keep, src}, Start: []string{"Keep", "Src"}})
	for range bursts {
		if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
			t.Fatal(err)
		}
	}
	var got []*sdk.Event
	select {
	case got = <-kept:
	case <-time.After(5 * time.Second):
		t.Fatal("the events did not all arrive within 5s")
	}
	ids := map[uint64]bool{}
	for i, ev := range got {
		if v := ev.Msg.(*wrapperspb.UInt64Value).GetValue(); v != uint64(i) || ev.Kind != sdk.KindRequest || ev.Dst != "Keep" || ids[ev.ID] {
			t.Errorf("kept event %d: got value %d kind %v dst %q id %d (seen before: %v), want value %d, a request to Keep with an id of its own",
				i, v, ev.Kind, ev.Dst, ev.ID, ids[ev.ID], i)
		}
		ids[ev.ID] = true
	}
}

// TestIdleServiceKeepsNoEvents: once its batch is done, a service's
// goroutine holds on to none of the events it handled or sent (neither the
// last event handled nor spare room in the chunks of events it made or
// sent), so their payloads can be collected. A receiver with one queue
// makes the events itself; a Workers receiver's are made by the sender.
func TestIdleServiceKeepsNoEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []sdk.Option
	}{
		{"queued", nil},
		{"workers", []sdk.Option{sdk.Workers(2, func(*sdk.Event) uint64 { return 0 })}},
	} {
		t.Run(tc.name, func(t *testing.T) { testIdleServiceKeepsNoEvents(t, tc.opts...) })
	}
}

func testIdleServiceKeepsNoEvents(t *testing.T, opts ...sdk.Option) {
	const burst = 4 // a sender's fourth lands in a chunk with spare room
	var payloads []weak.Pointer[wrapperspb.UInt64Value]
	arrived := make(chan struct{}, 1)
	count := 0
	dst := sdk.Define("Dst", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if count++; count == burst {
				arrived <- struct{}{}
			}
			return nil
		})
	}, opts...)
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			for i := range uint64(burst) {
				m := wrapperspb.UInt64(i)
				payloads = append(payloads, weak.Make(m))
				c.Send(sdk.To("Dst"), m)
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{dst, src}, Start: []string{"Dst", "Src"}})
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the events did not all arrive within 5s")
	}
	// Both services end their batch soon after the last event arrives; no
	// event reaches them after it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		live := 0
		for _, p := range payloads {
			if p.Value() != nil {
				live++
			}
		}
		if live == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d payloads still reachable 5s after their services went idle", live, burst)
		}
		time.Sleep(time.Millisecond)
	}
}
