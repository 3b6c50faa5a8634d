package timer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// client is a requester service driven by the test: each request it gets
// runs the next function queued with harness.run; every reply and error
// event it gets goes to got.
type client struct {
	do  chan func(sdk.Context)
	got chan *sdk.Event
}

func newClient() *client {
	return &client{do: make(chan func(sdk.Context), 1), got: make(chan *sdk.Event, 10_000)}
}

func (cl *client) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind == sdk.KindRequest {
		select {
		case f := <-cl.do:
			f(c)
			return nil
		default:
			return errors.New("test client: request without a queued function")
		}
	}
	select {
	case cl.got <- ev:
		return nil
	default:
		return errors.New("test client: too many ticks")
	}
}

// mapConfig is an sdk.Config with a few values set.
type mapConfig struct {
	core.Defaults
	ints map[string]int64
}

func (m mapConfig) Int(key string, def int64, _ string) int64 {
	if v, ok := m.ints[key]; ok {
		return v
	}
	return def
}

type harness struct {
	t       *testing.T
	n       *core.Node
	clock   *fakeClock
	timer   *Service
	clients map[string]*client
}

// newHarness starts a node with a manually woken Timer on a fake clock and
// the named client services.
func newHarness(t *testing.T, conf map[string]int64, clients ...string) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{now: t0}, clients: map[string]*client{}}
	h.timer = newService()
	h.timer.manual = true
	specs := []sdk.Spec{sdk.Define(Name, func() sdk.Service { return h.timer })}
	for _, name := range clients {
		cl := newClient()
		h.clients[name] = cl
		specs = append(specs, sdk.Define(name, func() sdk.Service { return cl }))
	}
	n, err := core.New(core.Config{
		Name: "timer-test", Services: specs, Start: append([]string{Name}, clients...), Clock: h.clock.Now,
		Conf: func(service string) sdk.Config {
			if service == Name {
				return mapConfig{ints: conf}
			}
			return core.Defaults{}
		},
	})
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.n = n
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return h
}

// run runs f on the client's goroutine, as its handler, and waits for it.
func (h *harness) run(name string, f func(c sdk.Context)) {
	h.t.Helper()
	done := make(chan struct{})
	h.clients[name].do <- func(c sdk.Context) { f(c); close(done) }
	if err := h.n.Send(sdk.To(name), &emptypb.Empty{}); err != nil {
		h.t.Fatalf("Send to %s: %v", name, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		h.t.Fatalf("%s did not run the test function in 5s", name)
	}
}

// send sends msg to the Timer from the client and returns the request id.
func (h *harness) send(name string, msg proto.Message) uint64 {
	h.t.Helper()
	var id uint64
	h.run(name, func(c sdk.Context) { id = c.Send(sdk.To(Name), msg) })
	return id
}

// sync returns once the Timer has handled everything queued before: it
// sends a request the Timer refuses, and waits for the refusal.
func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.n.Request(ctx, sdk.To(Name), &timerpb.SetAlarm{Delay: -1}); !errors.Is(err, sdk.ErrBadEvent) {
		h.t.Fatalf("sync: got %v, want the Timer's ErrBadEvent", err)
	}
}

// advance steps the clock by d and wakes the Timer.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.sync()
	h.clock.add(d)
	if err := h.n.Send(sdk.To(Name), &timerpb.Wake{}); err != nil {
		h.t.Fatalf("Send Wake: %v", err)
	}
	h.sync()
}

