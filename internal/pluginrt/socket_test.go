package pluginrt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// socketPair returns the two ends of a connected Unix socket.
func socketPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestSocketConns: two Conns over the event socket carry events in order
// within credit, and a Close on one side ends both, as over gRPC.
//
// With a small credit window the writer mostly finds more queued than it may
// send, and carries the rest over to its next write: the order must hold
// across those carries too.
func TestSocketConns(t *testing.T) {
	for _, window := range []uint32{DefaultWindow, 64} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) { testSocketConns(t, window) })
	}
}

func testSocketConns(t *testing.T, window uint32) {
	a, b := socketPair(t)
	sa, sb := NewSocketStream(a), NewSocketStream(b)
	const n = 50000
	var mu sync.Mutex
	var got []uint64
	ca := NewConn(sa, ConnConfig{Name: "a", Credit: window, Window: window, Deliver: func(*sdk.Event) {}, CloseSend: sa.CloseWrite})
	cb := NewConn(sb, ConnConfig{Name: "b", Credit: window, Window: window, Deliver: func(ev *sdk.Event) {
		mu.Lock()
		got = append(got, ev.ID)
		mu.Unlock()
	}})
	errs := make(chan error, 2)
	go func() { errs <- ca.Run() }()
	go func() {
		err := cb.Run()
		sb.Close() // as the plugin does once its runtime stopped
		errs <- err
	}()
	for _, ev := range testEvents(n) {
		for {
			err := ca.Send(ev)
			if err == nil {
				break
			}
			if sdk.CodeOf(err) != sdk.CodeQueueFull {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	ca.Close()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Run: got %v, want io.EOF", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after Close")
		}
	}
	if len(got) != n {
		t.Fatalf("got %d events, want %d", len(got), n)
	}
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("event %d: got id %d, want %d (in order)", i, id, i+1)
		}
	}
}

// TestSocketControlFrames: control frames go through as they are.
func TestSocketControlFrames(t *testing.T) {
	a, b := socketPair(t)
	sa, sb := NewSocketStream(a), NewSocketStream(b)
	want := &pluginpb.Frame{Ready: &pluginpb.Ready{Credit: 7, Pid: 42, Services: []string{"X"}}}
	if err := sa.SendMsg(want); err != nil {
		t.Fatal(err)
	}
	got := new(pluginpb.Frame)
	if err := sb.RecvMsg(got); err != nil {
		t.Fatal(err)
	}
	if got.GetReady().GetPid() != 42 || got.GetReady().GetCredit() != 7 {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func frameBytes(n uint32, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), body...)
}

// TestSocketBadFrames: what is not a link frame ends the link at once
// with an error that says so: never a panic, never a wait for bytes that
// a lying length announced.
func TestSocketBadFrames(t *testing.T) {
	valid := mustMarshal(t, &pluginpb.Frame{Batch: &mtpb.Batch{Credit: 3}})
	tests := []struct {
		name  string
		bytes []byte
		close bool // the peer hangs up after writing
		want  string
	}{
		{"length past the limit", frameBytes(MaxMessageSize+1, nil), false, "past the"},
		{"length of 4 GiB", frameBytes(0xffffffff, []byte("junk")), false, "past the"},
		{"body does not decode", frameBytes(8, bytes.Repeat([]byte{0xff}, 8)), false, "does not decode"},
		{"text instead of frames", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, "past the"},
		{"length cut short", []byte{0, 0}, true, "ended in the middle"},
		{"body cut short", frameBytes(100, []byte("abc")), true, "ended in the middle"},
		{"good frame, then garbage", append(frameBytes(uint32(len(valid)), valid), frameBytes(4, []byte{0x0a, 0xff, 0xff, 0xff})...), false, "does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t)
			if _, err := a.Write(tt.bytes); err != nil {
				t.Fatal(err)
			}
			if tt.close {
				a.Close()
			}
			c := NewConn(NewSocketStream(b), ConnConfig{Name: "test", Deliver: func(*sdk.Event) {}})
			done := make(chan error, 1)
			go func() { done <- c.Run() }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrBadFrame) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want an ErrBadFrame saying %q", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
		})
	}
}

// TestSocketCleanEnd: a peer that hangs up between frames ends the link
// with io.EOF, as a half-closed gRPC stream does.
func TestSocketCleanEnd(t *testing.T) {
	a, b := socketPair(t)
	sa := NewSocketStream(a)
	if err := sa.SendMsg(&pluginpb.Frame{Batch: &mtpb.Batch{Credit: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := sa.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c := NewConn(NewSocketStream(b), ConnConfig{Name: "test", Deliver: func(*sdk.Event) {}})
	if err := c.Run(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want io.EOF", err)
	}
}

// TestSocketSendLimit: SendMsg refuses a frame the peer would refuse.
func TestSocketSendLimit(t *testing.T) {
	a, _ := socketPair(t)
	s := link.NewSocketStream(a, 64)
	err := s.SendMsg(&pluginpb.Frame{Defines: []*pluginpb.Define{{Key: strings.Repeat("k", 100)}}})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v, want a frame-too-large error", err)
	}
}

// bufConn is a net.Conn that reads r and writes w: a SocketStream over
// bytes in memory.
type bufConn struct {
	net.Conn
	r io.Reader
	w io.Writer
}

func (c bufConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c bufConn) Write(b []byte) (int, error) { return c.w.Write(b) }

func mustMarshal(t testing.TB, f *pluginpb.Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	s := link.NewSocketStream(bufConn{w: &buf}, MaxMessageSize)
	if err := s.SendMsg(f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()[4:]
}

// BenchmarkSocketRoundTrip: one event to a peer Conn over the event socket
// and straight back, within one process; baseline: a frame of the same
// size ping-ponged over the bare socket. What lies between the two is the
// Conn: its writer goroutine and its reader's delivery, on each side.
func BenchmarkSocketRoundTrip(b *testing.B) {
	ev := testEvents(1)[0]
	b.Run("baseline=bare-socket", func(b *testing.B) {
		a, c := socketPair(b)
		go func() {
			buf := make([]byte, 256)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
		msg := make([]byte, 64)
		buf := make([]byte, 256)
		for b.Loop() {
			if _, err := a.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(a, buf[:len(msg)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("conn", func(b *testing.B) {
		a, c := socketPair(b)
		back := make(chan struct{}, 1)
		ca := NewConn(NewSocketStream(a), ConnConfig{Name: "a", Credit: DefaultWindow,
			Deliver: func(*sdk.Event) { back <- struct{}{} }})
		var cc *Conn
		cc = NewConn(NewSocketStream(c), ConnConfig{Name: "c", Credit: DefaultWindow,
			Deliver: func(ev *sdk.Event) { _ = cc.Send(ev) }})
		go ca.Run()
		go cc.Run()
		for b.Loop() {
			if err := ca.Send(ev); err != nil {
				b.Fatal(err)
			}
			<-back
		}
	})
}
