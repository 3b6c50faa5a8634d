package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mtnode/mtnode/internal/testwait"
)

// startServer serves h on network/addr and returns the address; the server
// is closed when the test ends.
func startServer(t *testing.T, s *Server, network, addr string) string {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	return ln.Addr().String()
}

// echoHandler answers with "<method> <path> <len(body)>" and the body.
var echoHandler = HandlerFunc(func(w *ResponseWriter, r *Request) {
	fmt.Fprintf(w, "%s %s %d:%s", r.Method, r.Path, len(r.Body), r.Body)
})

type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

type resp struct {
	status int
	header http.Header
	body   string
	conn   string // the Connection header ("close" also when net/http consumed it)
}

func (c *client) read(method string) resp {
	c.t.Helper()
	r, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	conn := r.Header.Get("Connection")
	if r.Close {
		conn = "close"
	}
	return resp{r.StatusCode, r.Header, string(b), conn}
}

// expectClosed checks that the server closed the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c.br)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open, want closed")
		}
	}
	if len(b) > 0 {
		c.t.Fatalf("got %q after the last response, want EOF", b)
	}
}

func TestKeepAlive(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoHandler}, "tcp", "127.0.0.1:0")
	tests := []struct {
		name      string
		req       string
		wantConn  string
		wantClose bool
	}{
		{"http11 default", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "", false},
		{"http11 close", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "close", true},
		{"http10 default", "GET /a HTTP/1.0\r\n\r\n", "close", true},
		{"http10 keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "keep-alive", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			for i := range 3 {
				c.send(tt.req)
				r := c.read("GET")
				if r.status != 200 || r.body != "GET /a 0:" {
					t.Fatalf("request %d: got %d %q, want 200 %q", i, r.status, r.body, "GET /a 0:")
				}
				if got := r.conn; got != tt.wantConn {
					t.Fatalf("Connection: got %q, want %q", got, tt.wantConn)
				}
				if r.header.Get("Date") == "" || r.header.Get("Server") == "" {
					t.Fatalf("missing Date or Server header: %v", r.header)
				}
				if tt.wantClose {
					c.expectClosed()
					return
				}
			}
		})
	}
}

func TestPipelining(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoHandler}, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", i)
	}
	c.send(b.String())
	for i := range 20 {
		want := fmt.Sprintf("POST /%d 2:ab", i)
		if r := c.read("POST"); r.body != want {
			t.Fatalf("response %d: got %q, want %q", i, r.body, want)
		}
	}
}

