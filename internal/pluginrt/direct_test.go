package pluginrt

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// TestTrySendMsgLeavesWhatTheSocketCannotTake: with the peer not reading,
// TrySendMsg returns at once, keeping the part of the frame the socket's
// buffer did not take; Flush sends it once the peer reads, and the peer
// gets the frame whole.
func TestTrySendMsgLeavesWhatTheSocketCannotTake(t *testing.T) {
	a, b := socketPair(t)
	_ = a.SetWriteBuffer(4 << 10)
	_ = b.SetReadBuffer(4 << 10)
	sa, sb := link.NewSocketStream(a, MaxMessageSize), NewSocketStream(b) // keep a's small buffer
	big := strings.Repeat("x", 1<<20)
	want := &pluginpb.Frame{Defines: []*pluginpb.Define{{Key: "k", Description: big}}}

	done := make(chan bool, 1)
	go func() {
		left, err := sa.TrySendMsg(want)
		if err != nil {
			t.Error(err)
		}
		done <- left
	}()
	select {
	case left := <-done:
		if !left {
			t.Fatal("a 1 MiB frame fit a 4 KiB socket buffer: want part of it left")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("TrySendMsg waited for the peer to read")
	}

	flushed := make(chan error, 1)
	go func() { flushed <- sa.Flush() }()
	got := new(pluginpb.Frame)
	if err := sb.RecvMsg(got); err != nil {
		t.Fatal(err)
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if d := got.GetDefines(); len(d) != 1 || d[0].GetDescription() != big {
		t.Fatalf("the peer got a frame of %d defines, not the one sent whole", len(d))
	}
	// A frame after the flush goes as usual.
	if err := sa.SendMsg(&pluginpb.Frame{Ready: &pluginpb.Ready{Pid: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := sb.RecvMsg(got); err != nil || got.GetReady().GetPid() != 7 {
		t.Fatalf("next frame: got %v, %v; want Ready with pid 7", got, err)
	}
}

// TestDirectSendsNeverWait: lone events, which Send writes itself rather
// than through the writer goroutine, never make Send wait for a peer that
// does not read; once it reads, it gets every event, whole and in order.
func TestDirectSendsNeverWait(t *testing.T) {
	a, b := socketPair(t)
	_ = a.SetWriteBuffer(4 << 10)
	_ = b.SetReadBuffer(4 << 10)
	sa, sb := link.NewSocketStream(a, MaxMessageSize), NewSocketStream(b) // keep a's small buffer
	payload := bytes.Repeat([]byte("y"), 64<<10)
	const n = 20
	ca := NewConn(sa, ConnConfig{Name: "a", Credit: DefaultWindow, Deliver: func(*sdk.Event) {}, CloseSend: sa.CloseWrite})
	runA := make(chan error, 1)
	go func() { runA <- ca.Run() }()

	sent := make(chan error, 1)
	go func() {
		for i := range n {
			ev := &sdk.Event{Kind: sdk.KindRequest, ID: uint64(i + 1), Dst: "X", Msg: wrapperspb.Bytes(payload)}
			if err := ca.Send(ev); err != nil {
				sent <- err
				return
			}
			time.Sleep(2 * link.DirectGap) // each event alone on the link: written directly
		}
		sent <- nil
	}()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Send waited for a peer that does not read")
	}

	var mu sync.Mutex
	var got []uint64
	cb := NewConn(sb, ConnConfig{Name: "b", Credit: DefaultWindow, Deliver: func(ev *sdk.Event) {
		err := ev.Decode()
		m, ok := ev.Msg.(*wrapperspb.BytesValue)
		mu.Lock()
		defer mu.Unlock()
		if !ok || !bytes.Equal(m.GetValue(), payload) {
			t.Errorf("event %d: payload damaged: %T of %d bytes (%v)", ev.ID, ev.Msg, len(m.GetValue()), err)
		}
		got = append(got, ev.ID)
	}})
	runB := make(chan error, 1)
	go func() { runB <- cb.Run() }()
	ca.Close()
	for _, run := range []chan error{runB, runA} {
		select {
		case err := <-run:
			if !errors.Is(err, io.EOF) && err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the link did not end after Close")
		}
		sb.Close() // b's Run has returned: end a's reader too
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("the peer got %d events, want %d", len(got), n)
	}
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("event %d arrived as number %d: out of order (%v)", id, i+1, got)
		}
	}
}

// TestControlFramesBeforeRunGoFirst: events a plugin's services send while
// they start, before Run, are written after the control frames queued
// before Run (the plugin's Ready), never ahead of them by a direct write:
// the host refuses events that come before Ready.
func TestControlFramesBeforeRunGoFirst(t *testing.T) {
	a, b := socketPair(t)
	sa, sb := NewSocketStream(a), NewSocketStream(b)
	ca := NewConn(sa, ConnConfig{Name: "a", Credit: DefaultWindow, Deliver: func(*sdk.Event) {}, CloseSend: sa.CloseWrite})
	// As the plugin runtime does: its services start, and may send, before
	// it queues Ready and runs the link.
	time.Sleep(2 * link.DirectGap) // the link is idle: a direct write would be allowed
	if err := ca.Send(testEvents(1)[0]); err != nil {
		t.Fatal(err)
	}
	if err := ca.SendControl(&pluginpb.Frame{Ready: &pluginpb.Ready{Pid: 42}}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = ca.Run() }()
	defer ca.Close()
	var first pluginpb.Frame
	if err := sb.RecvMsg(&first); err != nil {
		t.Fatal(err)
	}
	if first.GetReady().GetPid() != 42 {
		t.Fatalf("first frame: got %v, want Ready (an event went ahead of it)", &first)
	}
	var second pluginpb.Frame
	if err := sb.RecvMsg(&second); err != nil {
		t.Fatal(err)
	}
	if n := len(second.GetBatch().GetEnvelopes()); n != 1 {
		t.Fatalf("second frame: got %v, want the event", &second)
	}
}
