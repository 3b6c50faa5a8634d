package webserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/proto/webpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// site is a test service: at Start it sends listen to WebServer, reports
// the outcome on result, and answers each request with answer (or, when
// hold > 0, holds hold requests and answers them in reverse order). A nil
// response with a nil error sends no reply at all.
type site struct {
	mux    sdk.Mux
	listen *webpb.Listen
	result chan<- any // []string addresses or error
	answer func(*webpb.Request) (*webpb.Response, error)
	hold   int
	held   []*sdk.Event
}

func siteSpec(name string, listen *webpb.Listen, result chan<- any, hold int, answer func(*webpb.Request) (*webpb.Response, error)) sdk.Spec {
	return sdk.Define(name, func() sdk.Service {
		s := &site{listen: listen, result: result, answer: answer, hold: hold}
		sdk.On(&s.mux, func(c sdk.Context, m *webpb.Listening) error {
			s.result <- m.GetAddrs()
			return nil
		})
		sdk.On(&s.mux, func(c sdk.Context, r *webpb.Request) error {
			if s.hold > 0 {
				s.held = append(s.held, c.Event())
				if len(s.held) == s.hold {
					for i := len(s.held) - 1; i >= 0; i-- {
						resp, _ := s.answer(s.held[i].Msg.(*webpb.Request))
						c.ReplyTo(s.held[i], resp)
					}
					s.held = nil
				}
				return nil
			}
			resp, err := s.answer(r)
			if err != nil {
				return err
			}
			if resp != nil { // nil: the reply is lost
				c.Reply(resp)
			}
			return nil
		})
		s.mux.OnError(func(c sdk.Context, ev *sdk.Event) error {
			s.result <- ev.Err
			return nil
		})
		return s
	})
}

func (s *site) Start(c sdk.Context) error {
	c.Send(sdk.To(webserver.Name), s.listen)
	return nil
}

func (s *site) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

func echo(r *webpb.Request) (*webpb.Response, error) {
	resp := &webpb.Response{Body: []byte(r.GetMethod() + " " + r.GetTarget() + " " + string(r.GetBody()))}
	for _, h := range r.GetHeaders() {
		if h.GetName() == "X-Echo" {
			resp.Headers = append(resp.Headers, &webpb.Header{Name: "X-Echo", Value: h.GetValue()})
		}
	}
	return resp, nil
}

// start runs WebServer and a site on an in-memory node and returns the
// addresses the site got.
func start(t *testing.T, listen *webpb.Listen, hold int, answer func(*webpb.Request) (*webpb.Response, error), opts ...sdktest.Option) []string {
	t.Helper()
	result := make(chan any, 1)
	opts = append(opts, sdktest.WithStart("Site"))
	sdktest.New(t, []sdk.Spec{webserver.Spec, siteSpec("Site", listen, result, hold, answer)}, opts...)
	select {
	case r := <-result:
		if addrs, ok := r.([]string); ok {
			return addrs
		}
		t.Fatalf("Listen failed: %v", r)
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to Listen")
	}
	return nil
}

type resp struct {
	status int
	header http.Header
	body   string
}

func roundTrip(t *testing.T, addr string, raw string, n int) []resp {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	var out []resp
	for range n {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading response %d: %v", len(out), err)
		}
		b, _ := io.ReadAll(r.Body)
		out = append(out, resp{r.StatusCode, r.Header, string(b)})
	}
	return out
}

func TestRequestResponse(t *testing.T) {
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0", WithHeaders: true}, 0, echo)
	got := roundTrip(t, addrs[0], "POST /p?q=1 HTTP/1.1\r\nHost: x\r\nX-Echo: hi\r\nContent-Length: 4\r\n\r\nbody", 1)[0]
	if got.status != 200 || got.body != "POST /p?q=1 body" || got.header.Get("X-Echo") != "hi" {
		t.Fatalf("got %d %q X-Echo=%q, want 200 %q hi", got.status, got.body, got.header.Get("X-Echo"), "POST /p?q=1 body")
	}
}

