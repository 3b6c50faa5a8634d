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
