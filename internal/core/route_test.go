package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/sdk"
)

// chain builds A -> B -> C where B either relays (sees the reply and passes
// it on) or forwards (the reply skips it), and C answers "C(<input>)".
func chainNode(t *testing.T, mode string, seenAtB *[]string, mu *sync.Mutex) *Node {
	a := sdk.Define("A", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			return nil
		})
	})
	b := sdk.Define("B", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			mu.Lock()
			*seenAtB = append(*seenAtB, ev.Kind.String()+":"+ev.Msg.(*wrapperspb.StringValue).GetValue())
			mu.Unlock()
			switch {
			case ev.Kind == sdk.KindReply:
				c.Reply(wrapperspb.String("B(" + ev.Msg.(*wrapperspb.StringValue).GetValue() + ")"))
			case mode == "relay":
				c.Relay(sdk.To("C"), ev.Msg)
			default:
				c.Forward(sdk.To("C"), nil)
			}
			return nil
		})
	})
	cc := sdk.Define("C", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			c.Reply(wrapperspb.String("C(" + ev.Msg.(*wrapperspb.StringValue).GetValue() + ")"))
			return nil
		})
	})
	return newNode(t, Config{Services: []sdk.Spec{a, b, cc}})
}

func TestRelayAndForward(t *testing.T) {
	for _, tc := range []struct {
		name, mode, want string
		seen             []string
	}{
		{"relay: the reply passes through B", "relay", "B(C(x))", []string{"request:x", "reply:C(x)"}},
		{"forward: the reply skips B", "forward", "C(x)", []string{"request:x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			n := chainNode(t, tc.mode, &seen, &mu)
			ev, err := request(t, n, sdk.To("B"), wrapperspb.String("x"))
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.Msg.(*wrapperspb.StringValue).GetValue(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(seen, ",") != strings.Join(tc.seen, ",") {
				t.Errorf("B saw %v, want %v", seen, tc.seen)
			}
			if len(ev.Route) != 0 {
				t.Errorf("reply arrived with route %v, want empty", ev.Route)
			}
		})
	}
}

func TestRequestIDsCorrelateReplies(t *testing.T) {
	got := make(chan *sdk.Event, 10)
	client := sdk.Define("Client", func() sdk.Service {
		ids := map[uint64]string{}
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			switch ev.Kind {
			case sdk.KindRequest: // the trigger: fan out three requests
				for _, s := range []string{"a", "b", "c"} {
					ids[c.Send(sdk.To("Echo"), wrapperspb.String(s))] = s
				}
				c.Send(sdk.To("Missing"), wrapperspb.String("z"))
			case sdk.KindReply:
				if ids[ev.ID] != ev.Msg.(*wrapperspb.StringValue).GetValue() {
					return fmt.Errorf("reply %d carries %v, sent %q", ev.ID, ev.Msg, ids[ev.ID])
				}
				got <- ev
			case sdk.KindError:
				got <- ev
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{client, echoSpec}})
	if err := n.Send(sdk.To("Client"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	var replies, errs int
	for range 4 {
		select {
		case ev := <-got:
			if ev.Kind == sdk.KindError {
				errs++
				if !errors.Is(ev.Err, sdk.ErrNoService) {
					t.Errorf("got error %v, want ErrNoService", ev.Err)
				}
			} else {
				replies++
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timed out waiting for replies")
		}
	}
	if replies != 3 || errs != 1 {
		t.Errorf("got %d replies and %d errors, want 3 and 1", replies, errs)
	}
	if st := findStats(n, "Client"); st.Errors != 0 {
		t.Errorf("client handler failed %d times", st.Errors)
	}
}

// slowService defines Slow, with a queue limit of 2: each event's handler
// signals entered (when it has room), waits until release is closed and
// answers the event with its own payload.
func slowService(release <-chan struct{}, entered chan<- struct{}) sdk.Spec {
	return sdk.Define("Slow", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			c.Reply(ev.Msg)
			return nil
		})
	}, sdk.QueueLen(2))
}

func TestQueueFull(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := slowService(release, entered)
	n := newNode(t, Config{Services: []sdk.Spec{slow}})
	defer close(release)
	results := make(chan *sdk.Event, 10)
	ep := n.OpenEndpoint(func(ev *sdk.Event) { results <- ev })
	defer ep.Close()
	ep.Send(sdk.To("Slow"), wrapperspb.String("0")) // taken by the handler
	<-entered
	for i := 1; i <= 3; i++ { // 1 and 2 fill the queue, 3 is refused
		ep.Send(sdk.To("Slow"), wrapperspb.String(fmt.Sprint(i)))
	}
	select {
	case ev := <-results:
		if !errors.Is(ev.Err, sdk.ErrQueueFull) {
			t.Fatalf("got %v, want ErrQueueFull", ev.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no queue-full error event")
	}
	if st := findStats(n, "Slow"); st.QueueFull != 1 || st.QueueHigh != 2 {
		t.Errorf("got queue_full=%d high=%d, want 1 and 2", st.QueueFull, st.QueueHigh)
	}
}

// TestQueueFullFromService: a service's Send to a full local queue (the
// short cut that queues the event's parts) comes back to the sender as an
// error event naming the refused event's type and destination, and
// queue_full moves.
func TestQueueFullFromService(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := slowService(release, entered)
	errs := make(chan *sdk.Event, 10)
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			switch ev.Kind {
			case sdk.KindError:
				errs <- ev
				return nil
			case sdk.KindReply: // Slow's answers, once released
				return nil
			}
			c.Send(sdk.To("Slow"), wrapperspb.String("0")) // taken by the handler
			<-entered
			for i := 1; i <= 3; i++ { // 1 and 2 fill the queue, 3 is refused
				c.Send(sdk.To("Slow"), wrapperspb.String(fmt.Sprint(i)))
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{slow, src}, Start: []string{"Slow", "Src"}})
	defer close(release)
	if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-errs:
		if !errors.Is(ev.Err, sdk.ErrQueueFull) || ev.Err.Dst != "Slow" || ev.Err.EventType != "google.protobuf.StringValue" {
			t.Fatalf("got %v (dst %q, type %q), want ErrQueueFull for a StringValue to Slow", ev.Err, ev.Err.Dst, ev.Err.EventType)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no queue-full error event")
	}
	if st := findStats(n, "Slow"); st.QueueFull != 1 || st.QueueHigh != 2 {
		t.Errorf("got queue_full=%d high=%d, want 1 and 2", st.QueueFull, st.QueueHigh)
	}
}

// TestReplyReserve: past its queue limit a service refuses requests (the
// sender gets a queue-full error event, queue_full moves) but still takes
// replies, up to a reserve of the limit again, since they answer requests
// it made; past the reserve a reply is dropped, logged and counted in
// Node.DroppedReplies and queue_full. Hold (limit 2) asks Late three
// questions and then waits in its handler; Late keeps the questions and
// answers them when told, by Context.ReplyTo (the short cut to a local
// service) or by Handle.ReplyTo (through the router).
func TestReplyReserve(t *testing.T) {
	const limit = 2
	for _, mode := range []string{"context", "handle", "try"} {
		t.Run(mode, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			free := sync.OnceFunc(func() { close(release) })
			defer free()
			handled := make(chan string, 10)
			hold := sdk.Define("Hold", func() sdk.Service {
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					if ev.Kind == sdk.KindError {
						handled <- "error: " + ev.Err.Error()
						return nil
					}
					v := ev.Msg.(*wrapperspb.StringValue).GetValue()
					if ev.Kind == sdk.KindReply {
						v = "reply " + v
					}
					if v == "ask" {
						for _, q := range []string{"r1", "r2", "r3"} {
							c.Send(sdk.To("Late"), wrapperspb.String(q))
						}
						close(entered)
						<-release
						return nil
					}
					handled <- v
					return nil
				})
			}, sdk.QueueLen(limit))
			kept := make(chan string, 3)
			late := sdk.Define("Late", func() sdk.Service {
				var questions []*sdk.Event
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					v := ev.Msg.(*wrapperspb.StringValue).GetValue()
					if v != "answer" {
						questions = append(questions, ev)
						kept <- v
						return nil
					}
					q := questions[0]
					questions = questions[1:]
					outcome := "answered "
					switch mode {
					case "context":
						c.ReplyTo(q, q.Msg)
					case "handle":
						c.Handle().ReplyTo(q, q.Msg)
					case "try":
						if err := c.Handle().TryReplyTo(q, q.Msg); errors.Is(err, sdk.ErrQueueFull) {
							outcome = "refused "
						}
					}
					c.Reply(wrapperspb.String(outcome + q.Msg.(*wrapperspb.StringValue).GetValue()))
					return nil
				})
			})
			logs := newLogRecorder()
			n := newNode(t, Config{Services: []sdk.Spec{hold, late}, Logger: slog.New(logs)})
			refusals := make(chan *sdk.Event, 10)
			ep := n.OpenEndpoint(func(ev *sdk.Event) { refusals <- ev })
			defer ep.Close()
			check := func(when string, queued, queueFull, dropped int) {
				t.Helper()
				st := findStats(n, "Hold")
				if st.QueueLen != queued || st.QueueFull != uint64(queueFull) || n.DroppedReplies() != uint64(dropped) {
					t.Fatalf("%s: got queued=%d queue_full=%d dropped_replies=%d, want %d, %d and %d",
						when, st.QueueLen, st.QueueFull, n.DroppedReplies(), queued, queueFull, dropped)
				}
			}
			refused := func(q string) {
				t.Helper()
				ep.Send(sdk.To("Hold"), wrapperspb.String(q))
				ev := testwait.Recv(t, refusals, "error event for "+q)
				if ev.Kind != sdk.KindError || ev.Err.Code != sdk.CodeQueueFull || !errors.Is(ev.Err, sdk.ErrQueueFull) {
					t.Fatalf("%s: got %v (%v), want a queue-full error event", q, ev.Kind, ev.Err)
				}
			}
			answer := func(want string) {
				t.Helper()
				ev, err := request(t, n, sdk.To("Late"), wrapperspb.String("answer"))
				if err != nil || ev.Msg.(*wrapperspb.StringValue).GetValue() != want {
					t.Fatalf("asking Late to answer %s: got %v, %v", want, ev, err)
				}
			}

			if err := n.Send(sdk.To("Hold"), wrapperspb.String("ask")); err != nil {
				t.Fatal(err)
			}
			testwait.Recv(t, entered, "Hold in its handler")
			for _, q := range []string{"r1", "r2", "r3"} {
				if v := testwait.Recv(t, kept, "question "+q+" at Late"); v != q {
					t.Fatalf("Late got %q, want %q", v, q)
				}
			}
			ep.Send(sdk.To("Hold"), wrapperspb.String("q1"))
			ep.Send(sdk.To("Hold"), wrapperspb.String("q2"))
			check("two requests queued", limit, 0, 0)
			refused("q3")
			check("a request refused at the limit", limit, 1, 0)
			answer("answered r1")
			answer("answered r2")
			check("two replies in the reserve", 2*limit, 1, 0)
			refused("q4")
			check("a request refused within the reserve", 2*limit, 2, 0)
			if d := logs.find("undeliverable event dropped"); len(d) != 0 {
				t.Fatalf("dropped before the reserve was full: %v", d)
			}
			if mode == "try" {
				// TryReplyTo hands the refusal back to its sender, which
				// still holds the reply: nothing is dropped.
				answer("refused r3")
				check("a reply past the reserve, refused to TryReplyTo", 2*limit, 3, 0)
				if d := logs.find("undeliverable event dropped"); len(d) != 0 {
					t.Errorf("got drop records %v for a reply refused to TryReplyTo, want none", d)
				}
			} else {
				answer("answered r3")
				check("a reply past the reserve", 2*limit, 3, 1)
				d := logs.find("undeliverable event dropped")
				if len(d) != 1 || d[0].attrs["kind"] != "reply" || !strings.Contains(d[0].attrs["why"], "queue is full") {
					t.Errorf("got drop records %v, want one for the reply, saying the queue is full", d)
				}
			}

			// Once Hold has handled what it took in, an event sent after
			// them comes next: nothing else was queued.
			free()
			var got []string
			for range 4 {
				got = append(got, testwait.Recv(t, handled, "event handled by Hold"))
			}
			if err := n.Send(sdk.To("Hold"), wrapperspb.String("end")); err != nil {
				t.Fatal(err)
			}
			got = append(got, testwait.Recv(t, handled, "the end event"))
			if want := "[q1 q2 reply r1 reply r2 end]"; fmt.Sprint(got) != want {
				t.Errorf("Hold handled %v, want %s", got, want)
			}
		})
	}
}

