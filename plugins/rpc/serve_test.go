package rpc

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first Accept as a process out of descriptors
// does, then is closed.
type flakyListener struct {
	net.Listener
	calls int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.calls++
	if l.calls == 1 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return nil, net.ErrClosed
}

func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestServeOutlivesAcceptErrors: a failed Accept (out of descriptors) does
// not stop the RPC port; only closing the listener does.
func TestServeOutlivesAcceptErrors(t *testing.T) {
	s := &Service{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l := &flakyListener{}
	var wg sync.WaitGroup
	s.serve(context.Background(), l, newConnListener(l.Addr()), &wg)
	wg.Wait()
	if l.calls != 2 {
		t.Fatalf("Accept called %d times, want 2: serve gave up after the first error", l.calls)
	}
}

// TestHelloErr: the acceptor's log says what a failed hello read means.
func TestHelloErr(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{io.EOF, "the peer closed the connection before its hello was complete"},
		{io.ErrUnexpectedEOF, "the peer closed the connection before its hello was complete"},
		{timeout, "no complete hello within RPC.handshakeTimeout (5s)"},
		{io.ErrShortWrite, io.ErrShortWrite.Error()},
	} {
		if got := helloErr(tc.err, 5*time.Second); got != tc.want {
			t.Errorf("helloErr(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
