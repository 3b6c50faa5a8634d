package console

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// waitTime bounds every wait in these tests; nothing here should take
// more than a small fraction of it.
const waitTime = 10 * time.Second

// Telnet bytes a client sends to accept the server's offers.
const acceptEcho = "\xff\xfd\x01\xff\xfd\x03"

// client is a test connection that collects everything the server sends.
type client struct {
	t    *testing.T
	conn net.Conn

	mu     sync.Mutex
	got    bytes.Buffer  // output not matched yet
	change chan struct{} // signalled on new output or EOF
	eof    bool
	done   chan struct{} // closed when the reader goroutine ends
}

// dial connects to addr; with telnet set it accepts ECHO and SGA as the
// telnet client does.
func dial(t *testing.T, addr string, telnet bool) *client {
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
	if telnet {
		c.send(acceptEcho)
	}
	return c
}

func (c *client) read() {
	defer close(c.done)
	buf := make([]byte, 4096)
	for {
		n, err := c.conn.Read(buf)
		c.mu.Lock()
		c.got.Write(buf[:n])
		if err != nil {
			c.eof = true
		}
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

// wait blocks until cond holds for the unmatched output, or fails the
// test at the deadline. cond returns how much output it consumed.
func (c *client) wait(what string, cond func(out []byte, eof bool) (int, bool)) string {
	c.t.Helper()
	deadline := time.NewTimer(waitTime)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n, ok := cond(c.got.Bytes(), c.eof)
		var matched []byte
		if ok {
			matched = c.got.Next(n)
		}
		out := c.got.Bytes()
		out = out[max(0, len(out)-2000):]
		eof := c.eof
		c.mu.Unlock()
		if ok {
			return string(matched)
		}
		if eof {
			c.t.Fatalf("connection closed while waiting for %s; unmatched output (its end):\n%q", what, out)
		}
		select {
		case <-c.change:
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for %s; unmatched output (its end):\n%q", what, out)
		}
	}
}

// expect waits for s in the output and returns the output up to its end.
func (c *client) expect(s string) string {
	c.t.Helper()
	return c.wait(`"`+s+`"`, func(out []byte, _ bool) (int, bool) {
		i := bytes.Index(out, []byte(s))
		return i + len(s), i >= 0
	})
}

// expectEOF waits until the server closes the connection and returns the
// output it sent last.
func (c *client) expectEOF() string {
	c.t.Helper()
	return c.wait("EOF", func(out []byte, eof bool) (int, bool) { return len(out), eof })
}

// run sends a line and returns the output up to the next prompt.
func (c *client) run(line, prompt string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prompt)
}

// testServer starts a server on 127.0.0.1:0 and stops it at cleanup.
func testServer(t *testing.T, cfg Config, tree *Tree) (*Server, string) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "n1"
	}
	srv, err := NewServer(cfg, tree)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, ln.Addr().String()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTime)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// demoTree builds the tree the session tests use. release lets a test
// finish the "later" command; it runs on its own goroutine, as a service
// answering by event would.
func demoTree(t *testing.T, release <-chan struct{}) *Tree {
	t.Helper()
	tree := NewTree()
	add := func(path, args, desc string, h HandlerFunc) {
		t.Helper()
		if _, err := tree.Add(path, args, desc, "Demo", h); err != nil {
			t.Fatal(err)
		}
	}
	add("demo/echo", "text...", "print the text", func(c *Call, reply func(string)) {
		v, _ := c.Arg("text")
		reply(v)
	})
	add("demo/add", "a:int b:int", "add two integers", func(c *Call, reply func(string)) {
		a, _ := c.Arg("a")
		b, _ := c.Arg("b")
		reply(a + "+" + b)
	})
	add("demo/mode", "m:fast|slow [why...]", "set the mode", func(c *Call, reply func(string)) {
		m, _ := c.Arg("m")
		reply("mode " + m)
	})
	add("demo/lines", "", "print three lines", func(c *Call, reply func(string)) {
		reply("one\ntwo\r\nthree\n")
	})
	add("demo/slow", "", "never answers", func(c *Call, reply func(string)) {})
	add("demo/panic", "", "panics", func(c *Call, reply func(string)) { panic("boom") })
	add("demo/later", "", "answers when the test says so", func(c *Call, reply func(string)) {
		go func() {
			<-release
			reply("later done")
		}()
	})
	if _, err := tree.Add("rpc/peers", "[filter:/[a-z0-9.:]+/]", "list RPC peers", "RPC",
		HandlerFunc(func(c *Call, reply func(string)) { reply("peers: none") })); err != nil {
		t.Fatal(err)
	}
	if err := tree.Describe("demo", "demo commands"); err != nil {
		t.Fatal(err)
	}
	return tree
}