// TestAbsoluteFormTarget: a request whose target is in absolute form (RFC
// 9112 3.2.2: a server must take it) reaches the service in origin form,
// which is what services route on.
func TestAbsoluteFormTarget(t *testing.T) {
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0"}, 0, echo)
	for raw, want := range map[string]string{
		"GET http://x/p?q=1 HTTP/1.1\r\nHost: x\r\n\r\n":  "GET /p?q=1 ",
		"GET http://x HTTP/1.1\r\nHost: x\r\n\r\n":        "GET / ",
		"GET https://x:8/a/b HTTP/1.1\r\nHost: x\r\n\r\n": "GET /a/b ",
		"GET /origin?y HTTP/1.1\r\nHost: x\r\n\r\n":       "GET /origin?y ",
	} {
		if got := roundTrip(t, addrs[0], raw, 1)[0]; got.status != 200 || got.body != want {
			t.Errorf("%q: got %d %q, want 200 %q", raw, got.status, got.body, want)
		}
	}
}

func TestRepliesOutOfOrder(t *testing.T) {
	const n = 4
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0"}, n, echo)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	for i, r := range roundTrip(t, addrs[0], b.String(), n) {
		if want := fmt.Sprintf("GET /%d ", i); r.body != want {
			t.Fatalf("response %d: got %q, want %q", i, r.body, want)
		}
	}
}

func TestBindFailure(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	result := make(chan any, 2)
	n := sdktest.New(t, []sdk.Spec{webserver.Spec,
		siteSpec("Site", &webpb.Listen{Addrs: "127.0.0.1:0," + busy.Addr().String()}, result, 0, echo),
	}, sdktest.WithStart("Site"))
	select {
	case r := <-result:
		err, ok := r.(error)
		if !ok || !strings.Contains(err.Error(), busy.Addr().String()) {
			t.Fatalf("got %v, want an error event naming %s", r, busy.Addr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error event for a failed bind")
	}
	// The node and WebServer live on: a good Listen still works.
	reply, err := n.Request(sdk.To(webserver.Name), &webpb.Listen{Addrs: "127.0.0.1:0", Service: "Site"})
	if err != nil {
		t.Fatalf("Listen after a failed bind: %v", err)
	}
	addr := reply.(*webpb.Listening).GetAddrs()[0]
	if r := roundTrip(t, addr, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]; r.body != "GET /ok " {
		t.Fatalf("got %q", r.body)
	}
	// Listen from outside a service must name the service.
	if _, err := n.Request(sdk.To(webserver.Name), &webpb.Listen{Addrs: "127.0.0.1:0"}); !errors.Is(err, sdk.ErrHandlerFailed) {
		t.Fatalf("Listen without a service from an endpoint: got %v, want ErrHandlerFailed", err)
	}
}

// TestListenAgainGetsItsListener: a service that asks again for the
// listener it has (a plugin relaunched while its listener lived on does at
// each start) gets that listener, not a bind error; the same address with
// other options, or from another service, is still refused as in use.
func TestListenAgainGetsItsListener(t *testing.T) {
	addr := testwait.UnusedAddr(t)
	result := make(chan any, 2)
	n := sdktest.New(t, []sdk.Spec{webserver.Spec,
		siteSpec("Site", &webpb.Listen{Addrs: addr}, result, 0, echo),
		siteSpec("Other", &webpb.Listen{Addrs: addr}, make(chan any, 2), 0, echo),
	}, sdktest.WithStart("Site"))
	select {
	case r := <-result:
		if _, ok := r.([]string); !ok {
			t.Fatalf("first Listen: got %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to Listen")
	}
	first, err := n.Request(sdk.To(webserver.Name), &webpb.Listen{Addrs: addr, Service: "Site"})
	if err != nil {
		t.Fatalf("Listen again: %v", err)
	}
	again, err := n.Request(sdk.To(webserver.Name), &webpb.Listen{Addrs: addr, Service: "Site"})
	if err != nil {
		t.Fatalf("Listen a third time: %v", err)
	}
	if a, b := first.(*webpb.Listening), again.(*webpb.Listening); a.GetId() != b.GetId() || len(a.GetAddrs()) != 1 || a.GetAddrs()[0] != addr {
		t.Fatalf("got listeners %v and %v, want the same one, on %s", a, b, addr)
	}
	if r := roundTrip(t, addr, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]; r.body != "GET /ok " {
		t.Fatalf("got %q", r.body)
	}
	for _, m := range []*webpb.Listen{
		{Addrs: addr, Service: "Site", WithHeaders: true},
		{Addrs: addr, Service: "Other"},
	} {
		if _, err := n.Request(sdk.To(webserver.Name), m); err == nil || !strings.Contains(err.Error(), "in use") {
			t.Errorf("Listen %v: got %v, want the address refused as in use", m, err)
		}
	}
}

func TestIPv4AndIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		ln.Close()
	}
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0, [::1]:0"}, 0, echo)
	if len(addrs) != 2 {
		t.Fatalf("got addresses %v, want two", addrs)
	}
	for _, a := range addrs {
		if r := roundTrip(t, a, "GET /v HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]; r.body != "GET /v " {
			t.Fatalf("%s: got %q", a, r.body)
		}
	}
}

func TestHandlerErrors(t *testing.T) {
	answer := func(r *webpb.Request) (*webpb.Response, error) {
		switch r.GetTarget() {
		case "/fail":
			return nil, errors.New("site: no")
		case "/status":
			return &webpb.Response{Status: 418, Body: []byte("teapot"), Close: true}, nil
		}
		return echo(r)
	}
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0"}, 0, answer)
	tests := []struct {
		name, target string
		want         int
	}{
		{"handler error", "/fail", 500},
		{"custom status", "/status", 418},
		{"ok", "/", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := roundTrip(t, addrs[0], "GET "+tt.target+" HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]
			if r.status != tt.want {
				t.Fatalf("got %d %q, want %d", r.status, r.body, tt.want)
			}
		})
	}
}

func TestFileResponse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("Hello, World!"), 0o644); err != nil {
		t.Fatal(err)
	}
	answer := func(r *webpb.Request) (*webpb.Response, error) {
		return &webpb.Response{File: r.GetTarget()}, nil
	}
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0", DocRoot: dir}, 0, answer)
	first := roundTrip(t, addrs[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]
	if first.status != 200 || first.body != "Hello, World!" || first.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("got %d %q %v", first.status, first.body, first.header)
	}
	etag := first.header.Get("ETag")
	tests := []struct {
		name, headers string
		want          int
		body          string
	}{
		{"not modified", "If-None-Match: " + etag + "\r\n", 304, ""},
		{"range", "Range: bytes=7-\r\n", 206, "World!"},
		{"head", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if tt.name == "head" {
				method = "HEAD"
			}
			nc, err := net.Dial("tcp", addrs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(nc, method+" / HTTP/1.1\r\nHost: x\r\n"+tt.headers+"\r\n")
			r, err := http.ReadResponse(bufio.NewReader(nc), &http.Request{Method: method})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			if r.StatusCode != tt.want || string(b) != tt.body {
				t.Fatalf("got %d %q, want %d %q", r.StatusCode, b, tt.want, tt.body)
			}
		})
	}
	if r := roundTrip(t, addrs[0], "GET /../x HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]; r.status != 403 {
		t.Fatalf("traversal: got %d, want 403", r.status)
	}
}