// TestWorkersKeepPerKeyOrder: a Workers service handles events of
// different keys at the same time, on different goroutines, and the events
// of one key one at a time, in the order they were sent. Keys a, b, c and d
// (bytes 97 to 100) shard to the four workers. a's first event stays in its handler until
// every event of b, c and d has been handled: with fewer workers some of
// them would wait behind it; and no later event of a may run meanwhile.
func TestWorkersKeepPerKeyOrder(t *testing.T) {
	const keys, per = "abcd", 200
	type handled struct {
		v  string
		on uint64 // goroutine id
	}
	got := make(chan handled, len(keys)*per)
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	defer free()
	spec := sdk.Define("W", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			v := ev.Msg.(*wrapperspb.StringValue).GetValue()
			got <- handled{v, goid(t)}
			if v == "a0000" {
				<-release
			}
			return nil
		})
	}, sdk.Workers(len(keys), func(ev *sdk.Event) uint64 { return uint64(ev.Msg.(*wrapperspb.StringValue).GetValue()[0]) }))
	n := newNode(t, Config{Services: []sdk.Spec{spec}})
	// Each round starts with the next key, so that no sharding other than
	// by key (by request id, say) sends a key's events to one worker.
	for i := range per {
		for j := range len(keys) {
			k := keys[(i+j)%len(keys)]
			if err := n.Send(sdk.To("W"), wrapperspb.String(fmt.Sprintf("%c%04d", k, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[byte][]string{}
	worker := map[byte]uint64{}
	record := func(h handled) {
		k := h.v[0]
		if w, ok := worker[k]; ok && w != h.on {
			t.Errorf("key %c handled on goroutines %d and %d, want one", k, w, h.on)
		}
		worker[k] = h.on
		seen[k] = append(seen[k], h.v)
	}
	// Each turn takes an event of b, c or d, or a0000 (once): any other
	// event of a ends the test.
	for others := 0; others < (len(keys)-1)*per; {
		h := testwait.Recv(t, got, "event of b, c or d while a0000 is in its handler")
		if h.v[0] != 'a' {
			others++
		} else if h.v != "a0000" {
			t.Fatalf("%s was handled while a0000 was still in its handler", h.v)
		}
		record(h)
	}
	free()
	for range per - len(seen['a']) {
		record(testwait.Recv(t, got, "event of a after a0000"))
	}
	for _, k := range []byte(keys) {
		v := seen[k]
		if len(v) != per {
			t.Errorf("key %c: got %d events, want %d", k, len(v), per)
		}
		for i := range v {
			if want := fmt.Sprintf("%c%04d", k, i); v[i] != want {
				t.Fatalf("key %c: event %d is %s, want %s (per-key order)", k, i, v[i], want)
			}
		}
		for j := range k - 'a' {
			if worker[k] == worker['a'+j] {
				t.Errorf("keys %c and %c both handled on goroutine %d, want a worker each", k, 'a'+j, worker[k])
			}
		}
	}
}

// TestInlineRunsOnSenderGoroutine: an Inline service's handler runs on the
// goroutine of whoever sends to it, outside code or another service's
// handler, several at once; its Start runs once. Hello answers each request
// with the id of the goroutine its handler ran on, and each sender compares
// it with its own.
func TestInlineRunsOnSenderGoroutine(t *testing.T) {
	starts := 0
	hello := sdk.Define("Hello", func() sdk.Service { return &inlineSvc{t: t, starts: &starts} }, sdk.Inline())
	type ids struct{ sender, handler uint64 }
	got := make(chan ids, 1)
	src := sdk.Define("Src", func() sdk.Service {
		var sender uint64
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			switch ev.Kind {
			case sdk.KindRequest:
				sender = goid(t)
				c.Send(sdk.To("Hello"), wrapperspb.String("from Src"))
			case sdk.KindReply:
				got <- ids{sender, ev.Msg.(*wrapperspb.UInt64Value).GetValue()}
			default:
				return ev.Err
			}
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{hello, src}})

	t.Run("from outside", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				me := goid(t)
				ev, err := request(t, n, sdk.To("Hello"), wrapperspb.String("outside"))
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				if ran := ev.Msg.(*wrapperspb.UInt64Value).GetValue(); ran != me {
					t.Errorf("the handler ran on goroutine %d, want the sender's, %d", ran, me)
				}
			})
		}
		wg.Wait()
	})
	t.Run("from a service", func(t *testing.T) {
		if err := n.Send(sdk.To("Src"), wrapperspb.String("go")); err != nil {
			t.Fatal(err)
		}
		g := testwait.Recv(t, got, "Hello's reply to Src")
		if g.sender == goid(t) {
			t.Fatalf("Src's handler ran on the test's goroutine %d", g.sender)
		}
		if g.handler != g.sender {
			t.Errorf("the handler ran on goroutine %d, want Src's, %d", g.handler, g.sender)
		}
	})
	if starts != 1 {
		t.Errorf("Start ran %d times, want 1", starts)
	}
}

