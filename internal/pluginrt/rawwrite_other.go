//go:build !unix

package pluginrt

import "net"

// newRawWriter returns nil: without a non-blocking write, every frame goes
// through the Conn's writer goroutine.
func newRawWriter(net.Conn) rawWriter { return nil }
