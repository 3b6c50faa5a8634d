package rpc_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// gatedProxy stands for a peer slow to accept a link: it accepts TCP
// connections on 127.0.0.1 and leaves them unanswered until open is
// called; from then on it joins each to target, both ways.
type gatedProxy struct {
	addr   string
	target string
	gate   chan struct{}
	once   sync.Once
}

func newGatedProxy(t *testing.T, target string) *gatedProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gatedProxy{addr: l.Addr().String(), target: target, gate: make(chan struct{})}
	closed := make(chan struct{})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-p.gate:
				case <-closed:
					return
				}
				up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
				if err != nil {
					c.Close()
					return
				}
				track(up)
				go func() { _, _ = io.Copy(up, c); up.Close() }()
				_, _ = io.Copy(c, up)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		close(closed)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *gatedProxy) open() { p.once.Do(func() { close(p.gate) }) }

// recordSpec is a service that passes the value of each Int64Value request
// to got, in the order it handles them, and answers it.
func recordSpec(got chan<- int64) sdk.Spec {
	return sdk.Define("Record", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if v, ok := ev.Msg.(*wrapperspb.Int64Value); ok && ev.Kind == sdk.KindRequest {
				got <- v.GetValue()
				c.Reply(v)
			}
			return nil
		})
	})
}

// answers collects what comes back to an endpoint: replies and error
// events by request id.
type answers struct {
	mu      sync.Mutex
	replies map[uint64]bool
	errs    map[uint64]*sdk.DeliveryError
}

func (a *answers) add(ev *sdk.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ev.Kind == sdk.KindError {
		a.errs[ev.ID] = ev.Err
	} else {
		a.replies[ev.ID] = true
	}
}

func (a *answers) counts() (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.replies), len(a.errs)
}

// sendNumbered sends 0..n-1 from one endpoint of a to Record at addr, and
// returns the request ids in the order sent.
func sendNumbered(t *testing.T, a *node, addr string, n int) ([]uint64, *answers) {
	t.Helper()
	ans := &answers{replies: map[uint64]bool{}, errs: map[uint64]*sdk.DeliveryError{}}
	ep := a.OpenEndpoint(ans.add)
	t.Cleanup(ep.Close)
	ids := make([]uint64, n)
	for i := range n {
		ids[i] = ep.Send(sdk.At(addr, "Record"), wrapperspb.Int64(int64(i)))
	}
	return ids, ans
}

// wantReceived reads n values from got and fails unless they are 0..n-1
// in order.
func wantReceived(t *testing.T, got <-chan int64, n int) {
	t.Helper()
	for i := range n {
		select {
		case v := <-got:
			if v != int64(i) {
				t.Fatalf("received number %d where number %d was sent: order not kept", v, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("received %d of %d events", i, n)
		}
	}
}

// TestPendingKeepsOrder: events sent while the link connects, to a peer
// slow to accept it, wait and reach the peer in the order sent.
func TestPendingKeepsOrder(t *testing.T) {
	const n = 200
	got := make(chan int64, 2*n)
	b := startNode(t, nodeOpts{name: "b", services: []sdk.Spec{recordSpec(got)}})
	slow := newGatedProxy(t, b.addr)
	a := startNode(t, nodeOpts{name: "a"})

	_, ans := sendNumbered(t, a, slow.addr, n)
	if r, e := ans.counts(); r+e != 0 || len(got) != 0 {
		t.Fatalf("before the peer accepted: %d replies, %d errors, %d received; want none", r, e, len(got))
	}
	slow.open()
	wantReceived(t, got, n)
	eventually(t, 5*time.Second, "every request answered", func() bool {
		r, e := ans.counts()
		return r+e == n
	})
	if _, e := ans.counts(); e != 0 {
		t.Fatalf("%d error events: %v", e, ans.errs)
	}
}

// TestPendingOverflow: past RPC.maxPending events waiting for a link, the
// sender gets an ErrQueueFull error event naming the setting for each
// extra one, and the first RPC.maxPending still arrive, in order.
func TestPendingOverflow(t *testing.T) {
	const maxPending, n = 5, 20
	got := make(chan int64, 2*n)
	b := startNode(t, nodeOpts{name: "b", services: []sdk.Spec{recordSpec(got)}})
	slow := newGatedProxy(t, b.addr)
	a := startNode(t, nodeOpts{name: "a", conf: map[string]string{"RPC.maxPending": "5"}})

	ids, ans := sendNumbered(t, a, slow.addr, n)
	eventually(t, 5*time.Second, "an error event for each event past RPC.maxPending", func() bool {
		_, e := ans.counts()
		return e >= n-maxPending
	})
	ans.mu.Lock()
	for i, id := range ids {
		de, failed := ans.errs[id]
		switch {
		case i < maxPending && failed:
			t.Errorf("event %d of the first %d failed: %v", i, maxPending, de)
		case i >= maxPending && !failed:
			t.Errorf("event %d, past RPC.maxPending=%d, got no error event", i, maxPending)
		case i >= maxPending:
			if !errors.Is(de, sdk.ErrQueueFull) || de.Code != sdk.CodeQueueFull {
				t.Errorf("event %d: got code %v (%v), want ErrQueueFull", i, de.Code, de)
			}
			if !strings.Contains(de.Message, "RPC.maxPending") || !strings.Contains(de.Message, slow.addr) {
				t.Errorf("event %d: message %q should name the peer %s and RPC.maxPending", i, de.Message, slow.addr)
			}
		}
	}
	ans.mu.Unlock()
	if t.Failed() {
		return
	}
	slow.open()
	wantReceived(t, got, maxPending)
	eventually(t, 5*time.Second, "the first RPC.maxPending answered", func() bool {
		r, _ := ans.counts()
		return r == maxPending
	})
	if len(got) != 0 {
		t.Fatalf("b received %d events past RPC.maxPending", len(got))
	}
}
