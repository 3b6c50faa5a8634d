package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// echoSpec answers every request with its payload.
var echoSpec = sdk.Define("Echo", func() sdk.Service {
	return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
		c.Reply(ev.Msg)
		return nil
	})
})

// relaySpec passes requests on to Relay.next ("host:port/Service"), by
// Forward or, with Relay.mode=relay, by Relay (then passing the answer back).
var relaySpec = sdk.Define("Relay", func() sdk.Service { return &relay{} })

type relay struct {
	next  sdk.Addr
	relay bool
}

func (r *relay) Start(c sdk.Context) error {
	next := c.Config().String("next", "", "where to pass requests: host:port/Service")
	node, svc, ok := strings.Cut(next, "/")
	if !ok {
		return fmt.Errorf("relay: bad Relay.next %q", next)
	}
	r.next = sdk.At(node, svc)
	r.relay = c.Config().String("mode", "forward", "forward or relay") == "relay"
	return nil
}

func (r *relay) Handle(c sdk.Context, ev *sdk.Event) error {
	switch {
	case ev.Kind == sdk.KindRequest && r.relay:
		c.Relay(r.next, ev.Msg)
	case ev.Kind == sdk.KindRequest:
		c.Forward(r.next, nil)
	case ev.Kind == sdk.KindReply:
		c.Reply(ev.Msg)
	default:
		c.Fail(ev, ev.Err)
	}
	return nil
}

// holdSpec keeps every StringValue request unanswered until a BoolValue
// request arrives; then it answers all of them (and the BoolValue).
var holdSpec = sdk.Define("Hold", func() sdk.Service { return &hold{} })

type hold struct{ held []*sdk.Event }

func (h *hold) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind != sdk.KindRequest {
		return nil
	}
	if _, ok := ev.Msg.(*wrapperspb.BoolValue); ok {
		for _, e := range h.held {
			c.ReplyTo(e, e.Msg)
		}
		c.Reply(wrapperspb.Int64(int64(len(h.held))))
		h.held = nil
		return nil
	}
	h.held = append(h.held, ev)
	return nil
}

// node is a running test node.
type node struct {
	*core.Node
	addr string // its RPC listen address
}

type nodeOpts struct {
	name     string
	conf     map[string]string // Service.key=value
	services []sdk.Spec
	log      *sdktest.LogBuffer
	noStop   bool     // the test stops it
	rpc      sdk.Spec // in place of rpc.Spec
}

// startNode starts a node with RPC (on 127.0.0.1:0 unless conf says
// otherwise), Echo, Relay, Hold and the given services.
func startNode(t *testing.T, o nodeOpts) *node {
	t.Helper()
	conf := map[string]string{"RPC.bindAddr": "127.0.0.1:0"}
	for k, v := range o.conf {
		conf[k] = v
	}
	var keys []string
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var text strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&text, "%s=%s\n", k, conf[k])
	}
	store, err := config.Open(config.Options{Embedded: text.String(), Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := slog.New(slog.DiscardHandler)
	if o.log != nil {
		logger = slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.name == "" {
		o.name = "n"
	}
	if o.rpc.Name == "" {
		o.rpc = rpc.Spec
	}
	services := append([]sdk.Spec{o.rpc, echoSpec, relaySpec, holdSpec}, o.services...)
	n, err := core.New(core.Config{Name: o.name, Services: services, Start: []string{rpc.Name}, Logger: logger,
		Conf: func(svc string) sdk.Config { return store.Sub(svc) }, ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	nd := &node{Node: n}
	if !o.noStop {
		t.Cleanup(func() { nd.stop(t) })
	}
	links := listLinks(t, nd)
	if len(links.GetListen()) > 0 {
		nd.addr = links.GetListen()[0]
	}
	return nd
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Errorf("Stop %s: %v", n.Name(), err)
	}
}

func listLinks(t *testing.T, n *node) *rpcpb.Links {
	t.Helper()
	ev, err := request(t, n, sdk.To(rpc.Name), &rpcpb.ListLinks{})
	if err != nil {
		t.Fatalf("ListLinks: %v", err)
	}
	return ev.Msg.(*rpcpb.Links)
}

func request(t *testing.T, n *node, to sdk.Addr, msg proto.Message) (*sdk.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Request(ctx, to, msg)
}

// eventually polls cond every few milliseconds until it holds or the
// deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var rpcpbListLinks = rpcpb.ListLinks{}

func listenOf(ev *sdk.Event) string {
	if l := ev.Msg.(*rpcpb.Links).GetListen(); len(l) > 0 {
		return l[0]
	}
	return ""
}

// wantLinkLost waits up to a second for the error of a request in flight on
// a link that died: it must be ErrLinkLost.
func wantLinkLost(t *testing.T, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, sdk.ErrLinkLost) {
			t.Fatalf("got %v, want ErrLinkLost", err)
		}
	case <-time.After(time.Second):
		t.Fatal("no ErrLinkLost within a second of the link's end")
	}
}

// wantClosed reads conn until the node closes it, and fails if it is still
// open after 5 seconds.
func wantClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the node kept the connection open")
	}
}
