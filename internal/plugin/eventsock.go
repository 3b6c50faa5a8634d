package plugin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/sdk"
)

// tokenWait bounds how long a connection to the event socket may take to
// send its token before it is refused.
const tokenWait = time.Second

// eventListener is the Unix socket one plugin process's link is offered
// on, in the host's private socket directory. Only a connection that starts
// with the launch's random token is taken: the directory is the node
// user's, and the token makes sure the link is the process the host
// launched, which alone was told it.
type eventListener struct {
	ln    *net.UnixListener
	path  string
	token []byte
	log   *slog.Logger
}

// listenEvents opens a new event socket in dir.
func listenEvents(dir string, log *slog.Logger) (*eventListener, error) {
	var rnd [8]byte
	token := make([]byte, pluginrt.TokenSize)
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("making the event socket's name: %w", err)
	}
	if _, err := rand.Read(token); err != nil {
		return nil, fmt.Errorf("making the event socket's token: %w", err)
	}
	path := filepath.Join(dir, "events-"+hex.EncodeToString(rnd[:]))
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on the event socket: %w", err)
	}
	// Close removes the file.
	ln.SetUnlinkOnClose(true)
	return &eventListener{ln: ln, path: path, token: token, log: log}, nil
}

// accept returns the first connection that sends the token, refusing (and
// logging) the others, until the listener is closed.
func (l *eventListener) accept() (net.Conn, error) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return nil, err
		}
		if err := l.check(c); err != nil {
			l.log.Warn("refused a connection to the plugin's event socket", sdk.KeyErr, err)
			c.Close()
			continue
		}
		return c, nil
	}
}

// check reads the token from c.
func (l *eventListener) check(c net.Conn) error {
	got := make([]byte, len(l.token))
	_ = c.SetReadDeadline(time.Now().Add(tokenWait))
	if _, err := io.ReadFull(c, got); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("it sent no token within %v", tokenWait)
		}
		return fmt.Errorf("it sent no token: %w", err)
	}
	if subtle.ConstantTimeCompare(got, l.token) != 1 {
		return errors.New("it sent the wrong token (not the process this launch started)")
	}
	return c.SetReadDeadline(time.Time{})
}

// close stops accepting and removes the socket file.
func (l *eventListener) close() { _ = l.ln.Close() }
