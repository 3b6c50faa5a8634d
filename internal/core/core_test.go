package core

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
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

// recorder records the order of lifecycle calls and events.
type recorder struct {
	mu  *sync.Mutex
	log *[]string
}

func (r recorder) add(s string) { r.mu.Lock(); *r.log = append(*r.log, s); r.mu.Unlock() }
func (r recorder) Start(c sdk.Context) error {
	r.add("start")
	return nil
}
func (r recorder) Handle(c sdk.Context, ev *sdk.Event) error {
	r.add(ev.Msg.(*wrapperspb.StringValue).GetValue())
	c.Reply(ev.Msg)
	return nil
}
func (r recorder) Stop(ctx context.Context) error { r.add("stop"); return nil }

func TestStartOrderAndLifecycle(t *testing.T) {
	var mu sync.Mutex
	var log []string
	mk := func(name string) sdk.Spec {
		return sdk.Define(name, func() sdk.Service { r := recorder{&mu, &log}; r.add("new " + name); return r })
	}
	n, err := New(Config{Services: []sdk.Spec{mk("B"), mk("A"), mk("C")}, Start: []string{"B", "A"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, n, sdk.To("C"), wrapperspb.String("c1")); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "new B,start,new A,start,new C,start,c1,stop,stop,stop"
	if got := strings.Join(log, ","); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestHandlerErrorAndPanicBecomeErrorEvents(t *testing.T) {
	spec := sdk.Define("Bad", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			switch ev.Msg.(*wrapperspb.StringValue).GetValue() {
			case "panic":
				panic("boom")
			case "err":
				return fmt.Errorf("bad input")
			}
			c.Reply(ev.Msg)
			return nil
		})
	})
	n := newNode(t, Config{Services: []sdk.Spec{spec}})
	for _, tc := range []struct{ name, in, want string }{
		{"error", "err", "bad input"},
		{"panic", "panic", "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := request(t, n, sdk.To("Bad"), wrapperspb.String(tc.in))
			if !errors.Is(err, sdk.ErrHandlerFailed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrHandlerFailed mentioning %q", err, tc.want)
			}
		})
	}
	// The service goes on.
	if _, err := request(t, n, sdk.To("Bad"), wrapperspb.String("ok")); err != nil {
		t.Fatalf("after failures: %v", err)
	}
	st := findStats(n, "Bad")
	if st.Errors != 2 || st.Panics != 1 {
		t.Errorf("got errors=%d panics=%d, want 2 and 1", st.Errors, st.Panics)
	}
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
