//go:build unix

package link

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// sysConn reads and writes with one read(2) or write(2) on the socket's
// non-blocking descriptor, past Go's poller, which would park the caller
// when there is nothing to read or the socket's buffer is full.
type sysConn struct{ rc syscall.RawConn }

// newSysConn returns c's descriptor as a sysConn, or false when c has none
// (a TLS connection, a pipe).
func newSysConn(c net.Conn) (sysConn, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return sysConn{}, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return sysConn{}, false
	}
	return sysConn{rc}, true
}

// newRawWriter returns a writer of c's descriptor that never waits, or
// nil when c has none.
func newRawWriter(c net.Conn) rawWriter {
	if s, ok := newSysConn(c); ok {
		return s
	}
	return nil
}

func (w sysConn) tryWrite(b []byte) (int, error) {
	var n int
	var werr error
	err := w.rc.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // never wait: what is left goes to the writer
	})
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	if werr != nil && !errors.Is(werr, syscall.EAGAIN) && !errors.Is(werr, syscall.EINTR) {
		return n, werr
	}
	return n, nil
}

// newRawReader returns a reader of c's descriptor that never waits, or
// nil when c has none.
func newRawReader(c net.Conn) rawReader {
	if s, ok := newSysConn(c); ok {
		return s
	}
	return nil
}

func (w sysConn) tryRead(b []byte) (n int, ok bool, err error) {
	var rerr error
	err = w.rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), b)
		return true // never wait: the caller decides
	})
	if err != nil {
		return 0, false, err
	}
	if rerr != nil {
		if errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR) {
			return 0, false, nil
		}
		return 0, false, rerr
	}
	if n == 0 && len(b) > 0 {
		return 0, false, io.EOF
	}
	return n, true, nil
}
