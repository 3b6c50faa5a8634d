package core

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/sdk"
)

// stopLog records the lifecycle calls of several services, in order.
type stopLog struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
	gor   map[string]uint64 // "service call" -> goroutine id
}

func (l *stopLog) add(name, call string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, name+" "+call)
	if l.gor == nil {
		l.gor = map[string]uint64{}
	}
	l.gor[name+" "+call] = goid(l.t)
}

func (l *stopLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// quiescer logs Handle, Quiesce and Stop. Handling "block" waits for gate.
type quiescer struct {
	name string
	log  *stopLog
	gate chan struct{}
}

func (q *quiescer) Handle(c sdk.Context, ev *sdk.Event) error {
	v := ev.Msg.(*wrapperspb.StringValue).GetValue()
	q.log.add(q.name, "handle "+v)
	if v == "block" {
		<-q.gate
	}
	return nil
}
func (q *quiescer) Quiesce(c sdk.Context) {
	if c.Event() != nil {
		panic("Quiesce got an event")
	}
	q.log.add(q.name, "quiesce")
}
func (q *quiescer) Stop(context.Context) error { q.log.add(q.name, "stop"); return nil }

// plain has Handle and Stop only: it is stopped but never quiesced.
type plain struct{ quiescer }

func (p *plain) Quiesce() {} // not sdk.Quiescer's signature

// TestStopQuiescesFirst: Stop asks the services that take outside work to
// take no more, in reverse start order, before the drain; a queued service
// quiesces on its own goroutine, ahead of its backlog, and still handles
// the backlog before it stops.
func TestStopQuiescesFirst(t *testing.T) {
	log := stopLog{t: t}
	gate := make(chan struct{})
	a := &quiescer{name: "A", log: &log, gate: gate}
	b := &quiescer{name: "B", log: &log}
	c := &plain{quiescer{name: "C", log: &log}}
	n, err := New(Config{
		Services: []sdk.Spec{
			sdk.Define("A", func() sdk.Service { return a }),
			sdk.Define("B", func() sdk.Service { return b }, sdk.Inline()),
			sdk.Define("C", func() sdk.Service { return c }),
		},
		Start: []string{"A", "B", "C"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"block", "1", "2"} {
		if err := n.Send(sdk.To("A"), wrapperspb.String(v)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "A to block", func() bool { return slices.Contains(log.snapshot(), "A handle block") })

	stop := testwait.Go(func() error { return n.Stop(context.Background()) })
	// B (inline) quiesces at once; A only once its current handler returns.
	waitFor(t, "B to quiesce", func() bool { return slices.Contains(log.snapshot(), "B quiesce") })
	if err := n.Send(sdk.To("A"), wrapperspb.String("late")); sdk.CodeOf(err) != sdk.CodeStopped {
		t.Errorf("Send during Stop: got %v, want a CodeStopped error", err)
	}
	close(gate)
	if err := stop.Wait(t, "Stop"); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	want := []string{"A handle block", "B quiesce", "A quiesce", "A handle 1", "A handle 2", "C stop", "B stop", "A stop"}
	if got := log.snapshot(); !slices.Equal(got, want) {
		t.Errorf("lifecycle:\n got %q\nwant %q", got, want)
	}
	if log.gor["A quiesce"] != log.gor["A handle 1"] || log.gor["A quiesce"] != log.gor["A stop"] {
		t.Errorf("A's Quiesce ran on goroutine %d, its Handle and Stop on %d and %d: want one goroutine",
			log.gor["A quiesce"], log.gor["A handle 1"], log.gor["A stop"])
	}
}

// stopCtxService reports the deadline its Stop was given.
type stopCtxService struct {
	gate chan struct{}
	left chan time.Duration
}

func (s *stopCtxService) Handle(sdk.Context, *sdk.Event) error { <-s.gate; return nil }
func (s *stopCtxService) Stop(ctx context.Context) error {
	d, _ := ctx.Deadline()
	s.left <- time.Until(d)
	return ctx.Err()
}

// TestStopAfterDrainTimeout: a drain that uses all of ShutdownTimeout
// leaves the services' Stops a full ShutdownTimeout of their own, and the
// node stops cleanly.
func TestStopAfterDrainTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := newLogRecorder()
	svc := &stopCtxService{gate: make(chan struct{}), left: make(chan time.Duration, 1)}
	n, err := New(Config{
		Services:        []sdk.Spec{sdk.Define("Slow", func() sdk.Service { return svc })},
		Start:           []string{"Slow"},
		ShutdownTimeout: timeout,
		Logger:          slog.New(h),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// The first event blocks the handler; the next three stay queued, so
	// the drain cannot finish.
	for i := range 4 {
		if err := n.Send(sdk.To("Slow"), wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitFor(t, "the handler to block", func() bool { return findStats(n, "Slow").QueueLen == 0 })
		}
	}
	stop := testwait.Go(func() error { return n.Stop(context.Background()) })
	waitFor(t, "the drain to time out", func() bool { return len(h.find(drainTimeoutMsg)) > 0 })
	close(svc.gate)
	if err := stop.Wait(t, "Stop"); err != nil {
		t.Errorf("Stop after a drain timeout: %v (want nil: Stop has a budget of its own)", err)
	}
	select {
	case left := <-svc.left:
		if left <= 0 {
			t.Errorf("the service's Stop got an expired deadline (%v left)", left)
		}
	default:
		t.Error("the service's Stop was not called")
	}
}

// TestQuiescePanicIsContained: a Quiesce that panics is logged and counted,
// and the node still drains and stops the service.
func TestQuiescePanicIsContained(t *testing.T) {
	h := newLogRecorder()
	var stopped bool
	n, err := New(Config{
		Services: []sdk.Spec{sdk.Define("P", func() sdk.Service { return &panicQuiescer{stopped: &stopped} })},
		Start:    []string{"P"},
		Logger:   slog.New(h),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if len(h.find("quiesce panicked")) != 1 {
		t.Error("the panic in Quiesce was not logged")
	}
	if got := findStats(n, "P").Panics; got != 1 {
		t.Errorf("panics counted: %d, want 1", got)
	}
	if !stopped {
		t.Error("Stop was not called after the panicking Quiesce")
	}
}

type panicQuiescer struct{ stopped *bool }

func (p *panicQuiescer) Handle(sdk.Context, *sdk.Event) error { return nil }
func (p *panicQuiescer) Quiesce(sdk.Context)                  { panic(errors.New("boom")) }
func (p *panicQuiescer) Stop(context.Context) error           { *p.stopped = true; return nil }

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// slowQuiescer's Quiesce waits for release.
type slowQuiescer struct{ release chan struct{} }

func (slowQuiescer) Handle(sdk.Context, *sdk.Event) error { return nil }
func (q slowQuiescer) Quiesce(sdk.Context)                { <-q.release }

// TestSlowQuiesceHoldsNoOther: one service slow to quiesce does not keep
// the others from being asked; the node waits for it within the drain.
func TestSlowQuiesceHoldsNoOther(t *testing.T) {
	log := stopLog{t: t}
	release := make(chan struct{})
	n, err := New(Config{
		Services: []sdk.Spec{
			sdk.Define("A", func() sdk.Service { return &quiescer{name: "A", log: &log} }),
			sdk.Define("Slow", func() sdk.Service { return slowQuiescer{release} }, sdk.Inline()),
		},
		Start: []string{"A", "Slow"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	stop := testwait.Go(func() error { return n.Stop(context.Background()) })
	waitFor(t, "A to quiesce while Slow still quiesces", func() bool { return slices.Contains(log.snapshot(), "A quiesce") })
	stop.Running(t, "Stop, before Slow had quiesced,")
	close(release)
	if err := stop.Wait(t, "Stop"); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// TestStartedAfterQuiesce: a service that starts once its node is quiescing
// (Node.Quiesce, as a plugin's runtime calls it when its node begins to
// stop) quiesces at its start, before its first event, queued or Inline.
func TestStartedAfterQuiesce(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []sdk.Option
	}{{"queue", nil}, {"inline", []sdk.Option{sdk.Inline()}}} {
		t.Run(tc.name, func(t *testing.T) {
			log := stopLog{t: t}
			n := newNode(t, Config{Services: []sdk.Spec{
				sdk.Define("Q", func() sdk.Service { return &quiescer{name: "Q", log: &log} }, tc.opts...)}})
			n.Quiesce()
			if err := n.Send(sdk.To("Q"), wrapperspb.String("first")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "Q to handle its first event", func() bool { return len(log.snapshot()) == 2 })
			if got, want := log.snapshot(), []string{"Q quiesce", "Q handle first"}; !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// drainTimeoutMsg is what a node logs when its drain runs out of time.
const drainTimeoutMsg = "shutdown timeout reached with events still queued or held by plugins (raise Node.shutdownTimeout if they need longer)"

// stopNotifier closes stopped when it is stopped.
type stopNotifier struct{ stopped chan struct{} }

func (stopNotifier) Handle(sdk.Context, *sdk.Event) error { return nil }
func (s stopNotifier) Stop(context.Context) error {
	close(s.stopped)
	return nil
}

// TestStopWaitsForHeld: events held outside the node (Config.Held: by
// plugins) keep a stopping node's services running until they are back,
// as queued events do, since the answers leave through those services;
// past ShutdownTimeout the node stops anyway and says how many were held.
func TestStopWaitsForHeld(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
	}{{"answered", 10 * time.Second}, {"timeout", 200 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			var held atomic.Int64
			held.Store(2)
			stopped := make(chan struct{})
			h := newLogRecorder()
			n, err := New(Config{
				Services:        []sdk.Spec{sdk.Define("S", func() sdk.Service { return stopNotifier{stopped} })},
				Start:           []string{"S"},
				ShutdownTimeout: tc.timeout,
				Held:            func() int { return int(held.Load()) },
				Logger:          slog.New(h),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			stop := testwait.Go(func() error { return n.Stop(context.Background()) })
			if tc.name == "answered" {
				time.Sleep(100 * time.Millisecond)
				select {
				case <-stopped:
					t.Fatal("the service stopped while events were held outside the node")
				default:
				}
				stop.Running(t, "Stop")
				held.Store(0)
			}
			if err := stop.Wait(t, "Stop"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-stopped:
			default:
				t.Fatal("the service's Stop was not called")
			}
			warned := h.find(drainTimeoutMsg)
			switch {
			case tc.name == "answered" && len(warned) > 0:
				t.Errorf("drain timed out although the held events came back: %v", warned)
			case tc.name == "timeout" && (len(warned) != 1 || warned[0].attrs["held"] != "2"):
				t.Errorf("got %v, want one warning with held=2", warned)
			}
		})
	}
}
