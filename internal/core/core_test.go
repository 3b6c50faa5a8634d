package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// echo answers every request with its payload.
var echoSpec = sdk.Define("Echo", func() sdk.Service {
	return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
		c.Reply(ev.Msg)
		return nil
	})
})

func newNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return n
}

func request(t *testing.T, n *Node, to sdk.Addr, msg proto.Message) (*sdk.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Request(ctx, to, msg)
}

func TestRequestReply(t *testing.T) {
	n := newNode(t, Config{Services: []sdk.Spec{echoSpec}})
	ev, err := request(t, n, sdk.To("Echo"), wrapperspb.String("hi"))
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if got := ev.Msg.(*wrapperspb.StringValue).GetValue(); got != "hi" {
		t.Errorf("got %q, want %q", got, "hi")
	}
	if ev.Kind != sdk.KindReply {
		t.Errorf("got kind %v, want reply", ev.Kind)
	}
}

func TestNoServiceFailsFast(t *testing.T) {
	n := newNode(t, Config{Services: []sdk.Spec{echoSpec}})
	_, err := request(t, n, sdk.To("Ech"), wrapperspb.String("hi"))
	if !errors.Is(err, sdk.ErrNoService) {
		t.Fatalf("got %v, want ErrNoService", err)
	}
	if !strings.Contains(err.Error(), `did you mean "Echo"`) {
		t.Errorf("error %q lacks a suggestion", err)
	}
	var de *sdk.DeliveryError
	if !errors.As(err, &de) || de.EventType != "google.protobuf.StringValue" || de.Dst != "Ech" {
		t.Errorf("got %+v, want event type and destination set", de)
	}
}

func TestUnknownStartListsKnown(t *testing.T) {
	n, err := New(Config{Services: []sdk.Spec{echoSpec}, Start: []string{"Echo", "Nope"}})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Start(context.Background(), nil)
	if !errors.Is(err, ErrUnknownStart) || !strings.Contains(err.Error(), "Nope") || !strings.Contains(err.Error(), "Echo") {
		t.Fatalf("got %v, want ErrUnknownStart naming Nope and listing Echo", err)
	}
	_ = n.Stop(context.Background())
}

// recorder records the order of lifecycle calls and events, each with the
// service's name.
type recorder struct {
	name string
	mu   *sync.Mutex
	log  *[]string
}

func (r recorder) add(s string) { r.mu.Lock(); *r.log = append(*r.log, s); r.mu.Unlock() }
func (r recorder) Start(c sdk.Context) error {
	r.add("start " + r.name)
	return nil
}
func (r recorder) Handle(c sdk.Context, ev *sdk.Event) error {
	r.add(ev.Msg.(*wrapperspb.StringValue).GetValue())
	c.Reply(ev.Msg)
	return nil
}
func (r recorder) Stop(ctx context.Context) error { r.add("stop " + r.name); return nil }

