// Package testwait holds bounded waits that the tests of several packages
// share: for a port to refuse connections, for a value on a channel, and
// for a call running in the background (a node's Stop, typically) to have
// returned or not yet; and a loopback address where nothing listens.
package testwait

import (
	"net"
	"testing"
	"time"
)

// UnusedAddr returns a loopback TCP address where nothing listens: one the
// system gave a listener that is closed again. Another program may take
// it meanwhile, as with any port picked ahead of its use.
func UnusedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Refused polls addr until a TCP connection to it is refused, and fails t
// if it still accepts one after 5 s; what says who should have stopped
// accepting.
func Refused(t testing.TB, addr, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
	}
	t.Fatalf("%s still accepts connections on %s after 5s", what, addr)
}

// Call is a function running on a goroutine of its own.
type Call struct {
	done chan error
}

// Go runs fn on a goroutine of its own.
func Go(fn func() error) *Call {
	c := &Call{done: make(chan error, 1)}
	go func() { c.done <- fn() }()
	return c
}

// Running fails t if the call has returned; what names the call.
func (c *Call) Running(t testing.TB, what string) {
	t.Helper()
	select {
	case err := <-c.done:
		t.Fatalf("%s returned too early (%v)", what, err)
	default:
	}
}

// Wait waits up to 10 s for the call to return and returns its error; it
// fails t if the call is still running then. what names the call.
func (c *Call) Wait(t testing.TB, what string) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within 10s", what)
		return nil
	}
}

// Recv returns the next value from ch, and fails t if none comes within
// 5 s; what names the value awaited.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
		var zero T
		return zero
	}
}