func TestConfigLimits(t *testing.T) {
	conf := sdktest.WithConfig(map[string]map[string]string{webserver.Name: {"maxBodyBytes": "8"}})
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0"}, 0, echo, conf)
	r := roundTrip(t, addrs[0], "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n123456789", 1)[0]
	if r.status != 413 {
		t.Fatalf("got %d, want 413", r.status)
	}
}

func TestUnlisten(t *testing.T) {
	result := make(chan any, 1)
	n := sdktest.New(t, []sdk.Spec{webserver.Spec, siteSpec("Site", &webpb.Listen{}, result, 0, echo)})
	reply, err := n.Request(sdk.To(webserver.Name), &webpb.Listen{Addrs: "127.0.0.1:0", Service: "Site"})
	if err != nil {
		t.Fatal(err)
	}
	l := reply.(*webpb.Listening)
	if _, err := n.Request(sdk.To(webserver.Name), &webpb.Unlisten{Id: l.GetId()}); err != nil {
		t.Fatalf("Unlisten: %v", err)
	}
	if nc, err := net.Dial("tcp", l.GetAddrs()[0]); err == nil {
		nc.Close()
		t.Fatalf("still accepting on %s after Unlisten", l.GetAddrs()[0])
	}
	if _, err := n.Request(sdk.To(webserver.Name), &webpb.Unlisten{Id: l.GetId()}); !errors.Is(err, sdk.ErrHandlerFailed) {
		t.Fatalf("second Unlisten: got %v, want ErrHandlerFailed", err)
	}
}

