package socket_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/plugins/socket"
	"github.com/mtnode/mtnode/proto/socketpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// owner is a test service: the test sends it SocketIO requests, which it
// passes on as its own (so it owns the sockets and gets the errors), and it
// reports every event it receives on a channel.
type owner struct {
	mux sdk.Mux
}

func ownerSpec(events chan<- any, done <-chan struct{}) sdk.Spec {
	return sdk.Define("Owner", func() sdk.Service {
		o := &owner{}
		pass := func(c sdk.Context, m proto.Message) error {
			c.Send(sdk.To(socket.Name), m)
			return nil
		}
		sdk.On(&o.mux, func(c sdk.Context, m *socketpb.Listen) error { return pass(c, m) })
		sdk.On(&o.mux, func(c sdk.Context, m *socketpb.Connect) error { return pass(c, m) })
		sdk.On(&o.mux, func(c sdk.Context, m *socketpb.Write) error { return pass(c, m) })
		sdk.On(&o.mux, func(c sdk.Context, m *socketpb.Ack) error { return pass(c, m) })
		sdk.On(&o.mux, func(c sdk.Context, m *socketpb.Close) error { return pass(c, m) })
		sdk.On(&o.mux, func(c sdk.Context, m *socketpb.Unlisten) error { return pass(c, m) })
		report := func(v any) {
			select {
			case events <- v:
			case <-done: // the test is over
			}
		}
		o.mux.OnOther(func(c sdk.Context, ev *sdk.Event) error {
			report(ev.Msg)
			return nil
		})
		o.mux.OnError(func(c sdk.Context, ev *sdk.Event) error {
			report(error(ev.Err))
			return nil
		})
		return o
	})
}

func (o *owner) Handle(c sdk.Context, ev *sdk.Event) error { return o.mux.Handle(c, ev) }

type fixture struct {
	t      *testing.T
	n      *sdktest.Node
	events chan any
	data   bytes.Buffer // Data received while waiting for other events
}

func newFixture(t *testing.T, conf map[string]string) *fixture {
	t.Helper()
	f := &fixture{t: t, events: make(chan any, 1024)}
	done := make(chan struct{})
	f.n = sdktest.New(t, []sdk.Spec{socket.Spec, ownerSpec(f.events, done)},
		sdktest.WithConfig(map[string]map[string]string{socket.Name: conf}))
	t.Cleanup(func() { close(done) }) // runs before the node stops
	return f
}

func (f *fixture) send(m proto.Message) {
	f.t.Helper()
	if err := f.n.Send(sdk.To("Owner"), m); err != nil {
		f.t.Fatalf("send %T: %v", m, err)
	}
}

// waitFor returns the next event of type T, collecting Data on the way and
// failing on an unexpected error event or Closed.
func waitFor[T any](f *fixture) T {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-f.events:
			if v, ok := ev.(T); ok {
				return v
			}
			switch m := ev.(type) {
			case *socketpb.Data:
				f.data.Write(m.GetData())
			case *socketpb.Drained, *socketpb.ReadPaused:
			default:
				var zero T
				f.t.Fatalf("waiting for %T, got %T: %v", zero, ev, ev)
			}
		case <-deadline:
			var zero T
			f.t.Fatalf("no %T within 10s", zero)
		}
	}
}

// readData collects Data until n bytes have arrived, acknowledging them.
func (f *fixture) readData(id uint64, n int) string {
	f.t.Helper()
	for f.data.Len() < n {
		d := waitFor[*socketpb.Data](f)
		f.data.Write(d.GetData())
		f.send(&socketpb.Ack{ConnId: id, Bytes: int64(len(d.GetData()))})
	}
	s := f.data.String()
	f.data.Reset()
	return s
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return nc
}