// ticks returns the events the client got so far, after it has handled
// everything the Timer sent it.
func (h *harness) ticks(name string) []*sdk.Event {
	h.t.Helper()
	h.sync()
	h.run(name, func(sdk.Context) {}) // the client has handled what came before
	var out []*sdk.Event
	for {
		select {
		case ev := <-h.clients[name].got:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// pending returns the Timer's live entries and heap size. The Timer must be
// idle (call after sync).
func (h *harness) pending() (live, heap int) {
	h.sync()
	return h.timer.live, h.timer.heap.Len()
}

func alarm(t *testing.T, ev *sdk.Event) *timerpb.TickAlarm {
	t.Helper()
	m, ok := ev.Msg.(*timerpb.TickAlarm)
	if !ok || ev.Kind != sdk.KindReply {
		t.Fatalf("got %v event %T (%v), want a TickAlarm reply", ev.Kind, ev.Msg, ev.Err)
	}
	return m
}

func tick(t *testing.T, ev *sdk.Event) *timerpb.TickTimer {
	t.Helper()
	m, ok := ev.Msg.(*timerpb.TickTimer)
	if !ok || ev.Kind != sdk.KindReply {
		t.Fatalf("got %v event %T (%v), want a TickTimer reply", ev.Kind, ev.Msg, ev.Err)
	}
	return m
}

func unix(d time.Duration) int64 { return t0.Add(d).UnixNano() }

func TestAlarmFiresOnce(t *testing.T) {
	h := newHarness(t, nil, "A")
	req := h.send("A", &timerpb.SetAlarm{Id: 7, Data: []byte("d"), Cookie: []byte("c"), Delay: 1.5})
	h.advance(time.Second)
	if got := h.ticks("A"); len(got) != 0 {
		t.Fatalf("got %d ticks after 1s, want 0", len(got))
	}
	h.advance(500 * time.Millisecond)
	got := h.ticks("A")
	if len(got) != 1 {
		t.Fatalf("got %d ticks after 1.5s, want 1", len(got))
	}
	m := alarm(t, got[0])
	if got[0].ID != req {
		t.Errorf("got tick for request %d, want %d", got[0].ID, req)
	}
	if m.GetId() != 7 || string(m.GetData()) != "d" || string(m.GetCookie()) != "c" {
		t.Errorf("got id=%d data=%q cookie=%q, want 7, d, c", m.GetId(), m.GetData(), m.GetCookie())
	}
	if got, want := m.GetDeadlineUnixNano(), unix(1500*time.Millisecond); got != want {
		t.Errorf("got deadline %d, want %d", got, want)
	}
	if got, want := m.GetFiredAtUnixNano(), unix(1500*time.Millisecond); got != want {
		t.Errorf("got fired_at %d, want %d", got, want)
	}
	h.advance(time.Hour)
	if got := h.ticks("A"); len(got) != 0 {
		t.Errorf("got %d more ticks, want none", len(got))
	}
	if live, heap := h.pending(); live != 0 || heap != 0 {
		t.Errorf("got %d live, %d in heap after firing, want 0, 0", live, heap)
	}
}

func TestTimerDoesNotDrift(t *testing.T) {
	h := newHarness(t, nil, "A")
	h.send("A", &timerpb.SetTimer{Id: 1, Period: 0.25})
	// Wake late by uneven amounts; deadlines stay on the 250ms grid.
	elapsed := time.Duration(0)
	var deadlines []int64
	for _, step := range []time.Duration{260, 240, 270, 230, 251, 249} {
		elapsed += step * time.Millisecond
		h.advance(step * time.Millisecond)
		for _, ev := range h.ticks("A") {
			m := tick(t, ev)
			if m.GetMissed() != 0 {
				t.Errorf("got missed=%d at %v, want 0", m.GetMissed(), elapsed)
			}
			if got, want := m.GetFiredAtUnixNano(), unix(elapsed); got != want {
				t.Errorf("got fired_at %d, want %d", got, want)
			}
			deadlines = append(deadlines, m.GetDeadlineUnixNano())
		}
	}
	if len(deadlines) != 6 {
		t.Fatalf("got %d ticks in 1.5s, want 6", len(deadlines))
	}
	for k, got := range deadlines {
		if want := unix(time.Duration(k+1) * 250 * time.Millisecond); got != want {
			t.Errorf("tick %d: got deadline %d, want start + %d*period = %d", k, got, k+1, want)
		}
	}
}

func TestTimerSkipsMissedTicks(t *testing.T) {
	h := newHarness(t, nil, "A")
	h.send("A", &timerpb.SetTimer{Id: 1, Period: 0.1})
	h.advance(1050 * time.Millisecond) // deadlines 0.1 .. 1.0 are due: one tick, 9 missed
	got := h.ticks("A")
	if len(got) != 1 {
		t.Fatalf("got %d ticks, want 1", len(got))
	}
	m := tick(t, got[0])
	if m.GetMissed() != 9 || m.GetDeadlineUnixNano() != unix(time.Second) {
		t.Errorf("got missed=%d deadline=%d, want 9 and %d", m.GetMissed(), m.GetDeadlineUnixNano(), unix(time.Second))
	}
	h.advance(50 * time.Millisecond)
	got = h.ticks("A")
	if len(got) != 1 {
		t.Fatalf("got %d ticks, want 1", len(got))
	}
	if m := tick(t, got[0]); m.GetMissed() != 0 || m.GetDeadlineUnixNano() != unix(1100*time.Millisecond) {
		t.Errorf("got missed=%d deadline=%d, want 0 and %d", m.GetMissed(), m.GetDeadlineUnixNano(), unix(1100*time.Millisecond))
	}
}

func TestResetReplaces(t *testing.T) {
	h := newHarness(t, nil, "A")
	h.send("A", &timerpb.SetAlarm{Id: 1, Cookie: []byte("first"), Delay: 1})
	h.send("A", &timerpb.SetAlarm{Id: 1, Cookie: []byte("second"), Delay: 1}) // two alarms, as in the original
	h.send("A", &timerpb.SetAlarm{Id: 2, Cookie: []byte("other"), Delay: 1})
	h.send("A", &timerpb.ResetAlarm{Id: 1, Cookie: []byte("reset"), Delay: 2})
	h.advance(time.Second)
	got := h.ticks("A")
	if len(got) != 1 || string(alarm(t, got[0]).GetCookie()) != "other" {
		t.Fatalf("got %d ticks after 1s, want only alarm 2's", len(got))
	}
	h.advance(time.Second)
	got = h.ticks("A")
	if len(got) != 1 || string(alarm(t, got[0]).GetCookie()) != "reset" {
		t.Fatalf("got %d ticks after 2s, want the reset alarm's", len(got))
	}
}

func TestStopCancelsItsOwnKind(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stop       proto.Message
		wantAlarms int
		wantTicks  int
	}{
		{"StopAlarm", &timerpb.StopAlarm{Id: 1, Data: []byte("k")}, 0, 1},
		{"StopTimer", &timerpb.StopTimer{Id: 1, Data: []byte("k")}, 2, 0},
		{"StopAlarm other data", &timerpb.StopAlarm{Id: 1, Data: []byte("j")}, 2, 1},
		{"StopTimer other id", &timerpb.StopTimer{Id: 2, Data: []byte("k")}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, "A")
			h.send("A", &timerpb.SetAlarm{Id: 1, Data: []byte("k"), Delay: 1})
			h.send("A", &timerpb.SetAlarm{Id: 1, Data: []byte("k"), Delay: 1})
			h.send("A", &timerpb.SetTimer{Id: 1, Data: []byte("k"), Period: 1})
			h.send("A", tc.stop)
			h.advance(time.Second)
			alarms, ticks := 0, 0
			for _, ev := range h.ticks("A") {
				switch ev.Msg.(type) {
				case *timerpb.TickAlarm:
					alarms++
				case *timerpb.TickTimer:
					ticks++
				default:
					t.Fatalf("got %T (%v), want a tick", ev.Msg, ev.Err)
				}
			}
			if alarms != tc.wantAlarms || ticks != tc.wantTicks {
				t.Errorf("got %d alarms and %d timer ticks, want %d and %d", alarms, ticks, tc.wantAlarms, tc.wantTicks)
			}
		})
	}
}