// inlineSvc answers each request with the id of the goroutine its handler
// ran on, and counts its Starts.
type inlineSvc struct {
	t      testing.TB
	starts *int
}

func (s *inlineSvc) Start(c sdk.Context) error { *s.starts++; return nil }
func (s *inlineSvc) Handle(c sdk.Context, ev *sdk.Event) error {
	c.Reply(wrapperspb.UInt64(goid(s.t)))
	return nil
}

func TestStartFailureFailsQueuedEventsAndRetries(t *testing.T) {
	attempts := 0
	spec := sdk.Define("Flaky", func() sdk.Service { return &flaky{attempts: &attempts} })
	n := newNode(t, Config{Services: []sdk.Spec{spec}})
	_, err := request(t, n, sdk.To("Flaky"), wrapperspb.String("1"))
	if !errors.Is(err, sdk.ErrStartFailed) || !strings.Contains(err.Error(), "port busy") {
		t.Fatalf("got %v, want ErrStartFailed with the cause", err)
	}
	ev, err := request(t, n, sdk.To("Flaky"), wrapperspb.String("2"))
	if err != nil || ev.Msg.(*wrapperspb.StringValue).GetValue() != "2" {
		t.Fatalf("second attempt: got %v, %v", ev, err)
	}
}

type flaky struct{ attempts *int }

