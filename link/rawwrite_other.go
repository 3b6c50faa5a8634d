//go:build !unix

package link

import "net"

// newRawWriter returns nil: without a non-blocking write, every frame goes
// through the link's writer goroutine.
func newRawWriter(net.Conn) rawWriter { return nil }

// newRawReader returns nil: without a non-blocking read, a SocketStream
// never spins.
func newRawReader(net.Conn) rawReader { return nil }
