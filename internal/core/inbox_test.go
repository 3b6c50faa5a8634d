package core

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/sdk"
)

// TestInbox: what a link reader hands an Inbox reaches each service in
// order once flushed; a run past a queue's limit is refused with counted
// error events to the sender; and what the Inbox does not take (replies,
// inline services, names it does not know) is left to the caller.
func TestInbox(t *testing.T) {
	const limit = 100
	got := map[string]chan string{"A": make(chan string, 300), "B": make(chan string, 300)}
	release := make(chan struct{})
	entered := make(chan struct{})
	collect := func(name string) sdk.Spec { return collector(name, limit, got[name], entered, release) }
	inline := sdk.Define("I", func() sdk.Service {
		return sdk.HandlerFunc(func(sdk.Context, *sdk.Event) error { return nil })
	}, sdk.Inline())
	n := newNode(t, Config{Services: []sdk.Spec{collect("A"), collect("B"), inline}, Start: []string{"A", "B", "I"}})
	errs := make(chan *sdk.Event, 300)
	ep := n.openEndpoint(func(ev *sdk.Event) { errs <- ev }, nil)
	defer ep.Close()
	id := uint64(0)
	req := func(dst, v string) *sdk.Event {
		id++
		return &sdk.Event{Kind: sdk.KindRequest, ID: id, Dst: dst, Msg: wrapperspb.String(v), Route: ep.route}
	}

	in := n.NewInbox()
	if in.Deliver(req("I", "x")) {
		t.Error("Deliver took an event for an inline service")
	}
	if in.Deliver(req("Nobody", "x")) {
		t.Error("Deliver took an event for a service that does not exist")
	}
	if in.Deliver(&sdk.Event{Kind: sdk.KindReply, ID: 1, Route: sdk.Route{{Kind: sdk.HopService, Name: "A"}}}) {
		t.Error("Deliver took a reply")
	}

	// Interleaved runs: A0..A69, B0..B9, A70..A99 (more than outMax each
	// time), then one flush.
	for i := range 70 {
		mustTake(t, in, req("A", "A"+strconv.Itoa(i)))
	}
	for i := range 10 {
		mustTake(t, in, req("B", "B"+strconv.Itoa(i)))
	}
	for i := 70; i < 100; i++ {
		mustTake(t, in, req("A", "A"+strconv.Itoa(i)))
	}
	in.Flush()
	for name, count := range map[string]int{"A": 100, "B": 10} {
		for i := range count {
			if v, want := testwait.Recv(t, got[name], name+" event"), name+strconv.Itoa(i); v != want {
				t.Fatalf("%s: got %q, want %q (in order)", name, v, want)
			}
		}
	}

	// Past the limit: A is held in its handler, 1 + limit + 30 arrive.
	mustTake(t, in, req("A", "hold"))
	in.Flush()
	<-entered
	for i := range limit + 30 {
		mustTake(t, in, req("A", strconv.Itoa(i)))
	}
	in.Flush()
	for range 30 {
		if ev := testwait.Recv(t, errs, "queue-full error event"); !errors.Is(ev.Err, sdk.ErrQueueFull) {
			t.Fatalf("got %v, want ErrQueueFull", ev.Err)
		}
	}
	close(release)
	for i := range limit {
		if v := testwait.Recv(t, got["A"], "admitted event"); v != strconv.Itoa(i) {
			t.Fatalf("admitted event %d: got %q", i, v)
		}
	}
	select {
	case v := <-got["A"]:
		t.Fatalf("got %q past the limit", v)
	case <-time.After(50 * time.Millisecond):
	}
	if st := findStats(n, "A"); st.QueueFull != 30 {
		t.Errorf("got queue_full=%d, want 30", st.QueueFull)
	}
}

func mustTake(t *testing.T, in *Inbox, ev *sdk.Event) {
	t.Helper()
	if !in.Deliver(ev) {
		t.Fatalf("Deliver left %s's event to the caller", ev.Dst)
	}
}
