package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/mtnode/mtnode/examples/demo/helloweb"
	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

const benchReq = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n"

var listeningRE = regexp.MustCompile(`helloweb: listening" .*addrs=(\S+)`)

// startNode runs this program's node with hello as the HelloWeb spec and
// returns HelloWeb's address.
func startNode(tb testing.TB, hello sdk.Spec) string {
	tb.Helper()
	var logs sdktest.LogBuffer
	n, err := boot.Open(boot.Options{
		Exe:      "mt-test-http",
		Embedded: defaultConf,
		InMemory: true,
		Sets:     []string{"HelloWeb.bindAddr=127.0.0.1:0"},
		Services: []sdk.Spec{webserver.Spec, hello},
		LogOut:   &logs,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := n.Start(tb.Context(), nil, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Stop() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			tb.Fatalf("HelloWeb did not report its address; logs:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startNetHTTP(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hello := []byte(helloweb.Hello)
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Server", "mtnode")
		w.Write(hello)
	})}
	go s.Serve(ln)
	tb.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// exchange writes depth pipelined requests and reads as many responses.
type exchange struct {
	nc   net.Conn
	req  []byte
	resp []byte
}

func newExchange(tb testing.TB, addr string, depth int) *exchange {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	// Every response has the same size (the Date line is fixed width):
	// learn it from the first.
	io.WriteString(nc, benchReq)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n := 0
	for !bytes.HasSuffix(buf[:n], []byte(helloweb.Hello)) {
		m, err := nc.Read(buf[n:])
		if err != nil {
			tb.Fatalf("first response: %v (%q)", err, buf[:n])
		}
		n += m
	}
	nc.SetReadDeadline(time.Time{})
	return &exchange{nc: nc, req: bytes.Repeat([]byte(benchReq), depth), resp: make([]byte, n*depth)}
}

func (e *exchange) do() error {
	if _, err := e.nc.Write(e.req); err != nil {
		return err
	}
	_, err := io.ReadFull(e.nc, e.resp)
	return err
}

// BenchmarkHelloWeb measures GET / on one loopback connection: HelloWeb
// through WebServer, registered Inline (as shipped) and queued, against
// net/http in the same run.
func BenchmarkHelloWeb(b *testing.B) {
	servers := []struct {
		name  string
		start func(testing.TB) string
	}{
		{"baseline=net/http", startNetHTTP},
		{"helloweb=inline", func(tb testing.TB) string { return startNode(tb, helloweb.Spec) }},
		{"helloweb=queued", func(tb testing.TB) string {
			return startNode(tb, sdk.Define(helloweb.Name, helloweb.New))
		}},
	}
	for _, depth := range []int{1, 16} {
		for _, s := range servers {
			name := s.name + "/pipeline=1"
			if depth > 1 {
				name = s.name + "/pipeline=16"
			}
			b.Run(name, func(b *testing.B) {
				e := newExchange(b, s.start(b), depth)
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					if err := e.do(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*depth)/time.Since(start).Seconds(), "req/s")
			})
		}
	}
}