func TestLostReplyTimesOut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	answer := func(r *webpb.Request) (*webpb.Response, error) {
		if r.GetTarget() == "/lost" {
			return nil, nil
		}
		return echo(r)
	}
	conf := sdktest.WithConfig(map[string]map[string]string{webserver.Name: {"replyTimeout": timeout.String()}})
	addrs := start(t, &webpb.Listen{Addrs: "127.0.0.1:0"}, 0, answer, conf)
	begin := time.Now()
	// The lost request is pipelined before a good one: the good answer
	// waits for the 504 (responses go out in order), and the connection
	// goes on after it.
	got := roundTrip(t, addrs[0], "GET /lost HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 2)
	if elapsed := time.Since(begin); elapsed < timeout {
		t.Errorf("504 after %v, want at least the reply timeout %v", elapsed, timeout)
	}
	if got[0].status != 504 || !strings.Contains(got[0].body, "Site did not answer") {
		t.Errorf("lost reply: got %d %q, want 504 naming Site", got[0].status, got[0].body)
	}
	if got[1].status != 200 || got[1].body != "GET /ok " {
		t.Errorf("next request: got %d %q, want 200 %q", got[1].status, got[1].body, "GET /ok ")
	}
}

// TestStopQuiescesListeners: when the node begins to stop, WebServer stops
// accepting and closes idle kept-alive connections at once, while the
// queues still drain; a request in progress is answered (with "Connection:
// close") before the node stops.
// queuedAt returns how many events wait in the queue of service name.
func queuedAt(n *sdktest.Node, name string) int {
	for _, st := range n.Stats() {
		if st.Name == name {
			return st.QueueLen
		}
	}
	return 0
}

func TestStopQuiescesListeners(t *testing.T) {
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	answer := func(r *webpb.Request) (*webpb.Response, error) {
		if r.GetTarget() == "/slow" {
			entered <- struct{}{}
			<-gate
		}
		return echo(r)
	}
	result := make(chan any, 1)
	n := sdktest.New(t, []sdk.Spec{webserver.Spec, siteSpec("Site", &webpb.Listen{Addrs: "127.0.0.1:0"}, result, 0, answer)},
		sdktest.WithStart("Site"))
	var addr string
	select {
	case r := <-result:
		addrs, ok := r.([]string)
		if !ok {
			t.Fatalf("Listen failed: %v", r)
		}
		addr = addrs[0]
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to Listen")
	}
	dial := func() (net.Conn, *bufio.Reader) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		return nc, bufio.NewReader(nc)
	}
	// idle: a kept-alive connection between requests.
	idle, idleR := dial()
	io.WriteString(idle, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	if r, err := http.ReadResponse(idleR, nil); err != nil || r.StatusCode != 200 {
		t.Fatalf("first request: %v %v", r, err)
	} else {
		io.ReadAll(r.Body)
	}
	// slow: in progress in Site's handler; queued: waits in Site's queue,
	// so the drain cannot end before the gate opens.
	// The slow one is in the handler before the queued one is sent, so
	// that the two cannot be taken in one batch.
	slow, slowR := dial()
	io.WriteString(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("Site's handler did not get the slow request")
	}
	queued, queuedR := dial()
	io.WriteString(queued, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if queuedAt(n, "Site") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second request did not reach Site's queue")
		}
	}

	stop := testwait.Go(func() error { return n.Stop(context.Background()) })

	// While Site is still busy: no new connections, and the idle one ends.
	testwait.Refused(t, addr, "WebServer, while the node stops,")
	if _, err := idleR.ReadByte(); err != io.EOF {
		t.Errorf("idle kept-alive connection: read %v, want EOF (closed by the stopping server)", err)
	}
	stop.Running(t, "Stop, before the requests in progress were answered,")

	close(gate)
	for _, c := range []struct {
		name string
		r    *bufio.Reader
		body string
	}{{"in progress", slowR, "GET /slow "}, {"queued", queuedR, "GET /b "}} {
		r, err := http.ReadResponse(c.r, nil)
		if err != nil {
			t.Fatalf("%s request: %v", c.name, err)
		}
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != 200 || string(b) != c.body || !r.Close {
			t.Errorf("%s request: got %d %q close=%v, want 200 %q with Connection: close", c.name, r.StatusCode, b, r.Close, c.body)
		}
	}
	if err := stop.Wait(t, "Stop"); err != nil {
		t.Errorf("Stop: %v", err)
	}
}
