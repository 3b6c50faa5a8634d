package core

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/sdk"
)

// collector is a queued service (queue limit limit) that passes on to got
// the string values it is sent, except "hold": on that one it closes
// entered and waits in its handler until release is closed.
func collector(name string, limit int, got chan<- string, entered chan<- struct{}, release <-chan struct{}) sdk.Spec {
	return sdk.Define(name, func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			v := ev.Msg.(*wrapperspb.StringValue).GetValue()
			if v == "hold" {
				close(entered)
				<-release
				return nil
			}
			got <- v
			return nil
		})
	}, sdk.QueueLen(limit))
}

// TestBurstKeepsOrderAcrossServices: the events of one handler call reach
// their receivers in the order they were sent: Src sends a burst to Dst,
// then asks Mid to send Dst something, and waits until Mid has. Dst must
// see the whole burst first.
func TestBurstKeepsOrderAcrossServices(t *testing.T) {
	const burst = 96
	got := make(chan string, 2*burst)
	forwarded := make(chan struct{}, 1)
	dst := sdk.Define("Dst", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			got <- ev.Msg.(*wrapperspb.StringValue).GetValue()
			return nil
		})
	})
	mid := sdk.Define("Mid", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind == sdk.KindRequest {
				c.Send(sdk.To("Dst"), wrapperspb.String("from Mid"))
				forwarded <- struct{}{}
			}
			return nil
		})
	})
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind != sdk.KindRequest {
				return nil
			}
			for i := range burst {
				c.Send(sdk.To("Dst"), wrapperspb.String(strconv.Itoa(i)))
			}
			c.Send(sdk.To("Mid"), wrapperspb.String("go"))
			<-forwarded // Mid has queued its event: still in this handler
			c.Send(sdk.To("Dst"), wrapperspb.String("last"))
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{dst, mid, src}, Start: []string{"Dst", "Mid", "Src"}})
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	for i := range burst {
		if v := testwait.Recv(t, got, "event "+strconv.Itoa(i)); v != strconv.Itoa(i) {
			t.Fatalf("event %d: got %q, want %q (a burst's events must arrive in order, before what its sender caused later)", i, v, strconv.Itoa(i))
		}
	}
	for _, want := range []string{"from Mid", "last"} {
		if v := testwait.Recv(t, got, want); v != want {
			t.Fatalf("got %q, want %q", v, want)
		}
	}
}

// TestBurstToEachDeliveryKind: a handler's burst to one receiver reaches
// it as that receiver's delivery kind says, whichever way Send takes (the
// first event of a burst is routed, the next ones take Send's short cut to
// the service it sent to last): a Workers receiver gets each key on one
// worker and the four keys on four, in order; an Inline one runs on the
// sender's goroutine; a queued one on its own.
func TestBurstToEachDeliveryKind(t *testing.T) {
	const keys, per = "abcd", 50
	for _, tc := range []struct {
		name    string
		opts    []sdk.Option
		workers int // distinct goroutines the receiver must use
	}{
		{"queued", nil, 1},
		{"workers", []sdk.Option{sdk.Workers(len(keys), func(ev *sdk.Event) uint64 {
			return uint64(ev.Msg.(*wrapperspb.StringValue).GetValue()[0])
		})}, len(keys)},
		{"inline", []sdk.Option{sdk.Inline()}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type handled struct {
				v  string
				on uint64 // goroutine id
			}
			got := make(chan handled, len(keys)*per)
			sender := make(chan uint64, 1)
			dst := sdk.Define("Dst", func() sdk.Service {
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					got <- handled{ev.Msg.(*wrapperspb.StringValue).GetValue(), goid(t)}
					return nil
				})
			}, tc.opts...)
			src := sdk.Define("Src", func() sdk.Service {
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					sender <- goid(t)
					for i := range per {
						for _, k := range keys {
							c.Send(sdk.To("Dst"), wrapperspb.String(fmt.Sprintf("%c%04d", k, i)))
						}
					}
					return nil
				})
			})
			n := newNode(t, Config{Services: []sdk.Spec{dst, src}, Start: []string{"Dst", "Src"}})
			if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
				t.Fatal(err)
			}
			srcG := testwait.Recv(t, sender, "burst")
			next := map[byte]int{}
			on := map[byte]uint64{}
			goroutines := map[uint64]bool{}
			for range len(keys) * per {
				h := testwait.Recv(t, got, "event")
				k := h.v[0]
				if want := fmt.Sprintf("%c%04d", k, next[k]); h.v != want {
					t.Fatalf("got %s, want %s: a key's events must arrive in the order sent", h.v, want)
				}
				next[k]++
				if g, ok := on[k]; ok && g != h.on {
					t.Fatalf("key %c handled on goroutines %d and %d, want one", k, g, h.on)
				}
				on[k] = h.on
				goroutines[h.on] = true
				if tc.name == "inline" && h.on != srcG {
					t.Fatalf("%s handled on goroutine %d, want the sender's (%d)", h.v, h.on, srcG)
				}
				if tc.name != "inline" && h.on == srcG {
					t.Fatalf("%s handled on the sender's goroutine, want the receiver's own", h.v)
				}
			}
			if len(goroutines) != tc.workers {
				t.Fatalf("events handled on %d goroutines, want %d", len(goroutines), tc.workers)
			}
		})
	}
}

