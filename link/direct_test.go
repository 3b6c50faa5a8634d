package link

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// readIDs reads frames from s until it has n envelopes or the stream ends,
// and returns their ids in order.
func readIDs(t *testing.T, s *SocketStream, n int) []uint64 {
	t.Helper()
	var ids []uint64
	f := new(Frame)
	for len(ids) < n {
		if err := s.RecvMsg(f); err != nil {
			t.Fatalf("after %d of %d events: %v", len(ids), n, err)
		}
		for _, env := range f.Envelopes() {
			ids = append(ids, env.GetId())
		}
	}
	return ids
}

// TestDirectAndBatchedWritesKeepOrder: pushes from several goroutines, some
// written by the pusher on an idle link and the rest batched by the writer,
// arrive whole, each goroutine's in the order it pushed them.
func TestDirectAndBatchedWritesKeepOrder(t *testing.T) {
	a, b := tcpPair(t)
	o := NewOutbox(1 << 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go WriteLoop(ctx, o, NewSocketStream(a, 1<<20), Limits{}, func(ev *sdk.Event, err error) { t.Errorf("bad %v: %v", ev, err) })
	const senders, each = 4, 2000
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := &sdk.Event{Msg: wrapperspb.Int64(int64(i)), ID: uint64(g)<<32 | uint64(i+1), Dst: "Echo"}
				if err := o.Push(ev); err != nil {
					t.Errorf("Push: %v", err)
					return
				}
				if i%50 == 0 {
					time.Sleep(100 * time.Microsecond) // idle: the next push writes itself
				}
			}
		}()
	}
	ids := readIDs(t, NewSocketStream(b, 1<<20), senders*each)
	wg.Wait()
	next := make([]uint64, senders)
	for _, id := range ids {
		g, i := id>>32, id&(1<<32-1)
		if i != next[g]+1 {
			t.Fatalf("sender %d: event %d after %d", g, i, next[g])
		}
		next[g] = i
	}
}

// TestDirectPushNeverWaits: with a peer that does not read, pushes of large
// events all return (the socket takes what it can, the writer and the
// outbox the rest); once the peer reads, every event arrives, in order.
func TestDirectPushNeverWaits(t *testing.T) {
	a, b := tcpPair(t)
	o := NewOutbox(1 << 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go WriteLoop(ctx, o, NewSocketStream(a, 64<<20), Limits{}, func(*sdk.Event, error) {})
	const n = 200
	big := make([]byte, 64<<10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if err := o.Push(&sdk.Event{Msg: wrapperspb.Bytes(big), ID: uint64(i + 1), Dst: "Sink"}); err != nil {
				t.Errorf("Push %d: %v", i, err)
				return
			}
			time.Sleep(30 * time.Microsecond) // let the link go idle, so pushes try to write
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Push waited for a peer that does not read")
	}
	ids := readIDs(t, NewSocketStream(b, 64<<20), n)
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("event %d arrived as id %d", i+1, id)
		}
	}
}

// TestDirectWriteFailure: a push on an idle link whose socket is closed
// returns a link-lost error for its event (its caller fails it), and the
// writer ends with the socket's error.
func TestDirectWriteFailure(t *testing.T) {
	a, b := tcpPair(t)
	o := NewOutbox(16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan error, 1)
	go func() {
		_, err := WriteLoop(ctx, o, NewSocketStream(a, 1<<20), Limits{}, func(*sdk.Event, error) {})
		ended <- err
	}()
	if err := o.Push(&sdk.Event{Msg: wrapperspb.Int64(1), ID: 1, Dst: "Echo"}); err != nil {
		t.Fatalf("first push: %v", err)
	}
	readIDs(t, NewSocketStream(b, 1<<20), 1) // the writer is running, the link idle
	a.Close()
	var err error
	for range 100 {
		time.Sleep(time.Millisecond)
		if err = o.Push(&sdk.Event{Msg: wrapperspb.Int64(2), ID: 2, Dst: "Echo"}); err != nil {
			break
		}
	}
	if !errors.Is(err, sdk.ErrLinkLost) {
		t.Fatalf("push to a closed socket: got %v, want ErrLinkLost", err)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("WriteLoop ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteLoop did not end")
	}
}

// TestWriterEndsDuringDirectPushes: a writer that ends (its link closing)
// while other goroutines push to the idle link leaves no push writing to
// a sender it no longer has; every push returns. Run with -race, which
// caught a direct write reading the writer's stream after it ended.
func TestWriterEndsDuringDirectPushes(t *testing.T) {
	for round := range 20 {
		a, _ := tcpPair(t)
		o := NewOutbox(1 << 12)
		ctx, cancel := context.WithCancel(context.Background())
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			WriteLoop(ctx, o, NewSocketStream(a, 1<<20), Limits{}, func(*sdk.Event, error) {})
		}()
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 100 {
					o.Push(&sdk.Event{Msg: wrapperspb.Int64(int64(i)), ID: uint64(g)<<32 | uint64(i+1), Dst: "Echo"})
					time.Sleep(25 * time.Microsecond) // idle: pushes write directly
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		cancel()
		<-ended
		wg.Wait()
	}
}

// TestFrameLimit: events that each fit a frame but not together go in
// frames of their own, never past the frame limit the peer accepts; an
// event too large for a frame alone, whether written directly or by the
// writer, goes to bad with TooLarge, and the link goes on.
func TestFrameLimit(t *testing.T) {
	const limit = 64 << 10
	a, b := tcpPair(t)
	o := NewOutbox(1 << 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var refused []uint64
	loop := make(chan error, 1)
	go func() {
		_, err := WriteLoop(ctx, o, NewSocketStream(a, limit), Limits{MaxFrame: limit}, func(ev *sdk.Event, err error) {
			if !strings.Contains(err.Error(), "more than the 65536 bytes a link frame may hold") {
				t.Errorf("event %d refused with %v, want TooLarge", ev.ID, err)
			}
			mu.Lock()
			refused = append(refused, ev.ID)
			mu.Unlock()
		})
		loop <- err
	}()
	event := func(id uint64, size int) *sdk.Event {
		return &sdk.Event{Msg: wrapperspb.Bytes(make([]byte, size)), ID: id, Dst: "Echo"}
	}
	waitDirect(t, o) // the writer runs, the link idle: the first push is a direct write
	if err := o.Push(event(100, 2*limit)); err != nil {
		t.Fatalf("Push of a too-large event: %v, want it refused through bad", err)
	}
	var want []uint64
	for i := range uint64(10) {
		if i == 5 {
			if err := o.Push(event(101, limit)); err != nil { // the envelope's header takes it past
				t.Fatal(err)
			}
		}
		if err := o.Push(event(i+1, 40<<10)); err != nil {
			t.Fatal(err)
		}
		want = append(want, i+1)
	}
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := readIDs(t, NewSocketStream(b, limit), len(want))
	if !slices.Equal(got, want) {
		t.Errorf("got events %v, want %v", got, want)
	}
	cancel()
	if err := <-loop; !errors.Is(err, context.Canceled) {
		t.Errorf("the writer ended with %v, want only the cancel", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(refused, []uint64{100, 101}) {
		t.Errorf("refused %v, want [100 101]", refused)
	}
}

// waitDirect waits until o's writer has turned direct writes on.
func waitDirect(t *testing.T, o *Outbox) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		o.mu.Lock()
		on := o.direct != nil
		o.mu.Unlock()
		if on {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer did not turn direct writes on in 5s")
		}
	}
}
