package client_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/client"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

var echoSpec = sdk.Define("Echo", func() sdk.Service {
	return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
		if ev.Kind == sdk.KindRequest {
			c.Reply(ev.Msg)
		}
		return nil
	})
})

type conf map[string]string

func (c conf) String(k, def, _ string) string {
	if v, ok := c[k]; ok {
		return v
	}
	return def
}
func (c conf) Addrs(k, def, d string) []string {
	if v := c.String(k, def, d); v != "" {
		return []string{v}
	}
	return nil
}
func (conf) Int(_ string, def int64, _ string) int64                      { return def }
func (conf) Bool(_ string, def bool, _ string) bool                       { return def }
func (conf) Duration(_ string, def time.Duration, _ string) time.Duration { return def }
func (c conf) Bytes(k string, def int64, _ string) int64 {
	if v, err := strconv.ParseInt(c[k], 10, 64); err == nil {
		return v
	}
	return def
}
func (conf) Problems() []error { return nil }

// startNode runs a node with RPC on 127.0.0.1:0, Echo and the extra
// services; it returns the node and its RPC address.
func startNode(t *testing.T, c conf, extra ...sdk.Spec) (*core.Node, string) {
	t.Helper()
	c["bindAddr"] = "127.0.0.1:0"
	n, err := core.New(core.Config{Services: append([]sdk.Spec{rpc.Spec, echoSpec}, extra...), Start: []string{rpc.Name},
		Conf: func(svc string) sdk.Config {
			if svc == rpc.Name {
				return c
			}
			return conf{}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	ev, err := n.Request(context.Background(), sdk.To(rpc.Name), &rpcpb.ListLinks{})
	if err != nil {
		t.Fatal(err)
	}
	return n, ev.Msg.(*rpcpb.Links).GetListen()[0]
}

func dial(t *testing.T, addr string, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRequest(t *testing.T) {
	_, addr := startNode(t, conf{})
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tests := []struct {
		name string
		to   sdk.Addr
		want error
	}{
		{"echo", sdk.To("Echo"), nil},
		{"echo at the dialled address", sdk.At(addr, "Echo"), nil},
		{"no such service", sdk.To("Ech"), sdk.ErrNoService},
		{"another node", sdk.At("127.0.0.1:1", "Echo"), sdk.ErrNoService},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Request(ctx, tc.to, wrapperspb.String(tc.name))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
			if tc.want == nil && got.(*wrapperspb.StringValue).GetValue() != tc.name {
				t.Errorf("got %v, want %q", got, tc.name)
			}
		})
	}
}

func TestToken(t *testing.T) {
	_, addr := startNode(t, conf{"token": "s3cret"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Dial(ctx, addr, client.WithToken("guess")); err == nil {
		t.Fatal("Dial with a wrong token succeeded")
	}
	c := dial(t, addr, client.WithToken("s3cret"))
	if _, err := c.Request(ctx, sdk.To("Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownEventType: a payload type the node does not know comes back as
// ErrUnknownEvent, and the link stays up.
func TestUnknownEventType(t *testing.T) {
	_, addr := startNode(t, conf{})
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := sdk.FromEnvelope(&mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Dst: "Echo", Type: "mtnode.test.v1.Nope", Payload: []byte{8, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, ev); !errors.Is(err, sdk.ErrUnknownEvent) {
		t.Fatalf("got %v, want ErrUnknownEvent", err)
	}
	if _, err := c.Request(ctx, sdk.To("Echo"), wrapperspb.String("still up")); err != nil {
		t.Fatalf("after the unknown type: %v", err)
	}
}

// TestLinkLost: closing the node fails waiting requests with ErrLinkLost.
func TestLinkLost(t *testing.T) {
	n, addr := startNode(t, conf{})
	c := dial(t, addr)
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not see the link end")
	}
	_, err := c.Request(context.Background(), sdk.To("Echo"), wrapperspb.String("x"))
	if !errors.Is(err, sdk.ErrLinkLost) {
		t.Fatalf("got %v, want ErrLinkLost", err)
	}
}

// TestStaleLinkHopRefused: a reply whose link hop carries another epoch (a
// previous incarnation of the node) is refused, not delivered.
func TestStaleLinkHopRefused(t *testing.T) {
	n, addr := startNode(t, conf{})
	got := make(chan *sdk.Event, 1)
	ep := n.OpenEndpoint(func(ev *sdk.Event) { got <- ev })
	defer ep.Close()

	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hello := &rpcpb.Hello{Protocol: link.Protocol, Node: "raw", Epoch: 42}
	st, err := rpcpb.NewLinkClient(cc).Stream(metadata.NewOutgoingContext(ctx, link.HelloMD(hello)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Header(); err != nil {
		t.Fatal(err)
	}
	// Link 1 is this raw link's id; the epoch is not the node's.
	before := n.Undeliverable()
	stale := &mtpb.Envelope{Kind: mtpb.Envelope_REPLY, Id: 1, Type: "google.protobuf.StringValue",
		Route: []*mtpb.Hop{{Kind: mtpb.Hop_ENDPOINT, Id: 1}, {Kind: mtpb.Hop_LINK, Id: 1, Epoch: n.Epoch() + 2}}}
	if err := st.Send(&mtpb.Batch{Envelopes: []*mtpb.Envelope{stale}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.Undeliverable() == before {
		if time.Now().After(deadline) {
			t.Fatal("stale reply was not refused")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case ev := <-got:
		t.Fatalf("stale reply delivered: %v", ev)
	default:
	}
}

// fakeNode is a link server that answers each request with what answer
// returns for the request's id.
type fakeNode struct {
	rpcpb.UnimplementedLinkServer
	answer func(id uint64) *mtpb.Envelope
}

func (f fakeNode) Stream(st grpc.BidiStreamingServer[mtpb.Batch, mtpb.Batch]) error {
	hello := &rpcpb.Hello{Protocol: link.Protocol, Node: "fake", Epoch: 7}
	if err := st.SendHeader(link.HelloMD(hello)); err != nil {
		return err
	}
	for {
		b, err := st.Recv()
		if err != nil {
			return nil
		}
		for _, env := range b.GetEnvelopes() {
			if err := st.Send(&mtpb.Batch{Envelopes: []*mtpb.Envelope{f.answer(env.GetId())}}); err != nil {
				return nil
			}
		}
	}
}

func startFake(t *testing.T, answer func(id uint64) *mtpb.Envelope) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(link.Codec{}))
	rpcpb.RegisterLinkServer(srv, fakeNode{answer: answer})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return l.Addr().String()
}

// TestMalformedAnswer: a malformed envelope never leaves a call waiting,
// even one with no deadline. An answer that still names a waiting call
// fails it with ErrBadEvent and the link stays up; one that names no call
// ends the link, and every waiting call gets ErrLinkLost saying why.
func TestMalformedAnswer(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(id uint64) *mtpb.Envelope
		want     error
		wantDown bool
	}{
		{"error without an error, matching id",
			func(id uint64) *mtpb.Envelope { return &mtpb.Envelope{Kind: mtpb.Envelope_ERROR, Id: id} },
			sdk.ErrBadEvent, false},
		{"bad route hop, matching id",
			func(id uint64) *mtpb.Envelope {
				return &mtpb.Envelope{Kind: mtpb.Envelope_REPLY, Id: id, Route: []*mtpb.Hop{{Kind: mtpb.Hop_KIND_UNSPECIFIED}}}
			},
			sdk.ErrBadEvent, false},
		{"error without an error, unknown id",
			func(id uint64) *mtpb.Envelope { return &mtpb.Envelope{Kind: mtpb.Envelope_ERROR, Id: id + 1000} },
			sdk.ErrLinkLost, true},
		{"unknown kind, matching id",
			func(id uint64) *mtpb.Envelope { return &mtpb.Envelope{Kind: 9, Id: id} },
			sdk.ErrBadEvent, false},
		{"request without a destination",
			func(id uint64) *mtpb.Envelope { return &mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Id: id} },
			sdk.ErrLinkLost, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, startFake(t, tc.answer))
			res := make(chan error, 1)
			go func() {
				// No deadline: only the client's handling can end the call.
				_, err := c.Request(context.Background(), sdk.To("Echo"), wrapperspb.String("x"))
				res <- err
			}()
			var err error
			select {
			case err = <-res:
			case <-time.After(5 * time.Second):
				t.Fatal("request still waiting after a malformed answer")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "malformed") {
				t.Errorf("got %q, want it to say the envelope was malformed", err)
			}
			if got := c.Err() != nil; got != tc.wantDown {
				t.Errorf("link ended: got %v, want %v (Err %v)", got, tc.wantDown, c.Err())
			}
		})
	}
}

// TestDialRefusedFailsAtOnce: a port with nothing listening is reported as
// refused, not waited on until the caller's deadline.
func TestDialRefusedFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr)
	if err == nil {
		c.Close()
		t.Fatalf("Dial %s: got a client, want an error", addr)
	}
	if ctx.Err() != nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("got %v (ctx %v), want a connection-refused error before the deadline", err, ctx.Err())
	}
}

// TestFrameLimit: the client keeps its batches within the RPC.maxMessage
// the node said in its Hello, so requests that each fit are all answered
// however many are sent at once, and a request too large for a frame alone
// fails with ErrBadEvent while the link stays up.
func TestFrameLimit(t *testing.T) {
	_, addr := startNode(t, conf{"maxMessage": strconv.Itoa(1 << 20)})
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const n, size = 20, 300 << 10
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Request(ctx, sdk.To("Echo"), wrapperspb.Bytes(make([]byte, size)))
			errs <- err
		}()
	}
	if _, err := c.Request(ctx, sdk.To("Echo"), wrapperspb.Bytes(make([]byte, 2<<20))); !errors.Is(err, sdk.ErrBadEvent) {
		t.Errorf("a 2 MiB request to a node of RPC.maxMessage=1MiB: got %v, want ErrBadEvent", err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("a request that fits a frame: %v", err)
		}
	}
	if err := c.Err(); err != nil {
		t.Errorf("the link ended: %v", err)
	}
}
