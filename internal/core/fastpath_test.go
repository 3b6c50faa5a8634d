package core

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// TestPanicMidBatch checks that a panic in the middle of a batch fails that
// event only: the events queued after it in the same batch are handled.
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
	n := newNode(t, Config{Services: []sdk.Spec{spec}})
	results := make(chan *sdk.Event, 10)
	ep := n.OpenEndpoint(func(ev *sdk.Event) { results <- ev })
	defer ep.Close()
	ep.Send(sdk.To("Gate"), wrapperspb.String("gate"))
	<-entered
	// Queued while the handler waits: one batch of three.
	for _, v := range []string{"a", "panic", "b"} {
		ep.Send(sdk.To("Gate"), wrapperspb.String(v))
	}
	close(release)
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

// TestHandlerBurst checks the events a handler sends in one call to a
// running local service (held and pushed together): the receiver gets them
// in the order sent, across a switch to another destination, up to its
// queue limit; each one past the limit comes back to the sender as its own
// queue-full error event, and the counters say so.
func TestHandlerBurst(t *testing.T) {
	const limit, burst, switchAt = 16, 40, 10
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var sinkGot, otherGot []string
	sinkDone := make(chan struct{})
	sink := sdk.Define("Sink", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			v := ev.Msg.(*wrapperspb.StringValue).GetValue()
			if v == "block" {
				entered <- struct{}{}
				<-release
				return nil
			}
			if sinkGot = append(sinkGot, v); len(sinkGot) == limit {
				close(sinkDone)
			}
			return nil
		})
	}, sdk.QueueLen(limit))
	otherDone := make(chan struct{})
	other := sdk.Define("Other", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			otherGot = append(otherGot, ev.Msg.(*wrapperspb.StringValue).GetValue())
			close(otherDone)
			return nil
		})
	})
	refused := make(chan string, burst)
	src := sdk.Define("Src", func() sdk.Service {
		ids := map[uint64]string{}
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind == sdk.KindError {
				if !errors.Is(ev.Err, sdk.ErrQueueFull) {
					t.Errorf("got error %v, want ErrQueueFull", ev.Err)
				}
				refused <- ids[ev.ID]
				return nil
			}
			for i := range burst {
				if i == switchAt {
					c.Send(sdk.To("Other"), wrapperspb.String("o"))
				}
				v := fmt.Sprint("a", i)
				ids[c.Send(sdk.To("Sink"), wrapperspb.String(v))] = v
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{sink, other, src}, Start: []string{"Sink", "Other", "Src"}})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	if err := n.Send(sdk.To("Sink"), wrapperspb.String("block")); err != nil {
		t.Fatal(err)
	}
	<-entered // Sink's queue is empty and its handler busy
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	var gotRefused []string
	for range burst - limit {
		select {
		case v := <-refused:
			gotRefused = append(gotRefused, v)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d queue-full error events, want %d", len(gotRefused), burst-limit)
		}
	}
	for i, v := range gotRefused {
		if want := fmt.Sprint("a", limit+i); v != want {
			t.Fatalf("refused #%d: got %s, want %s (all: %v)", i, v, want, gotRefused)
		}
	}
	close(release)
	for _, ch := range []chan struct{}{sinkDone, otherDone} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("Sink got %v, Other got %v; want %d and 1 events", sinkGot, otherGot, limit)
		}
	}
	for i, v := range sinkGot {
		if want := fmt.Sprint("a", i); v != want {
			t.Fatalf("Sink got %v, want a0..a%d in order", sinkGot, limit-1)
		}
	}
	if st := findStats(n, "Sink"); st.QueueFull != burst-limit || st.QueueHigh != limit {
		t.Errorf("got queue_full=%d high=%d, want %d and %d", st.QueueFull, st.QueueHigh, burst-limit, limit)
	}
	select {
	case v := <-refused:
		t.Errorf("an extra refusal: %s", v)
	default:
	}
}