func TestKeyIncludesData(t *testing.T) {
	h := newHarness(t, nil, "A")
	h.send("A", &timerpb.SetAlarm{Id: 1, Data: []byte("a"), Delay: 1})
	h.send("A", &timerpb.SetAlarm{Id: 1, Data: []byte("b"), Delay: 1})
	h.send("A", &timerpb.SetAlarm{Id: 1, Delay: 1})
	h.send("A", &timerpb.StopAlarm{Id: 1, Data: []byte("a")})
	h.send("A", &timerpb.ResetAlarm{Id: 1, Delay: 3})
	h.advance(time.Second)
	got := h.ticks("A")
	if len(got) != 1 || string(alarm(t, got[0]).GetData()) != "b" {
		t.Fatalf("got %d ticks, want only data b's", len(got))
	}
	h.advance(2 * time.Second)
	got = h.ticks("A")
	if len(got) != 1 || len(alarm(t, got[0]).GetData()) != 0 {
		t.Fatalf("got %d ticks, want the reset empty-data alarm's", len(got))
	}
}

func TestCookieReturnedUntouched(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cookie []byte
	}{
		{"none", nil},
		{"text", []byte("session 42")},
		{"binary", []byte{0, 0xff, 0, 1, 2, 0x80}},
		{"large", bytes.Repeat([]byte{0xa5}, 4096)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, "A")
			h.send("A", &timerpb.SetAlarm{Id: 1, Cookie: tc.cookie, Delay: 0.5})
			h.send("A", &timerpb.SetTimer{Id: 1, Cookie: tc.cookie, Period: 0.5})
			h.send("A", &timerpb.SetAlarm{Id: 1, Cookie: []byte("not part of the key"), Delay: 0.5})
			h.send("A", &timerpb.StopAlarm{Id: 1})
			h.advance(500 * time.Millisecond)
			got := h.ticks("A")
			if len(got) != 1 {
				t.Fatalf("got %d ticks, want the timer's only (StopAlarm ignores cookies)", len(got))
			}
			if c := tick(t, got[0]).GetCookie(); !bytes.Equal(c, tc.cookie) {
				t.Errorf("got cookie %x, want %x", c, tc.cookie)
			}
		})
	}
}

