package h1

import (
	"io"
	"net"
	"os"
	"syscall"
)

// sendFile writes n bytes of f from off to nc with sendfile(2), without
// moving f's offset (cached files are shared between connections).
func sendFile(nc net.Conn, f *os.File, off, n int64) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		_, err := io.Copy(nc, io.NewSectionReader(f, off, n))
		return err
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	src, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	cerr := src.Control(func(sfd uintptr) {
		err := rc.Write(func(dfd uintptr) bool {
			for n > 0 {
				m, e := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(n, 1<<30)))
				if m > 0 {
					n -= int64(m)
				}
				switch {
				case e == syscall.EAGAIN:
					return false
				case e == syscall.EINTR:
				case e != nil:
					werr = e
					return true
				case m == 0:
					werr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if werr == nil {
			werr = err
		}
	})
	if werr == nil {
		werr = cerr
	}
	return werr
}