func TestListenAcceptEcho(t *testing.T) {
	f := newFixture(t, nil)
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0"})
	b := waitFor[*socketpb.Bound](f)
	nc := dial(t, b.GetAddrs()[0])
	acc := waitFor[*socketpb.Accepted](f)
	if acc.GetListenerId() != b.GetListenerId() || acc.GetLocalAddr() != b.GetAddrs()[0] {
		t.Fatalf("got %v for listener %v", acc, b)
	}
	io.WriteString(nc, "ping")
	if got := f.readData(acc.GetConnId(), 4); got != "ping" {
		t.Fatalf("got %q, want ping", got)
	}
	f.send(&socketpb.Write{ConnId: acc.GetConnId(), Data: []byte("pong")})
	waitFor[*socketpb.Drained](f)
	buf := make([]byte, 4)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v; want pong", buf, err)
	}
	nc.Close()
	if c := waitFor[*socketpb.Closed](f); c.GetReason() != "eof" || c.GetConnId() != acc.GetConnId() {
		t.Fatalf("got %v, want Closed eof", c)
	}
}

func TestConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := newFixture(t, nil)
	f.send(&socketpb.Connect{Addr: ln.Addr().String()})
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := waitFor[*socketpb.Connected](f)
	if c.GetRemoteAddr() != ln.Addr().String() {
		t.Fatalf("got remote %s, want %s", c.GetRemoteAddr(), ln.Addr())
	}
	f.send(&socketpb.Write{ConnId: c.GetConnId(), Data: []byte("hello"), Close: true})
	got, err := io.ReadAll(peer)
	if err != nil || string(got) != "hello" {
		t.Fatalf("peer read %q, %v; want hello then EOF", got, err)
	}
	if cl := waitFor[*socketpb.Closed](f); cl.GetReason() != "closed" {
		t.Fatalf("got reason %q, want closed", cl.GetReason())
	}
}

func TestConnectFailed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	f := newFixture(t, nil)
	f.send(&socketpb.Connect{Addr: addr})
	if cf := waitFor[*socketpb.ConnectFailed](f); cf.GetAddr() != addr || cf.GetReason() == "" {
		t.Fatalf("got %v, want a reason for %s", cf, addr)
	}
}

func TestBindFailure(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	f := newFixture(t, nil)
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0," + busy.Addr().String()})
	e := waitFor[error](f)
	if !strings.Contains(e.Error(), busy.Addr().String()) {
		t.Fatalf("got %v, want an error naming %s", e, busy.Addr())
	}
	// The service lives on.
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0"})
	waitFor[*socketpb.Bound](f)
}

func TestIPv4AndIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		ln.Close()
	}
	f := newFixture(t, nil)
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0,[::1]:0"})
	b := waitFor[*socketpb.Bound](f)
	if len(b.GetAddrs()) != 2 {
		t.Fatalf("got %v, want two addresses", b.GetAddrs())
	}
	for _, a := range b.GetAddrs() {
		nc := dial(t, a)
		acc := waitFor[*socketpb.Accepted](f)
		io.WriteString(nc, a)
		if got := f.readData(acc.GetConnId(), len(a)); got != a {
			t.Fatalf("got %q, want %q", got, a)
		}
	}
}