func TestFractionalSeconds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay float64
		want  time.Duration
	}{
		{"zero", 0, 0},
		{"nanosecond", 1e-9, time.Nanosecond},
		{"millisecond", 0.001, time.Millisecond},
		{"tenth", 0.1, 100 * time.Millisecond},
		{"one and a quarter", 1.25, 1250 * time.Millisecond},
		{"a day", 86400.5, 24*time.Hour + 500*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, "A")
			h.send("A", &timerpb.SetAlarm{Id: 1, Delay: tc.delay})
			if tc.want > 0 {
				h.advance(tc.want - 1)
				if got := h.ticks("A"); len(got) != 0 {
					t.Fatalf("got a tick 1ns early")
				}
			}
			h.advance(1)
			got := h.ticks("A")
			if len(got) != 1 {
				t.Fatalf("got %d ticks, want 1", len(got))
			}
			if got, want := alarm(t, got[0]).GetDeadlineUnixNano(), unix(tc.want); got != want {
				t.Errorf("got deadline %d, want %d", got, want)
			}
		})
	}
}

func TestInvalidRequestsGetErrorEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  proto.Message
		want string
	}{
		{"negative", &timerpb.SetAlarm{Delay: -0.5}, "seconds >= 0"},
		{"NaN", &timerpb.SetAlarm{Delay: math.NaN()}, "finite"},
		{"+Inf", &timerpb.ResetAlarm{Delay: math.Inf(1)}, "finite"},
		{"-Inf", &timerpb.SetTimer{Period: math.Inf(-1)}, "finite"},
		{"too long", &timerpb.SetAlarm{Delay: 1e300}, "longest delay"},
		{"zero period", &timerpb.SetTimer{Period: 0}, "Timer.minPeriod"},
		{"period below minimum", &timerpb.SetTimer{Period: 0.0005}, "Timer.minPeriod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, "A")
			h.send("A", tc.msg)
			got := h.ticks("A")
			if len(got) != 1 || got[0].Kind != sdk.KindError {
				t.Fatalf("got %d events, want one error event", len(got))
			}
			err := got[0].Err
			if !errors.Is(err, sdk.ErrBadEvent) || !strings.Contains(err.Error(), "timer: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrBadEvent prefixed timer: mentioning %q", err, tc.want)
			}
			if live, _ := h.pending(); live != 0 {
				t.Errorf("got %d pending, want 0", live)
			}
		})
	}
}

func TestMaxTimers(t *testing.T) {
	h := newHarness(t, map[string]int64{"maxTimers": 2}, "A")
	h.send("A", &timerpb.SetAlarm{Id: 1, Delay: 1})
	h.send("A", &timerpb.SetTimer{Id: 2, Period: 1})
	h.send("A", &timerpb.SetAlarm{Id: 3, Delay: 1})
	got := h.ticks("A")
	if len(got) != 1 || !errors.Is(got[0].Err, sdk.ErrRefused) || !strings.Contains(got[0].Err.Error(), "Timer.maxTimers") {
		t.Fatalf("got %v, want one ErrRefused naming Timer.maxTimers", got)
	}
	h.send("A", &timerpb.StopAlarm{Id: 1})
	h.send("A", &timerpb.SetAlarm{Id: 3, Delay: 1})
	if got := h.ticks("A"); len(got) != 0 {
		t.Fatalf("got %v after a stop freed a slot, want no error", got[0].Err)
	}
}

