package link

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// sentBatch decodes what WriteLoop gave a Sender, as the peer would.
func sentBatch(m any) *mtpb.Batch {
	bs, err := Codec{}.Marshal(m)
	if err != nil {
		panic(err)
	}
	defer bs.Free()
	b := new(mtpb.Batch)
	if err := proto.Unmarshal(bs.Materialize(), b); err != nil {
		panic(err)
	}
	return b
}

// recorder is a Sender that keeps the batches written to it.
type recorder struct {
	mu      sync.Mutex
	batches []int
	ids     []uint64
	got     chan struct{}
}

func (r *recorder) SendMsg(m any) error {
	b := sentBatch(m)
	r.mu.Lock()
	r.batches = append(r.batches, len(b.Envelopes))
	for _, e := range b.Envelopes {
		r.ids = append(r.ids, e.Id)
	}
	r.mu.Unlock()
	r.got <- struct{}{}
	return nil
}

func TestOutboxOrderAndLimit(t *testing.T) {
	o := NewOutbox(3)
	for i := range 3 {
		if err := o.Push(&sdk.Event{Msg: wrapperspb.Int64(int64(i)), ID: uint64(i + 1), Dst: "Echo"}); err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
	}
	if err := o.Push(&sdk.Event{ID: 4}); !errors.Is(err, sdk.ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
	r := &recorder{got: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WriteLoop(ctx, o, r, Limits{MaxBatch: 2}, func(*sdk.Event, error) {})
	}()
	<-r.got
	<-r.got
	cancel()
	<-done
	if got, want := r.batches, []int{2, 1}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got batches %v, want %v", got, want)
	}
	for i, id := range r.ids {
		if id != uint64(i+1) {
			t.Errorf("got ids %v, want 1 2 3 in order", r.ids)
			break
		}
	}
	lost := errors.New("closed")
	o.Close(lost)
	if err := o.Push(&sdk.Event{}); err != lost {
		t.Errorf("Push after Close: got %v, want %v", err, lost)
	}
}

// failing is a Sender whose write number failAt (from 1) fails; earlier
// writes succeed.
type failing struct {
	failAt, n int
	sent      []uint64
}

func (f *failing) SendMsg(m any) error {
	f.n++
	if f.n == f.failAt {
		return errors.New("broken pipe")
	}
	for _, e := range sentBatch(m).Envelopes {
		f.sent = append(f.sent, e.Id)
	}
	return nil
}

// TestWriteLoopFailedBatchIsUnsent: the events of a batch whose write fails
// come back as unsent, with the rest, so the caller fails or counts each.
func TestWriteLoopFailedBatchIsUnsent(t *testing.T) {
	tests := []struct {
		name       string
		events     int
		maxBatch   int
		failAt     int
		wantSent   int
		wantUnsent int
	}{
		{"single batch fails", 3, 10, 1, 0, 3},
		{"first of three batches fails", 5, 2, 1, 0, 5},
		{"second of three batches fails", 5, 2, 2, 2, 3},
		{"last partial batch fails", 5, 2, 3, 4, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOutbox(100)
			for i := range tc.events {
				if err := o.Push(&sdk.Event{Msg: wrapperspb.Int64(int64(i)), ID: uint64(i + 1), Dst: "Echo"}); err != nil {
					t.Fatal(err)
				}
			}
			f := &failing{failAt: tc.failAt}
			unsent, err := WriteLoop(context.Background(), o, f, Limits{MaxBatch: tc.maxBatch}, func(*sdk.Event, error) {})
			if err == nil {
				t.Fatal("got nil error, want the write's")
			}
			if len(f.sent) != tc.wantSent || len(unsent) != tc.wantUnsent {
				t.Fatalf("got %d sent, %d unsent, want %d, %d", len(f.sent), len(unsent), tc.wantSent, tc.wantUnsent)
			}
			for i, ev := range unsent {
				if want := uint64(tc.wantSent + i + 1); ev.ID != want {
					t.Errorf("unsent[%d]: got id %d, want %d", i, ev.ID, want)
				}
			}
		})
	}
}

// signaller is a Sender that frees what it is given and signals each write.
type signaller chan struct{}

func (s signaller) SendMsg(m any) error {
	bs, err := Codec{}.Marshal(m)
	if err != nil {
		return err
	}
	bs.Free()
	s <- struct{}{}
	return nil
}

// BenchmarkLoneEvent measures the writer's hand-off: one event pushed on an
// idle outbox until WriteLoop has written it, as each event of a request
// and its reply is on a quiet link.
func BenchmarkLoneEvent(b *testing.B) {
	o := NewOutbox(100)
	s := make(signaller)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WriteLoop(ctx, o, s, Limits{}, func(*sdk.Event, error) {})
	}()
	ev := &sdk.Event{Msg: wrapperspb.Bytes(make([]byte, 16)), ID: 1, Dst: "Echo"}
	b.ReportAllocs()
	for b.Loop() {
		if err := o.Push(ev); err != nil {
			b.Fatal(err)
		}
		<-s
	}
	cancel()
	<-done
}

// TestOutboxHold: pushes to a held outbox leave the writer asleep, up to
// holdMax events; Release wakes it once for all of them.
func TestOutboxHold(t *testing.T) {
	o := NewOutbox(1000)
	o.Hold()
	for i := range 3 {
		if err := o.Push(&sdk.Event{ID: uint64(i + 1), Dst: "Echo"}); err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
	}
	if len(o.wake) != 0 {
		t.Fatal("a push to a held outbox woke the writer")
	}
	o.Release()
	if len(o.wake) != 1 {
		t.Fatal("Release left the writer asleep with 3 events queued")
	}
	<-o.wake
	o.Release() // not held: nothing changes, but a wake-up is harmless
	<-o.wake

	o.Hold()
	for i := range holdMax - 3 {
		if err := o.Push(&sdk.Event{ID: uint64(i + 4), Dst: "Echo"}); err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
	}
	if len(o.wake) != 1 {
		t.Fatalf("%d events in a held outbox left the writer asleep", holdMax)
	}
	o.Release()
	if got := o.Len(); got != holdMax {
		t.Fatalf("Len = %d, want %d", got, holdMax)
	}
}

// TestOutboxIdle: an outbox is idle only once what was pushed is written:
// not while it waits in the queue, nor while the writer is writing it.
func TestOutboxIdle(t *testing.T) {
	o := NewOutbox(10)
	if !o.Idle() {
		t.Fatal("a new outbox is not idle")
	}
	if err := o.Push(&sdk.Event{Msg: wrapperspb.Int64(1), ID: 1, Dst: "Echo"}); err != nil {
		t.Fatal(err)
	}
	if o.Idle() {
		t.Fatal("idle with an event queued")
	}
	s := make(signaller) // SendMsg blocks until the test receives
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WriteLoop(ctx, o, s, Limits{}, func(*sdk.Event, error) {})
	}()
	defer func() { // let the writer go whatever the test saw
		cancel()
		for {
			select {
			case <-s:
			case <-done:
				return
			}
		}
	}()
	waitUntil(t, "the writer to take the event", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.q) == 0
	})
	if o.Idle() {
		t.Fatal("idle while the writer is still writing the event")
	}
	<-s
	waitUntil(t, "the outbox to be idle once written", o.Idle)
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
