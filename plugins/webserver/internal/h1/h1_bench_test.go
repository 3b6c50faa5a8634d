package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

const benchReq = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n"

var helloHandler = HandlerFunc(func(w *ResponseWriter, r *Request) {
	w.WriteString("Hello, World!")
})

func BenchmarkParse(b *testing.B) {
	b.Run("baseline=net/http.ReadRequest", func(b *testing.B) {
		b.ReportAllocs()
		rd := bytes.NewReader(nil)
		br := bufio.NewReader(rd)
		for b.Loop() {
			rd.Reset([]byte(benchReq))
			br.Reset(rd)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("h1.parseHead", func(b *testing.B) {
		b.ReportAllocs()
		var r Request
		buf := []byte(benchReq)
		lim := limits{maxHeaderBytes: DefaultMaxHeaderBytes, maxHeaders: DefaultMaxHeaders}
		for b.Loop() {
			if _, err := parseHead(&r, buf, lim); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// roundTripper sends one request and reads one fixed-size response on a
// loopback connection, without allocating.
type roundTripper struct {
	nc   net.Conn
	req  []byte
	resp []byte
}

func newRoundTripper(tb testing.TB, addr string, pipeline int) *roundTripper {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	rt := &roundTripper{nc: nc, req: bytes.Repeat([]byte(benchReq), pipeline)}
	// Learn the response size from one exchange.
	if _, err := nc.Write([]byte(benchReq)); err != nil {
		tb.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "Hello, World!" {
		tb.Fatalf("got body %q", body)
	}
	var hb bytes.Buffer
	resp.Header.Del("Date")
	n := len("HTTP/1.1 200 OK\r\n") + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n") + len("\r\n") + len(body)
	for k, vs := range resp.Header {
		for _, v := range vs {
			hb.WriteString(k + ": " + v + "\r\n")
		}
	}
	n += hb.Len()
	rt.resp = make([]byte, n*pipeline)
	return rt
}

func (rt *roundTripper) do() error {
	if _, err := rt.nc.Write(rt.req); err != nil {
		return err
	}
	_, err := io.ReadFull(rt.nc, rt.resp)
	return err
}

func serveNetHTTP(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hello := []byte("Hello, World!")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Server", "mtnode")
		w.Write(hello)
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func serveH1(tb testing.TB, h Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Handler: h}
	go s.Serve(ln)
	tb.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// detachedHello answers through Detach and Finish, as the WebServer
// service does when the answer comes back as an event.
var detachedHello = HandlerFunc(func(w *ResponseWriter, r *Request) {
	w.Detach()
	w.WriteString("Hello, World!")
	w.Finish()
})

// serveFinishedElsewhere serves answers that one other goroutine finishes,
// as the WebServer service's are when they come back from a plugin: the
// goroutine that reads the plugin's link calls Finish.
func serveFinishedElsewhere(tb testing.TB) string {
	ws := make(chan *ResponseWriter, 64)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case w := <-ws:
				w.WriteString("Hello, World!")
				w.Finish()
			case <-stop:
				return
			}
		}
	}()
	tb.Cleanup(func() { close(stop) })
	return serveH1(tb, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Detach()
		ws <- w
	}))
}

// BenchmarkLoopback measures one client connection doing request/response
// exchanges over loopback (and 16-deep pipelined batches), against a
// net/http server in the same run.
func BenchmarkLoopback(b *testing.B) {
	servers := []struct {
		name  string
		start func(testing.TB) string
	}{
		{"baseline=net/http", serveNetHTTP},
		{"h1=inline", func(tb testing.TB) string { return serveH1(tb, helloHandler) }},
		{"h1=detached", func(tb testing.TB) string { return serveH1(tb, detachedHello) }},
		{"h1=finished-elsewhere", serveFinishedElsewhere},
	}
	for _, depth := range []int{1, 16} {
		for _, s := range servers {
			name := s.name + "/pipeline=1"
			if depth > 1 {
				name = s.name + "/pipeline=16"
			}
			b.Run(name, func(b *testing.B) {
				rt := newRoundTripper(b, s.start(b), depth)
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					if err := rt.do(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*depth)/time.Since(start).Seconds(), "req/s")
			})
		}
	}
}

// TestNoAllocs asserts that the hot path allocates nothing once warm: the
// parser, the response serializer, and a whole loopback exchange (client
// and server) with inline and detached handlers.
func TestNoAllocs(t *testing.T) {
	var r Request
	buf := []byte(benchReq)
	lim := limits{maxHeaderBytes: DefaultMaxHeaderBytes, maxHeaders: DefaultMaxHeaders}
	if n := testing.AllocsPerRun(100, func() { parseHead(&r, buf, lim) }); n != 0 {
		t.Errorf("parseHead: got %v allocs, want 0", n)
	}
	var w ResponseWriter
	out := make([]byte, 0, 512)
	date := []byte("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	if n := testing.AllocsPerRun(100, func() {
		w.status, w.body, w.hdr = 200, w.body[:0], w.hdr[:0]
		w.AddHeader("X-A", "b")
		w.WriteString("Hello, World!")
		out = w.appendResponse(out[:0], date)
	}); n != 0 {
		t.Errorf("appendResponse: got %v allocs, want 0", n)
	}
	if testing.Short() || raceEnabled {
		return
	}
	for _, tc := range []struct {
		name  string
		serve func(testing.TB) string
	}{
		{"inline", func(tb testing.TB) string { return serveH1(tb, helloHandler) }},
		{"detached", func(tb testing.TB) string { return serveH1(tb, detachedHello) }},
		{"finished-elsewhere", serveFinishedElsewhere},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRoundTripper(t, tc.serve(t), 4)
			for range 100 { // warm pools and buffers
				if err := rt.do(); err != nil {
					t.Fatal(err)
				}
			}
			// A time.Date reformat once a second may land inside the run.
			if n := testing.AllocsPerRun(1000, func() { rt.do() }); n >= 0.01 {
				t.Errorf("loopback exchange: got %v allocs, want 0", n)
			}
		})
	}
}