func (f *flaky) Start(c sdk.Context) error {
	*f.attempts++
	if *f.attempts == 1 {
		return errors.New("port busy")
	}
	return nil
}
func (f *flaky) Handle(c sdk.Context, ev *sdk.Event) error { c.Reply(ev.Msg); return nil }

func TestUnknownEventFromBoundary(t *testing.T) {
	n := newNode(t, Config{Services: []sdk.Spec{echoSpec}})
	res := make(chan *sdk.Event, 1)
	ep := n.OpenEndpoint(func(ev *sdk.Event) { res <- ev })
	defer ep.Close()
	// An envelope whose payload type this process does not know, as a link
	// would hand it over.
	ev, err := sdk.FromEnvelope(envelopeOf("mtnode.test.v1.Nope", "Echo", ep))
	if err != nil {
		t.Fatal(err)
	}
	n.Router().Deliver(ev)
	select {
	case got := <-res:
		if !errors.Is(got.Err, sdk.ErrUnknownEvent) || got.Err.EventType != "mtnode.test.v1.Nope" {
			t.Fatalf("got %v, want ErrUnknownEvent for mtnode.test.v1.Nope", got.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error event")
	}
}

func TestRouteTooLong(t *testing.T) {
	loop := sdk.Define("Loop", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind == sdk.KindError { // a relay passes failures on
				c.Fail(ev, ev.Err)
				return nil
			}
			c.Relay(sdk.To("Loop"), ev.Msg) // relays to itself forever
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{loop}})
	_, err := request(t, n, sdk.To("Loop"), wrapperspb.String("x"))
	if !errors.Is(err, sdk.ErrRouteTooLong) {
		t.Fatalf("got %v, want ErrRouteTooLong", err)
	}
}

func TestNodesShareNothing(t *testing.T) {
	n1 := newNode(t, Config{Name: "n1", Services: []sdk.Spec{echoSpec}})
	n2 := newNode(t, Config{Name: "n2"})
	if _, err := request(t, n1, sdk.To("Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, n2, sdk.To("Echo"), wrapperspb.String("x")); !errors.Is(err, sdk.ErrNoService) {
		t.Fatalf("n2: got %v, want ErrNoService", err)
	}
	if n1.Epoch() == n2.Epoch() {
		t.Error("two nodes got the same epoch")
	}
}

func TestStopDrainsAndRefuses(t *testing.T) {
	var mu sync.Mutex
	handled := 0
	spec := sdk.Define("Count", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			mu.Lock()
			handled++
			mu.Unlock()
			return nil
		})
	})
	n, err := New(Config{Services: []sdk.Spec{spec}})
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if err := n.Send(sdk.To("Count"), wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled != 1000 {
		t.Errorf("handled %d events before stopping, want all 1000", handled)
	}
	if err := n.Send(sdk.To("Count"), wrapperspb.String("late")); !errors.Is(err, sdk.ErrStopped) {
		t.Errorf("send after stop: got %v, want ErrStopped", err)
	}
}