// TestStartOrderAndLifecycle: Start= services are built and started at
// boot in the order listed, the others on their first event, each Start
// before its first event; Stop stops them all in the reverse of the order
// they started in: the ones started later first, then C, B, A. That order
// is neither the order of registration nor that of the names.
func TestStartOrderAndLifecycle(t *testing.T) {
	var mu sync.Mutex
	var log []string
	mk := func(name string) sdk.Spec {
		return sdk.Define(name, func() sdk.Service { r := recorder{name, &mu, &log}; r.add("new " + name); return r })
	}
	n, err := New(Config{Services: []sdk.Spec{mk("E"), mk("C"), mk("A"), mk("D"), mk("B")}, Start: []string{"A", "B", "C"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"E", "D"} {
		if _, err := request(t, n, sdk.To(to), wrapperspb.String("to "+to)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "new A,start A,new B,start B,new C,start C," +
		"new E,start E,to E,new D,start D,to D," +
		"stop D,stop E,stop C,stop B,stop A"
	if got := strings.Join(log, ","); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestHandlerErrorAndPanicBecomeErrorEvents: a handler that returns an
// error or panics is logged (service, event type, the error or the panic
// value and, for a panic, the stack down to the handler), counted, and its
// sender gets an error event; the same instance goes on handling events. A
// queued service and an Inline one run their handlers through different
// code.
func TestHandlerErrorAndPanicBecomeErrorEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []sdk.Option
	}{
		{"queue", nil},
		{"inline", []sdk.Option{sdk.Inline()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var built atomic.Int32
			spec := sdk.Define("Bad", func() sdk.Service { built.Add(1); return failingSvc{} }, tc.opts...)
			logs := newLogRecorder()
			n := newNode(t, Config{Services: []sdk.Spec{spec}, Logger: slog.New(logs)})
			for _, in := range []string{"err", "panic"} {
				_, err := request(t, n, sdk.To("Bad"), wrapperspb.String(in))
				var de *sdk.DeliveryError
				if !errors.As(err, &de) || !errors.Is(err, sdk.ErrHandlerFailed) {
					t.Fatalf("%s: got %v, want an ErrHandlerFailed error event", in, err)
				}
				want := map[string]string{"err": "bad input", "panic": "boom"}[in]
				if !strings.Contains(de.Message, want) || de.EventType != "google.protobuf.StringValue" || de.Dst != "Bad" {
					t.Errorf("%s: got %+v, want the message to hold %q, the event type and the destination", in, de, want)
				}
			}
			ev, err := request(t, n, sdk.To("Bad"), wrapperspb.String("ok"))
			if err != nil || ev.Msg.(*wrapperspb.StringValue).GetValue() != "ok" {
				t.Fatalf("after the failures: got %v, %v, want the reply ok", ev, err)
			}
			if b := built.Load(); b != 1 {
				t.Errorf("the service was built %d times, want once", b)
			}
			if st := findStats(n, "Bad"); st.Errors != 1 || st.Panics != 1 {
				t.Errorf("got errors=%d panics=%d, want 1 and 1 (each failure counted once)", st.Errors, st.Panics)
			}
			if got := len(logs.find("handler failed")); got != 1 {
				t.Errorf("%d \"handler failed\" records, want 1: a panic is logged once, as \"handler panicked\"", got)
			}

			wantLog(t, logs, "handler failed", "bad input", func(r logRecord) bool { return strings.Contains(r.attrs[sdk.KeyErr], "bad input") })
			wantLog(t, logs, "handler panicked", "boom", func(r logRecord) bool {
				if r.attrs["panic"] != "boom" {
					return false
				}
				if !strings.Contains(r.attrs["stack"], "failingSvc.Handle") {
					t.Errorf("the panic's stack does not reach the handler, failingSvc.Handle:\n%s", r.attrs["stack"])
				}
				return true
			})
		})
	}
}

// wantLog checks that logs holds exactly one error record with message msg
// about a request to Bad (service and event type set) that match picks out.
func wantLog(t *testing.T, logs logRecorder, msg, what string, match func(logRecord) bool) {
	t.Helper()
	var found []logRecord
	for _, r := range logs.find(msg) {
		if match(r) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Errorf("got %d %q records for %s, want 1 (all records: %v)", len(found), msg, what, logs.all())
		return
	}
	r := found[0]
	if r.level != slog.LevelError || r.attrs[sdk.KeyService] != "Bad" || r.attrs[sdk.KeyEvent] != "google.protobuf.StringValue" {
		t.Errorf("%q record for %s: got level %v, attributes %v; want level ERROR, service Bad, event google.protobuf.StringValue",
			msg, what, r.level, r.attrs)
	}
}

// failingSvc returns an error for "err", panics on "panic", and echoes
// anything else.
type failingSvc struct{}

func (failingSvc) Handle(c sdk.Context, ev *sdk.Event) error {
	switch ev.Msg.(*wrapperspb.StringValue).GetValue() {
	case "panic":
		panic("boom")
	case "err":
		return fmt.Errorf("bad input")
	}
	c.Reply(ev.Msg)
	return nil
}

func findStats(n *Node, name string) sdk.ServiceInfo {
	for _, s := range n.Stats() {
		if s.Name == name {
			return s
		}
	}
	return sdk.ServiceInfo{}
}

func TestGoroutinesReturnAfterStop(t *testing.T) {
	base := runtime.NumGoroutine()
	n, err := New(Config{Services: []sdk.Spec{echoSpec, sdk.Define("W", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			c.Go(func(ctx context.Context) { <-ctx.Done() })
			c.Reply(ev.Msg)
			return nil
		})
	}, sdk.Workers(4, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := request(t, n, sdk.To("W"), wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if _, err := request(t, n, sdk.To("Echo"), wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > base {
		t.Errorf("got %d goroutines after Stop, want <= %d", got, base)
	}
}
