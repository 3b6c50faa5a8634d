//go:build unix

package link

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// sysWriter writes with one write(2) on the socket's non-blocking
// descriptor, past Go's poller, which would park the caller when the
// socket's buffer is full.
type sysWriter struct{ rc syscall.RawConn }

func newRawWriter(c net.Conn) rawWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return sysWriter{rc}
}

func (w sysWriter) tryWrite(b []byte) (int, error) {
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
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return sysWriter{rc}
}

func (w sysWriter) tryRead(b []byte) (n int, ok bool, err error) {
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