func TestManyRequesters(t *testing.T) {
	names := []string{"A", "B", "C"}
	h := newHarness(t, nil, names...)
	reqs := map[string]map[uint64]uint64{} // client -> request id -> timer id
	for i, name := range names {
		reqs[name] = map[uint64]uint64{}
		h.run(name, func(c sdk.Context) {
			for id := range uint64(100) {
				// Every client uses the same ids and data: the route tells them apart.
				r := c.Send(sdk.To(Name), &timerpb.SetAlarm{Id: id, Data: []byte("same"), Delay: float64(id%10+1) / 10})
				reqs[name][r] = id
			}
			if i == 1 {
				c.Send(sdk.To(Name), &timerpb.StopAlarm{Id: 5, Data: []byte("same")})
			}
		})
	}
	h.advance(time.Second)
	for i, name := range names {
		got := h.ticks(name)
		want := 100
		if i == 1 {
			want = 99
		}
		if len(got) != want {
			t.Fatalf("%s: got %d ticks, want %d", name, len(got), want)
		}
		for _, ev := range got {
			m := alarm(t, ev)
			if id, ok := reqs[name][ev.ID]; !ok || id != m.GetId() {
				t.Errorf("%s: got tick id %d for request %d, want a tick of its own (%d)", name, m.GetId(), ev.ID, id)
			}
			if i == 1 && m.GetId() == 5 {
				t.Errorf("%s: got the stopped alarm 5", name)
			}
		}
	}
	if live, heap := h.pending(); live != 0 || heap != 0 {
		t.Errorf("got %d live, %d in heap, want 0, 0", live, heap)
	}
	if got := len(h.timer.idx.reqs); got != 0 {
		t.Errorf("got %d interned requesters with nothing pending, want 0", got)
	}
}

func TestCancelledEntriesAreCompacted(t *testing.T) {
	h := newHarness(t, nil, "A")
	h.run("A", func(c sdk.Context) {
		for id := range uint64(1000) {
			c.Send(sdk.To(Name), &timerpb.SetAlarm{Id: id, Delay: 10})
		}
		for id := range uint64(900) {
			c.Send(sdk.To(Name), &timerpb.StopAlarm{Id: id})
		}
	})
	live, heap := h.pending()
	if live != 100 || heap > 2*live {
		t.Errorf("got %d live and %d heap slots, want 100 and at most 200", live, heap)
	}
	h.advance(10 * time.Second)
	if got := len(h.ticks("A")); got != 100 {
		t.Errorf("got %d ticks, want 100", got)
	}
}

// TestGoneRequesterStopsItsTimer: a periodic timer whose requester is gone
// (here a closed endpoint) is stopped at its next tick instead of ticking
// into nothing forever; the other requesters' timers go on.
func TestGoneRequesterStopsItsTimer(t *testing.T) {
	h := newHarness(t, nil, "A")
	got := make(chan *sdk.Event, 10)
	ep := h.n.OpenEndpoint(func(ev *sdk.Event) { got <- ev })
	ep.Send(sdk.To(Name), &timerpb.SetTimer{Id: 1, Period: 1})
	h.send("A", &timerpb.SetTimer{Id: 2, Period: 1})
	h.advance(time.Second)
	select {
	case ev := <-got:
		tick(t, ev)
	case <-time.After(5 * time.Second):
		t.Fatal("endpoint got no tick")
	}
	if live, _ := h.pending(); live != 2 {
		t.Fatalf("got %d live timers, want 2", live)
	}
	ep.Close()
	h.advance(time.Second)
	if live, _ := h.pending(); live != 1 {
		t.Errorf("got %d live timers after the requester left, want 1 (A's)", live)
	}
	h.advance(time.Second)
	if got := h.ticks("A"); len(got) != 3 {
		t.Errorf("got %d ticks for the live requester, want 3", len(got))
	}
}