func TestInlineStartMaySendToUnbuiltServices(t *testing.T) {
	front := sdk.Define("Front", func() sdk.Service { return &sendingStarter{} }, sdk.Inline())
	n := newNode(t, Config{Services: []sdk.Spec{front, echoSpec}, Start: []string{"Front"}})
	ev, err := request(t, n, sdk.To("Front"), wrapperspb.String("x"))
	if err != nil || ev.Msg.(*wrapperspb.StringValue).GetValue() != "x" {
		t.Fatalf("got %v, %v", ev, err)
	}
}

// sendingStarter is an Inline service whose Start sends to a service that
// has not been built yet.
type sendingStarter struct{}

func (sendingStarter) Start(c sdk.Context) error {
	c.Send(sdk.To("Echo"), wrapperspb.String("warm-up"))
	return nil
}
func (sendingStarter) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind == sdk.KindRequest {
		c.Reply(ev.Msg)
	}
	return nil
}

// TestNotifyIsOneWay: Notify delivers its event with no route, from a
// handler and from a service's Handle alike: the receiver gets it, an
// answer to it reaches nobody, and a notification to a service that does
// not exist brings its sender no error event, unlike Send, and is counted
// as undeliverable.
func TestNotifyIsOneWay(t *testing.T) {
	type note struct {
		v     string
		route int
	}
	got := make(chan note, 4)
	answers := make(chan *sdk.Event, 4)
	dst := sdk.Define("Dst", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			got <- note{ev.Msg.(*wrapperspb.StringValue).GetValue(), len(ev.Route)}
			c.Reply(wrapperspb.String("answer")) // to nobody: dropped
			return nil
		})
	})
	src := sdk.Define("Src", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind != sdk.KindRequest || len(ev.Route) == 0 {
				answers <- ev // nothing should come back to Src
				return nil
			}
			c.Notify(sdk.To("Dst"), wrapperspb.String("from the handler"))
			c.Handle().Notify(sdk.To("Dst"), wrapperspb.String("from the handle"))
			c.Notify(sdk.To("Nobody"), wrapperspb.String("lost"))
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{dst, src}, Start: []string{"Dst", "Src"}})
	undeliverable := n.Undeliverable()
	ep := n.OpenEndpoint(func(*sdk.Event) {})
	defer ep.Close()
	ep.Send(sdk.To("Src"), wrapperspb.String("go"))
	for _, want := range []string{"from the handler", "from the handle"} {
		if g := testwait.Recv(t, got, want); g.v != want || g.route != 0 {
			t.Fatalf("got %q with a route of %d hops, want %q with none", g.v, g.route, want)
		}
	}
	// Two answers to nobody, and the notification to Nobody.
	waitFor(t, "three undeliverable events", func() bool { return n.Undeliverable()-undeliverable == 3 })
	select {
	case ev := <-answers:
		t.Fatalf("Src got %v (%v) back, want nothing", ev.Kind, ev.Err)
	case <-time.After(100 * time.Millisecond):
	}
}