// TestPipeliningAsync detaches every request and finishes them in reverse
// order from other goroutines; responses must still come in request order.
func TestPipeliningAsync(t *testing.T) {
	const n = 8
	pending := make(chan func(), n)
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Path) == "/inline" {
			w.WriteString("inline")
			return
		}
		body := string(r.Path)
		w.Detach()
		pending <- func() { w.WriteString(body); w.Finish() }
	})
	addr := startServer(t, &Server{Handler: h}, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	var b strings.Builder
	var want []string
	for i := range n {
		fmt.Fprintf(&b, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		want = append(want, fmt.Sprintf("/%d", i))
		if i%3 == 1 {
			b.WriteString("GET /inline HTTP/1.1\r\nHost: x\r\n\r\n")
			want = append(want, "inline")
		}
	}
	c.send(b.String())
	var fs []func()
	for range n {
		select {
		case f := <-pending:
			fs = append(fs, f)
		case <-time.After(5 * time.Second):
			t.Fatalf("handler not called for all requests (got %d of %d)", len(fs), n)
		}
	}
	done := make(chan struct{})
	for i := len(fs) - 1; i >= 0; i-- {
		go func() { fs[i](); done <- struct{}{} }()
		<-done
	}
	for i, w := range want {
		if r := c.read("GET"); r.body != w {
			t.Fatalf("response %d: got %q, want %q", i, r.body, w)
		}
	}
}

func TestChunkedBody(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoHandler}, "tcp", "127.0.0.1:0")
	tests := []struct {
		name, body, want string
	}{
		{"simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "POST / 11:hello world"},
		{"extension and trailers", "5;x=y\r\nhello\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n", "POST / 5:hello"},
		{"hex sizes", "A\r\n0123456789\r\n0\r\n\r\n", "POST / 10:0123456789"},
		{"empty", "0\r\n\r\n", "POST / 0:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			head := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			// Send in two writes to exercise incremental decoding.
			c.send(head + tt.body[:len(tt.body)/2])
			c.send(tt.body[len(tt.body)/2:])
			if r := c.read("POST"); r.status != 200 || r.body != tt.want {
				t.Fatalf("got %d %q, want 200 %q", r.status, r.body, tt.want)
			}
			// The connection stays usable.
			c.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			if r := c.read("GET"); r.body != "GET /next 0:" {
				t.Fatalf("next request: got %q", r.body)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	s := &Server{Handler: echoHandler, MaxHeaderBytes: 1024, MaxHeaders: 10, MaxBodyBytes: 100}
	addr := startServer(t, s, "tcp", "127.0.0.1:0")
	many := ""
	for i := range 11 {
		many += fmt.Sprintf("X-%d: v\r\n", i)
	}
	tests := []struct {
		name string
		req  string
		want int
	}{
		{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431},
		{"unterminated huge request line", "GET /" + strings.Repeat("a", 2000), 414},
		{"request target too long", "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"too many headers", "GET / HTTP/1.1\r\nHost: x\r\n" + many + "\r\n", 431},
		{"body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413},
		{"chunked too large", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" + strings.Repeat("a", 128) + "\r\n0\r\n\r\n", 413},
		{"garbage", "HELLO\r\n\r\n", 400},
		{"space in method", "GE T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad target", "GET abc HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad version", "GET / HTTQ/1.1\r\nHost: x\r\n\r\n", 400},
		{"http2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"obs fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
		{"nul in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400},
		{"bare cr", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400},
		{"bad length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},
		{"conflicting lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"length and chunked", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"gzip coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"chunk without crlf", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", 400},
		{"expect other", "GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tt.req)
			r := c.read("GET")
			if r.status != tt.want {
				t.Fatalf("got %d, want %d (%q)", r.status, tt.want, r.body)
			}
			if got := r.conn; got != "close" {
				t.Fatalf("Connection: got %q, want close", got)
			}
			c.expectClosed()
		})
	}
}

func TestHead(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoHandler}, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	c.send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	h := c.read("HEAD")
	g := c.read("GET")
	if h.body != "" {
		t.Fatalf("HEAD body: got %q, want empty", h.body)
	}
	if got, want := h.header.Get("Content-Length"), fmt.Sprint(len("HEAD /x 0:")); got != want {
		t.Fatalf("HEAD Content-Length: got %s, want %s", got, want)
	}
	if g.body != "GET /x 0:" {
		t.Fatalf("GET after HEAD: got %q", g.body)
	}
}

func TestExpectContinue(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoHandler}, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	c.send("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v; want the 100 Continue line", line, err)
	}
	if blank, _ := c.br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("got %q after 100 Continue, want a blank line", blank)
	}
	c.send("abc")
	if r := c.read("PUT"); r.body != "PUT /u 3:abc" {
		t.Fatalf("got %q, want %q", r.body, "PUT /u 3:abc")
	}
}

func TestTimeouts(t *testing.T) {
	s := &Server{Handler: echoHandler, ReadTimeout: 200 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	addr := startServer(t, s, "tcp", "127.0.0.1:0")
	tests := []struct {
		name string
		send string
	}{
		{"slow head", "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		{"slow body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"},
		{"idle", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
			c.read("GET")
			c.send(tt.send)
			c.expectClosed()
		})
	}
}

func TestPanicRecovered(t *testing.T) {
	h := HandlerFunc(func(w *ResponseWriter, r *Request) { panic("boom") })
	addr := startServer(t, &Server{Handler: h}, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.status != 500 {
		t.Fatalf("got %d, want 500", r.status)
	}
	c.expectClosed()
}

func TestIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	ln.Close()
	addr := startServer(t, &Server{Handler: echoHandler}, "tcp", "[::1]:0")
	c := dial(t, addr)
	c.send("GET /six HTTP/1.1\r\nHost: [::1]\r\n\r\n")
	if r := c.read("GET"); r.body != "GET /six 0:" {
		t.Fatalf("got %q", r.body)
	}
}

func TestShutdown(t *testing.T) {
	started := make(chan *ResponseWriter, 1)
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Path) == "/slow" {
			w.Detach()
			started <- w
			return
		}
		w.WriteString("fast")
	})
	s := &Server{Handler: h}
	addr := startServer(t, s, "tcp", "127.0.0.1:0")
	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	var w *ResponseWriter
	select {
	case w = <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("slow handler not called")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	idle.expectClosed()
	if _, err := net.Dial("tcp", addr); err == nil {
		// The listener may close an instant after Shutdown starts; poll.
		deadline := time.Now().Add(5 * time.Second)
		for {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				break
			}
			nc.Close()
			if time.Now().After(deadline) {
				t.Fatal("listener still accepting after Shutdown")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a request was in flight", err)
	default:
	}
	w.WriteString("slow done")
	w.Finish()
	if r := busy.read("GET"); r.body != "slow done" || r.conn != "close" {
		t.Fatalf("in-flight response: got %q Connection=%q, want \"slow done\" close", r.body, r.conn)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the last request finished")
	}
}

// flakyListener fails its first n Accept calls with err.
type flakyListener struct {
	net.Listener
	mu  sync.Mutex
	n   int
	err error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptErrorsRetried checks that resource errors from accept (ENFILE,
// ENOBUFS, ...) do not end Serve: it retries and serves the next
// connection, and still ends with ErrServerClosed on Close.
func TestAcceptErrorsRetried(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		t.Run(errno.Error(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			fl := &flakyListener{Listener: ln, n: 3,
				err: &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}}
			s := &Server{Handler: echoHandler}
			done := make(chan error, 1)
			go func() { done <- s.Serve(fl) }()
			c := dial(t, ln.Addr().String())
			c.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
			if r := c.read("GET"); r.status != 200 {
				t.Fatalf("got %d, want 200", r.status)
			}
			s.Close()
			select {
			case err := <-done:
				if !errors.Is(err, ErrServerClosed) {
					t.Fatalf("Serve returned %v, want ErrServerClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return after Close")
			}
		})
	}
}

// TestFinishNeverWaitsForTheClient: Finish is called by goroutines that
// deliver the answers of many connections (a plugin's link), so a client
// that stops reading must not hold them up. One goroutine finishes, in
// turn, a 16 MiB answer and an 8 MiB file (sent with sendfile) to a client
// that reads nothing yet, then a small answer to another client: that one
// gets its answer at once, long before the 30 s write timeout. The first,
// once it reads, gets both answers whole and in order, and its connection
// goes on.
func TestFinishNeverWaitsForTheClient(t *testing.T) {
	const bodySize, fileSize = 16 << 20, 8 << 20
	body := bytes.Repeat([]byte("answer-body-16MB"), bodySize/16)
	file := bytes.Repeat([]byte("0123456789abcdef"), fileSize/16)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "big"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := NewFileServer(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	finish := make(chan func(), 4)
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		path := string(r.Path)
		w.Detach()
		finish <- func() {
			switch path {
			case "/body":
				w.Write(body)
			case "/big":
				fs.Serve(w, FileRequest{Method: []byte("GET"), Path: []byte(path)})
			default:
				w.WriteString("small")
			}
			w.Finish()
		}
	})
	addr := startServer(t, &Server{Handler: h}, "tcp", "127.0.0.1:0")
	slow := dial(t, addr)
	// A small receive buffer, so that the socket cannot take the answers
	// at once however the kernel sizes its buffers.
	if err := slow.nc.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	slow.send("GET /body HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	fast := dial(t, addr)
	jobs := []func(){testwait.Recv(t, finish, "handler call"), testwait.Recv(t, finish, "handler call")}
	fast.send("GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
	jobs = append(jobs, testwait.Recv(t, finish, "handler call"))
	delivered := make(chan struct{})
	go func() { // the one goroutine that finishes every answer
		for _, f := range jobs {
			f()
		}
		close(delivered)
	}()
	fast.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if r := fast.read("GET"); r.body != "small" {
		t.Fatalf("other client: got %q, want %q", r.body, "small")
	}
	select {
	case <-delivered:
	case <-time.After(5 * time.Second):
		t.Fatal("Finish still blocked 5 s after a client stopped reading")
	}
	slow.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if r := slow.read("GET"); r.status != 200 || r.body != string(body) {
		t.Fatalf("slow client's first answer: %d, %d bytes, want 200 and the %d-byte body", r.status, len(r.body), bodySize)
	}
	if r := slow.read("GET"); r.status != 200 || r.body != string(file) {
		t.Fatalf("slow client's second answer: %d, %d bytes, want 200 and the %d-byte file", r.status, len(r.body), fileSize)
	}
	slow.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
	testwait.Recv(t, finish, "handler call")()
	if r := slow.read("GET"); r.body != "small" {
		t.Fatalf("slow client's third answer: got %q, want %q", r.body, "small")
	}
}

// TestFlusherKeepsOrder: answers that come while a flusher writes a large
// one to a client that does not read yet, inline or finished elsewhere,
// reach the client after it and in request order.
func TestFlusherKeepsOrder(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (8<<20)/16)
	finish := make(chan func(), 4)
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		path := string(r.Path)
		if path == "/inline" {
			w.WriteString("inline")
			return
		}
		w.Detach()
		finish <- func() {
			if path == "/big" {
				w.Write(body)
			} else {
				w.WriteString(path)
			}
			w.Finish()
		}
	})
	addr := startServer(t, &Server{Handler: h}, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	// A small receive buffer, so that the socket cannot take the large
	// answer at once however the kernel sizes its buffers.
	if err := c.nc.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	var req strings.Builder
	for _, p := range []string{"/big", "/inline", "/a", "/inline", "/b"} {
		fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
	}
	c.send(req.String())
	big := testwait.Recv(t, finish, "handler call for /big")
	a := testwait.Recv(t, finish, "handler call for /a")
	b := testwait.Recv(t, finish, "handler call for /b")
	big() // more than the socket takes: a flusher writes the rest
	b()   // finished out of order, while the flusher runs
	a()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i, want := range []string{string(body), "inline", "/a", "inline", "/b"} {
		if r := c.read("GET"); r.status != 200 || r.body != want {
			t.Fatalf("answer %d: got %d and %d bytes, want 200 and %d bytes", i, r.status, len(r.body), len(want))
		}
	}
}

// TestShutdownBoundsAFlusher: a graceful Shutdown waits for a flusher
// still writing to a client that does not read only as long as its
// context allows, then closes the connection, which ends the flusher.
func TestShutdownBoundsAFlusher(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (16<<20)/16)
	finish := make(chan func(), 1)
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Detach()
		finish <- func() { w.Write(body); w.Finish() }
	})
	s := &Server{Handler: h}
	addr := startServer(t, s, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	if err := c.nc.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	testwait.Recv(t, finish, "handler call")() // returns at once; the flusher writes on
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	shutdown := testwait.Go(func() error { return s.Shutdown(ctx) })
	if err := shutdown.Wait(t, "Shutdown"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: got %v, want its context's deadline (the client reads nothing)", err)
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c.nc)
	if err == nil && n >= int64(len(body)) {
		t.Fatalf("the client got all %d bytes; want the connection closed before", n)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection stayed open after Shutdown gave up (%d bytes read)", n)
	}
}