func TestWriteBufferLimit(t *testing.T) {
	f := newFixture(t, map[string]string{"maxOutBufferSize": "1024"})
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0"})
	b := waitFor[*socketpb.Bound](f)
	nc := dial(t, b.GetAddrs()[0])
	acc := waitFor[*socketpb.Accepted](f)
	f.send(&socketpb.Write{ConnId: acc.GetConnId(), Data: make([]byte, 2048)})
	// The error event (to the writer) and Closed (to the owner) come in
	// either order.
	var gotErr error
	var gotClosed *socketpb.Closed
	for gotErr == nil || gotClosed == nil {
		select {
		case ev := <-f.events:
			switch m := ev.(type) {
			case error:
				gotErr = m
			case *socketpb.Closed:
				gotClosed = m
			default:
				t.Fatalf("got %T %v, want an error and Closed", ev, ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got error %v and Closed %v, want both", gotErr, gotClosed)
		}
	}
	if !strings.Contains(gotErr.Error(), "maxOutBufferSize") {
		t.Fatalf("got %v, want a maxOutBufferSize error", gotErr)
	}
	if gotClosed.GetReason() != "write buffer overflow" {
		t.Fatalf("got reason %q, want write buffer overflow", gotClosed.GetReason())
	}
	if n, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatalf("client read %d bytes, want the connection closed", n)
	}
	// Writes to the closed connection are refused.
	f.send(&socketpb.Write{ConnId: acc.GetConnId(), Data: []byte("x")})
	if e := waitFor[error](f); !strings.Contains(e.Error(), "no connection") {
		t.Fatalf("got %v, want no connection", e)
	}
}

func TestBackpressure(t *testing.T) {
	const window, total = 4096, 256 << 10
	f := newFixture(t, map[string]string{"readBufferSize": "1024"})
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0", Window: window})
	b := waitFor[*socketpb.Bound](f)
	nc := dial(t, b.GetAddrs()[0])
	acc := waitFor[*socketpb.Accepted](f)
	payload := bytes.Repeat([]byte("0123456789abcdef"), total/16)
	writeDone := make(chan error, 1)
	go func() { _, err := nc.Write(payload); writeDone <- err }()
	// Without Acks the reader stops at the window.
	p := waitFor[*socketpb.ReadPaused](f)
	if p.GetUnacked() != window || f.data.Len() != window {
		t.Fatalf("paused with %d unacked and %d bytes delivered, want %d", p.GetUnacked(), f.data.Len(), window)
	}
	// Acks resume reading until everything arrives, in order.
	f.send(&socketpb.Ack{ConnId: acc.GetConnId(), Bytes: window})
	got := f.data.String()
	f.data.Reset()
	got += f.readData(acc.GetConnId(), total-window)
	if got != string(payload) {
		t.Fatalf("got %d bytes, want the %d sent in order", len(got), total)
	}
	if err := <-writeDone; err != nil {
		t.Fatalf("client write: %v", err)
	}
}

func TestCloseAndStop(t *testing.T) {
	f := newFixture(t, nil)
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0"})
	b := waitFor[*socketpb.Bound](f)
	var ncs []net.Conn
	var ids []uint64
	for range 3 {
		ncs = append(ncs, dial(t, b.GetAddrs()[0]))
		ids = append(ids, waitFor[*socketpb.Accepted](f).GetConnId())
	}
	f.send(&socketpb.Close{ConnId: ids[0], Abort: true})
	if c := waitFor[*socketpb.Closed](f); c.GetConnId() != ids[0] || c.GetReason() != "closed" {
		t.Fatalf("got %v, want connection %d closed", c, ids[0])
	}
	f.send(&socketpb.Unlisten{ListenerId: b.GetListenerId()})
	// Wait until the listener is gone; accepted connections stay open.
	testwait.Refused(t, b.GetAddrs()[0], "the listener, after Unlisten,")
	// The probes above may have been accepted before Unlisten took effect:
	// their Accepted and Closed events are legitimate and skipped here.
	for i := 1; i < 3; i++ {
		fmt.Fprintf(ncs[i], "still %d", i)
		want := fmt.Sprintf("still %d", i)
		var got []byte
		deadline := time.After(10 * time.Second)
		for len(got) < len(want) {
			select {
			case ev := <-f.events:
				switch m := ev.(type) {
				case *socketpb.Data:
					if m.GetConnId() != ids[i] {
						t.Fatalf("got data for connection %d, want %d", m.GetConnId(), ids[i])
					}
					got = append(got, m.GetData()...)
					f.send(&socketpb.Ack{ConnId: ids[i], Bytes: int64(len(m.GetData()))})
				case *socketpb.Accepted, *socketpb.Closed, *socketpb.Drained, *socketpb.ReadPaused:
					if a, ok := m.(*socketpb.Accepted); ok && slices.Contains(ids, a.GetConnId()) {
						t.Fatalf("connection %d accepted twice", a.GetConnId())
					}
					if c, ok := m.(*socketpb.Closed); ok && slices.Contains(ids[1:], c.GetConnId()) {
						t.Fatalf("connection %d closed by Unlisten: %v", c.GetConnId(), c)
					}
				default:
					t.Fatalf("waiting for data, got %T: %v", ev, ev)
				}
			case <-deadline:
				t.Fatalf("no data on connection %d within 10s (got %q)", ids[i], got)
			}
		}
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// TestWriteBufferLimitSlowReader fills the buffer of a peer that never
// reads: once the kernel's socket buffers are full, queued bytes grow to
// the limit and the connection closes instead of growing memory.
func TestWriteBufferLimitSlowReader(t *testing.T) {
	f := newFixture(t, map[string]string{"maxOutBufferSize": "262144"})
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0"})
	b := waitFor[*socketpb.Bound](f)
	dial(t, b.GetAddrs()[0]) // never reads
	acc := waitFor[*socketpb.Accepted](f)
	// 32 MiB: more than the kernel's socket buffers and the limit together.
	chunk := make([]byte, 64<<10)
	for range 512 {
		f.send(&socketpb.Write{ConnId: acc.GetConnId(), Data: chunk})
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-f.events:
			switch m := ev.(type) {
			case *socketpb.Closed:
				if m.GetReason() != "write buffer overflow" {
					t.Fatalf("got reason %q, want write buffer overflow", m.GetReason())
				}
				return
			case error, *socketpb.Drained:
			default:
				t.Fatalf("got %T %v", ev, ev)
			}
		case <-deadline:
			t.Fatal("no overflow after 32 MiB of writes to a peer that does not read")
		}
	}
}

// TestSlowInlineOwnerDoesNotStallWrites has an Inline owner whose Data
// handler blocks (it runs on the connection's reader goroutine). SocketIO
// must still take a Write for that connection and send it: the reader may
// not hold the connection's lock while the owner handles its event.
func TestSlowInlineOwnerDoesNotStallWrites(t *testing.T) {
	bound := make(chan *socketpb.Bound, 1)
	accepted := make(chan *socketpb.Accepted, 1)
	inData := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release) // before the node stops (cleanup), so Stop can finish
	spec := sdk.Define("SlowOwner", func() sdk.Service {
		var mux sdk.Mux
		pass := func(c sdk.Context, m proto.Message) error {
			c.Send(sdk.To(socket.Name), m)
			return nil
		}
		sdk.On(&mux, func(c sdk.Context, m *socketpb.Listen) error { return pass(c, m) })
		sdk.On(&mux, func(c sdk.Context, m *socketpb.Write) error { return pass(c, m) })
		sdk.On(&mux, func(c sdk.Context, m *socketpb.Bound) error { bound <- m; return nil })
		sdk.On(&mux, func(c sdk.Context, m *socketpb.Accepted) error { accepted <- m; return nil })
		sdk.On(&mux, func(c sdk.Context, m *socketpb.Data) error {
			select {
			case inData <- struct{}{}:
			default:
			}
			select { // a slow handler, bounded by the test
			case <-release:
			case <-time.After(20 * time.Second):
			}
			return nil
		})
		mux.OnOther(func(c sdk.Context, ev *sdk.Event) error { return nil })
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error { return mux.Handle(c, ev) })
	}, sdk.Inline())
	n := sdktest.New(t, []sdk.Spec{socket.Spec, spec}, sdktest.WithStart(socket.Name))
	if err := n.Send(sdk.To("SlowOwner"), &socketpb.Listen{Addrs: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	var b *socketpb.Bound
	select {
	case b = <-bound:
	case <-time.After(10 * time.Second):
		t.Fatal("no Bound within 10s")
	}
	nc := dial(t, b.GetAddrs()[0])
	var acc *socketpb.Accepted
	select {
	case acc = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no Accepted within 10s")
	}
	io.WriteString(nc, "ping")
	select {
	case <-inData:
	case <-time.After(10 * time.Second):
		t.Fatal("the owner got no Data within 10s")
	}
	// The owner is now inside its Data handler.
	if err := n.Send(sdk.To("SlowOwner"), &socketpb.Write{ConnId: acc.GetConnId(), Data: []byte("pong")}); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "pong" {
		t.Fatalf("got %q, %v; want the Write sent while the owner is busy", got, err)
	}
}

// TestOwnerQueueFullLosesNoData: when the owner's queue is past its limit
// and reserve, Data it cannot take is kept and offered again (reading
// pauses meanwhile); every byte of every connection arrives, in order.
func TestOwnerQueueFullLosesNoData(t *testing.T) {
	const conns, perConn = 8, 128 << 10
	logs := &sdktest.LogBuffer{}
	f := &fixture{t: t, events: make(chan any, 64)}
	done := make(chan struct{})
	f.n = sdktest.New(t, []sdk.Spec{socket.Spec, ownerSpec(f.events, done)},
		sdktest.WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		sdktest.WithConfig(map[string]map[string]string{
			socket.Name: {"readBufferSize": "512"},
			"Owner":     {"queueLimit": "2"},
		}))
	t.Cleanup(func() { close(done) })

	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0", Window: 4 * perConn})
	b := waitFor[*socketpb.Bound](f)
	want := map[uint64][]byte{}
	got := map[uint64]*bytes.Buffer{}
	clients := map[uint64]net.Conn{}
	for range conns {
		nc := dial(t, b.GetAddrs()[0])
		acc := waitFor[*socketpb.Accepted](f)
		clients[acc.GetConnId()] = nc
	}
	writes := make(chan error, conns)
	i := 0
	for id, nc := range clients {
		payload := bytes.Repeat([]byte{byte('a' + i)}, perConn)
		for j := range payload {
			payload[j] += byte(j % 7) // so that reordering shows
		}
		i++
		want[id], got[id] = payload, &bytes.Buffer{}
		go func() { _, err := nc.Write(payload); writes <- err }()
	}
	// The test reads nothing until the owner's queue has refused Data.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "owner's queue is full") {
		if time.Now().After(deadline) {
			t.Fatal("the owner's queue never filled; the test did not exercise a refusal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	total := 0
	for total < conns*perConn {
		select {
		case ev := <-f.events:
			d, ok := ev.(*socketpb.Data)
			if !ok {
				if _, paused := ev.(*socketpb.ReadPaused); paused {
					continue
				}
				t.Fatalf("got %T %v, want Data", ev, ev)
			}
			got[d.GetConnId()].Write(d.GetData())
			total += len(d.GetData())
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d bytes arrived; the rest was lost", total, conns*perConn)
		}
	}
	for id, w := range want {
		if !bytes.Equal(got[id].Bytes(), w) {
			t.Errorf("connection %d: got %d bytes, not the %d sent in order", id, got[id].Len(), len(w))
		}
	}
	for range conns {
		if err := <-writes; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStopQuiescesListeners: when the node begins to stop, SocketIO stops
// accepting at once, while the queues still drain; open connections go on
// delivering data until Stop closes them.
func TestStopQuiescesListeners(t *testing.T) {
	f := &fixture{t: t, events: make(chan any, 1024)}
	done := make(chan struct{})
	defer close(done)
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	blocker := sdk.Define("Blocker", func() sdk.Service {
		return sdk.HandlerFunc(func(sdk.Context, *sdk.Event) error {
			entered <- struct{}{}
			<-gate
			return nil
		})
	})
	f.n = sdktest.New(t, []sdk.Spec{socket.Spec, ownerSpec(f.events, done), blocker})
	f.send(&socketpb.Listen{Addrs: "127.0.0.1:0"})
	addr := waitFor[*socketpb.Bound](f).GetAddrs()[0]
	nc := dial(t, addr)
	id := waitFor[*socketpb.Accepted](f).GetConnId()

	// Blocker's handler holds one event and its queue another: the drain
	// lasts until the gate opens.
	for range 2 {
		if err := f.n.Send(sdk.To("Blocker"), &socketpb.Ack{}); err != nil {
			t.Fatal(err)
		}
	}
	<-entered
	stop := testwait.Go(func() error { return f.n.Stop(context.Background()) })
	testwait.Refused(t, addr, "SocketIO, while the node stops,")
	io.WriteString(nc, "late")
	if got := f.readDataNoAck(id, 4); got != "late" {
		t.Errorf("open connection during the stop: got %q, want %q", got, "late")
	}
	stop.Running(t, "Stop, with an event still queued,")
	close(gate)
	if err := stop.Wait(t, "Stop"); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("open connection after Stop: read %v, want EOF", err)
	}
}

// readDataNoAck collects n bytes of Data for connection id (the owner can no
// longer be sent Acks once the node stops; n is far below the read window).
func (f *fixture) readDataNoAck(id uint64, n int) string {
	f.t.Helper()
	var got []byte
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev := <-f.events:
			switch m := ev.(type) {
			case *socketpb.Data:
				if m.GetConnId() == id {
					got = append(got, m.GetData()...)
				}
			case *socketpb.Accepted, *socketpb.Closed:
				// the probes that found the listener still open
			default:
				f.t.Fatalf("waiting for data, got %T: %v", ev, ev)
			}
		case <-deadline:
			f.t.Fatalf("no data on connection %d within 10s (got %q)", id, got)
		}
	}
	return string(got)
}
