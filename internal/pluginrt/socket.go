package pluginrt

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/mtnode/mtnode/link"
)

// TokenSize is the length of the token a plugin writes first on the host's
// event socket (Hello.event_token).
const TokenSize = 32

// ErrBadFrame is link.ErrBadFrame: bytes on the event socket that are not
// a frame end the link, as a crash of the peer does.
var ErrBadFrame = link.ErrBadFrame

// NewSocketStream returns the stream of an event socket: frames of up to
// MaxMessageSize bytes.
func NewSocketStream(c net.Conn) *link.SocketStream {
	// A batch is up to a few MB. With the default send buffer (about 200
	// KiB) the writer would wait for the peer's reader a few times per
	// batch; gRPC's link had an 8 MiB window for the same reason. The
	// kernel caps it at net.core.wmem_max.
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.SetWriteBuffer(StreamWindow)
	}
	return link.NewSocketStream(c, MaxMessageSize)
}

// EnvLinkSpin is the environment variable in which the host gives its
// plugins Node.pluginLinkSpin: how long the plugin's end of the event
// socket polls for the next frame (a Go duration; see
// link.SocketStream.SetSpin). Unset or unparsable: no spinning.
const EnvLinkSpin = "MTNODE_LINK_SPIN"

// DialEventSocket connects to the host's event socket at path and writes
// the token, as the host requires of the first bytes.
func DialEventSocket(path string, token []byte, timeout time.Duration) (*link.SocketStream, error) {
	if len(token) != TokenSize {
		return nil, fmt.Errorf("pluginrt: the host sent an event socket token of %d bytes, want %d", len(token), TokenSize)
	}
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, fmt.Errorf("pluginrt: connecting to the host's event socket: %w", err)
	}
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(token); err != nil {
		c.Close()
		return nil, fmt.Errorf("pluginrt: writing the token to the host's event socket: %w", err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	s := NewSocketStream(c)
	if d, err := time.ParseDuration(os.Getenv(EnvLinkSpin)); err == nil {
		s.SetSpin(d)
	}
	return s, nil
}

var _ Stream = (*link.SocketStream)(nil)