func TestRemoteRequester(t *testing.T) {
	h := newHarness(t, nil)
	w := h.n.Wire()
	got := make(chan *sdk.Event, 10)
	link := w.AttachLink("test peer", func(ev *sdk.Event) error { got <- ev; return nil })
	defer w.DetachLink(link)
	// A request as it arrives from a peer: an envelope with the peer's
	// route, its payload still bytes.
	payload, err := proto.Marshal(&timerpb.SetAlarm{Id: 9, Data: []byte("d"), Cookie: []byte("c"), Delay: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sdk.FromEnvelope(envelope(payload, 77))
	if err != nil {
		t.Fatal(err)
	}
	w.Inbound(link, ev)
	h.advance(time.Second)
	select {
	case ev := <-got:
		m := alarm(t, ev)
		if ev.ID != 77 || m.GetId() != 9 || string(m.GetData()) != "d" || string(m.GetCookie()) != "c" {
			t.Errorf("got request %d id %d data %q cookie %q, want 77, 9, d, c", ev.ID, m.GetId(), m.GetData(), m.GetCookie())
		}
		if len(ev.Route) != 1 || ev.Route[0].Name != "Remote" {
			t.Errorf("got route %v, want the peer's [Remote] left after popping the link", ev.Route)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the link got no tick")
	}
}

func TestRealClock(t *testing.T) {
	got := make(chan *sdk.Event, 10)
	n, err := core.New(core.Config{Services: []sdk.Spec{Spec}, Start: []string{Name}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	ep := n.OpenEndpoint(func(ev *sdk.Event) { got <- ev })
	defer ep.Close()
	start := time.Now()
	ep.Send(sdk.To(Name), &timerpb.SetAlarm{Id: 1, Delay: 0.3})
	ep.Send(sdk.To(Name), &timerpb.SetAlarm{Id: 2, Delay: 0.02})
	for _, want := range []uint64{2, 1} {
		select {
		case ev := <-got:
			m := alarm(t, ev)
			if m.GetId() != want {
				t.Fatalf("got alarm %d, want %d", m.GetId(), want)
			}
			if m.GetFiredAtUnixNano() < m.GetDeadlineUnixNano() || time.Since(start) < time.Duration(m.GetDeadlineUnixNano()-start.UnixNano()) {
				t.Errorf("alarm %d fired early", m.GetId())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no tick for alarm %d in 5s", want)
		}
	}
}

func TestGoroutinesReturnAfterStop(t *testing.T) {
	base := runtime.NumGoroutine()
	n, err := core.New(core.Config{Services: []sdk.Spec{Spec}, Start: []string{Name}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ep := n.OpenEndpoint(func(*sdk.Event) {})
	for i := range 100 {
		ep.Send(sdk.To(Name), &timerpb.SetTimer{Id: uint64(i), Period: 0.001 * float64(i+1)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := waitGoroutines(base, 5*time.Second); got > base {
		t.Errorf("got %d goroutines after Stop, want <= %d", got, base)
	}
}

// waitGoroutines polls until at most want goroutines run or d passes, and
// returns the last count.
func waitGoroutines(want int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		got := runtime.NumGoroutine()
		if got <= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ExampleSpec() {
	fmt.Println(Spec.Name, Spec.EventTypes())
	// Output: Timer [mtnode.timer.v1.List mtnode.timer.v1.ResetAlarm mtnode.timer.v1.SetAlarm mtnode.timer.v1.SetTimer mtnode.timer.v1.StopAlarm mtnode.timer.v1.StopTimer mtnode.timer.v1.Wake]
}

// envelope is a SetAlarm request as a peer sends it, from its service Remote.
func envelope(payload []byte, id uint64) *mtpb.Envelope {
	return &mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Dst: Name, Id: id, Type: "mtnode.timer.v1.SetAlarm",
		Payload: payload, Route: []*mtpb.Hop{{Kind: mtpb.Hop_SERVICE, Name: "Remote"}}}
}

func TestSlotsAreFreedWithTheirHeapSlots(t *testing.T) {
	h := newHarness(t, nil, "A")
	h.run("A", func(c sdk.Context) {
		for id := range uint64(1000) {
			c.Send(sdk.To(Name), &timerpb.SetAlarm{Id: id, Delay: float64(1 + id%10)})
		}
		for id := range uint64(900) {
			c.Send(sdk.To(Name), &timerpb.StopAlarm{Id: id})
		}
	})
	_, heap := h.pending()
	x := &h.timer.idx
	if used := int(x.n) - 1 - len(x.free); used != heap {
		t.Errorf("got %d slots in use and %d heap slots, want one slot per heap slot", used, heap)
	}
	h.advance(5 * time.Second)
	h.ticks("A")
	_, heap = h.pending()
	if used := int(x.n) - 1 - len(x.free); used != heap {
		t.Errorf("got %d slots in use and %d heap slots after firing some, want one slot per heap slot", used, heap)
	}
	h.advance(10 * time.Second)
	if got := len(h.ticks("A")); got == 0 {
		t.Errorf("got no ticks after the last deadline")
	}
	if live, heap := h.pending(); live != 0 || heap != 0 || len(x.chunks) > 1 {
		t.Errorf("got %d live, %d heap slots and %d slab chunks with nothing pending, want 0, 0 and at most 1", live, heap, len(x.chunks))
	}
}