// TestBurstIsQueuedWhenSendReturns: every event of a burst, not only the
// first, is in its receiver's queue when Send returns, so what the handler
// then signals to another goroutine comes after all of them (as
// TestSendIsQueuedWhenItReturns checks for one event). Sends gathered and
// queued when the handler returns would break this; the Timer's test
// harness, which signals from inside a handler, relies on it.
func TestBurstIsQueuedWhenSendReturns(t *testing.T) {
	const burst = 200
	got := make(chan string, burst+1)
	sink := sdk.Define("Sink", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			got <- ev.Msg.(*wrapperspb.StringValue).GetValue()
			return nil
		})
	})
	sent, release := make(chan struct{}), make(chan struct{})
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			for i := range burst {
				c.Send(sdk.To("Sink"), wrapperspb.String(strconv.Itoa(i)))
			}
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
	for i := range burst {
		if v := testwait.Recv(t, got, "event "+strconv.Itoa(i)); v != strconv.Itoa(i) {
			t.Fatalf("event %d: got %q, want %q (all of the burst before what came after Send returned)", i, v, strconv.Itoa(i))
		}
	}
	if v := testwait.Recv(t, got, "the outside event"); v != "from outside" {
		t.Fatalf("got %q, want %q", v, "from outside")
	}
}

// TestBurstPastQueueLimit: a burst longer than the receiver's queue limit
// fills the queue and no more: every event past the limit comes back to the
// sender as a queue-full error event, each counted once, and the receiver
// gets the ones admitted, in order.
func TestBurstPastQueueLimit(t *testing.T) {
	const limit, burst = 100, 158
	release := make(chan struct{})
	entered := make(chan struct{})
	got := make(chan string, burst)
	slow := collector("Slow", limit, got, entered, release)
	errs := make(chan *sdk.Event, burst)
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind == sdk.KindError {
				errs <- ev
				return nil
			}
			for i := range burst {
				c.Send(sdk.To("Slow"), wrapperspb.String(strconv.Itoa(i)))
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{slow, src}, Start: []string{"Slow", "Src"}})
	if err := n.Send(sdk.To("Slow"), wrapperspb.String("hold")); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	refused := map[uint64]bool{}
	for range burst - limit {
		ev := testwait.Recv(t, errs, "queue-full error event")
		if !errors.Is(ev.Err, sdk.ErrQueueFull) {
			t.Fatalf("got error %v, want ErrQueueFull", ev.Err)
		}
		refused[ev.ID] = true
	}
	if len(refused) != burst-limit {
		t.Fatalf("got %d distinct refused requests, want %d", len(refused), burst-limit)
	}
	close(release)
	for i := range limit {
		if v := testwait.Recv(t, got, "admitted event"); v != strconv.Itoa(i) {
			t.Fatalf("admitted event %d: got %q, want %q", i, v, strconv.Itoa(i))
		}
	}
	select {
	case v := <-got:
		t.Fatalf("got %q past the queue limit", v)
	case ev := <-errs:
		t.Fatalf("got an extra error event: %v", ev.Err)
	case <-time.After(50 * time.Millisecond):
	}
	if st := findStats(n, "Slow"); st.QueueFull != burst-limit {
		t.Errorf("got queue_full=%d, want %d", st.QueueFull, burst-limit)
	}
}

// TestBurstSurvivesFailingHandler: what a handler sent before it failed or
// panicked is delivered, ahead of the error event its failure causes.
func TestBurstSurvivesFailingHandler(t *testing.T) {
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			const burst = 67
			got := make(chan string, burst)
			sink := sdk.Define("Sink", func() sdk.Service {
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					got <- ev.Msg.(*wrapperspb.StringValue).GetValue()
					return nil
				})
			})
			bad := sdk.Define("Bad", func() sdk.Service {
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					for i := range burst {
						c.Send(sdk.To("Sink"), wrapperspb.String(strconv.Itoa(i)))
					}
					if how == "panic" {
						panic("after a burst")
					}
					return fmt.Errorf("after a burst")
				})
			})
			n := newNode(t, Config{Services: []sdk.Spec{sink, bad}, Start: []string{"Sink", "Bad"}})
			rep, err := n.Request(t.Context(), sdk.To("Bad"), wrapperspb.String("go"))
			if err == nil {
				t.Fatalf("got reply %v, want the handler's failure", rep)
			}
			for i := range burst {
				if v := testwait.Recv(t, got, "event "+strconv.Itoa(i)); v != strconv.Itoa(i) {
					t.Fatalf("event %d: got %q", i, v)
				}
			}
		})
	}
}
