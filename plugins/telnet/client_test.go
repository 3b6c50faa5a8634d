package telnet_test

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// waitTime bounds every wait in these tests.
const waitTime = 20 * time.Second

// client is a console connection that collects what the server sends. It
// answers the server's offers as the telnet client does.
type client struct {
	t    *testing.T
	conn net.Conn

	mu     sync.Mutex
	got    bytes.Buffer // not matched yet
	all    bytes.Buffer // everything, for transcripts
	eof    bool
	change chan struct{}
	done   chan struct{}
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTime)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &client{t: t, conn: conn, change: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		conn.Close()
		<-c.done
	})
	c.send("\xff\xfd\x01\xff\xfd\x03") // DO ECHO, DO SUPPRESS-GO-AHEAD
	return c
}

func (c *client) read() {
	defer close(c.done)
	buf := make([]byte, 4096)
	for {
		n, err := c.conn.Read(buf)
		c.mu.Lock()
		c.got.Write(buf[:n])
		c.all.Write(buf[:n])
		c.eof = err != nil
		c.mu.Unlock()
		select {
		case c.change <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(waitTime))
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// expect waits for s and returns the output up to its end.
func (c *client) expect(s string) string {
	c.t.Helper()
	deadline := time.NewTimer(waitTime)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		i := bytes.Index(c.got.Bytes(), []byte(s))
		var out string
		if i >= 0 {
			out = string(c.got.Next(i + len(s)))
		}
		rest, eof := c.got.String(), c.eof
		c.mu.Unlock()
		if i >= 0 {
			return out
		}
		if eof {
			c.t.Fatalf("connection closed waiting for %q; unmatched output %q", s, rest)
		}
		select {
		case <-c.change:
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for %q; unmatched output %q", s, rest)
		}
	}
}

// run types line and returns the output up to the next prompt.
func (c *client) run(line, prompt string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect("\r\n\r" + prompt)
}

// transcript returns everything received so far as a terminal would show
// it: telnet negotiation and escape sequences removed, CR LF as LF.
func (c *client) transcript() string {
	c.mu.Lock()
	raw := c.all.Bytes()
	c.mu.Unlock()
	var b bytes.Buffer
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == 0xff && i+2 < len(raw):
			i += 2
		case raw[i] == 0x1b: // ESC [ params final
			for i++; i < len(raw) && !(raw[i] >= 0x40 && raw[i] <= 0x7e && raw[i] != '['); i++ {
			}
		case raw[i] == '\r':
		case raw[i] == '\a':
		default:
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}

// expectEOF waits until the server closes the connection and returns what
// it sent that was not matched yet.
func (c *client) expectEOF() string {
	c.t.Helper()
	deadline := time.NewTimer(waitTime)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		eof, rest := c.eof, c.got.String()
		c.mu.Unlock()
		if eof {
			return rest
		}
		select {
		case <-c.change:
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for the server to close; unmatched output %q", rest)
		}
	}
}
