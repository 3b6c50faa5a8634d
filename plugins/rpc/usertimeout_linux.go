package rpc

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// setUserTimeout bounds how long data written to c may stay unacknowledged
// before the kernel gives up on the connection (TCP_USER_TIMEOUT). Keepalive
// probes only run on an idle connection; without this, a link to a peer
// that vanished while data was in flight would retransmit for about 15
// minutes before its requests failed.
func setUserTimeout(c net.Conn, d time.Duration) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
	})
}
