//go:build !linux

package rpc

import (
	"net"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not known: keepalive
// alone finds vanished peers, on idle links.
func setUserTimeout(net.Conn, time.Duration) {}
