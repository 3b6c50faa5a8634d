package rpc_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/testpki"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// The tests in this file run the cases of the RPC issue's "done when" list
// against nodes in other processes (startProc): the test binary itself,
// race-instrumented when the tests are, running a node with RPC, Echo,
// Relay and Hold.

// TestProcessLocalAndRemoteCallers: one Echo, in another process, answers
// a caller on its own node (that node's Relay) and a caller on this one
// alike.
func TestProcessLocalAndRemoteCallers(t *testing.T) {
	skipShort(t)
	a := startNode(t, nodeOpts{name: "a"})
	b := startProc(t, "127.0.0.1:0", "Relay.next=local/Echo", "Relay.mode=relay")
	for _, tc := range []struct{ name, svc string }{
		{"remote caller", "Echo"},
		{"local caller, b's Relay", "Relay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := request(t, a, sdk.At(b.addr, tc.svc), wrapperspb.String(tc.name))
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if got := ev.Msg.(*wrapperspb.StringValue).GetValue(); got != tc.name {
				t.Errorf("got %q, want %q", got, tc.name)
			}
		})
	}
}

// TestProcessBothSidesOneLink: a dials b; b's Relay then calls a's Echo on
// that same link, and the answer goes back to a through b.
func TestProcessBothSidesOneLink(t *testing.T) {
	skipShort(t)
	a := startNode(t, nodeOpts{name: "a"})
	b := startProc(t, "127.0.0.1:0", "Relay.next="+a.addr+"/Echo", "Relay.mode=relay")
	ev, err := request(t, a, sdk.At(b.addr, "Relay"), wrapperspb.String("round"))
	if err != nil {
		t.Fatalf("a -> b's Relay -> a's Echo: %v", err)
	}
	if got := ev.Msg.(*wrapperspb.StringValue).GetValue(); got != "round" {
		t.Errorf("got %q, want %q", got, "round")
	}
	links := listLinks(t, a).GetLinks()
	if len(links) != 1 {
		t.Fatalf("a has %d links, want 1 (b must use the link a dialled): %v", len(links), links)
	}
	// a sent: the request to Relay and Echo's reply; it received b's
	// request to Echo and Relay's reply.
	if l := links[0]; l.GetSent() < 2 || l.GetReceived() < 2 {
		t.Errorf("a's link sent %d, received %d; want at least 2 each", l.GetSent(), l.GetReceived())
	}
}

// TestProcessRemoteErrors: errors from a node in another process come back
// as error events, and the link stays up through all of them.
func TestProcessRemoteErrors(t *testing.T) {
	skipShort(t)
	a := startNode(t, nodeOpts{name: "a"})
	b := startProc(t, "127.0.0.1:0")
	tests := []struct {
		name string
		to   sdk.Addr
		msg  proto.Message
		want error
	}{
		{"no such service", sdk.At(b.addr, "Ech"), wrapperspb.String("x"), sdk.ErrNoService},
		{"event type the service does not take", sdk.At(b.addr, rpc.Name), wrapperspb.String("x"), sdk.ErrUnknownEvent},
		{"event type the peer does not know", sdk.At(b.addr, "Echo"), unknownMessage(t), sdk.ErrUnknownEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := request(t, a, tc.to, tc.msg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var de *sdk.DeliveryError
			if errors.As(err, &de) && de.Hop != "helper" {
				t.Errorf("the error comes from %q, want from b's node (helper): %v", de.Hop, err)
			}
		})
	}
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("after")); err != nil {
		t.Fatalf("request after the errors: %v", err)
	}
	if got := len(listLinks(t, a).GetLinks()); got != 1 {
		t.Errorf("got %d links on a, want the 1 that carried the errors", got)
	}
}

// unknownMessage returns a message of a type built at run time, which no
// registry knows: the peer cannot decode it.
func unknownMessage(t *testing.T) proto.Message {
	t.Helper()
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("mtnode_test_unknown.proto"),
		Package: proto.String("mtnode.test.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Unknown"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("x"), JsonName: proto.String("x"), Number: proto.Int32(1),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().Get(0)
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().Get(0), protoreflect.ValueOfInt64(7))
	return m
}

// TestProcessRestartedPeerStaleReply: b relays a request of c's to c's
// Hold and is killed; when Hold answers after b has restarted at the same
// address, the reply (for b's previous incarnation) is refused on c and
// never sent to the new b.
func TestProcessRestartedPeerStaleReply(t *testing.T) {
	skipShort(t)
	c := startNode(t, nodeOpts{name: "c"})
	conf := []string{"Relay.next=" + c.addr + "/Hold", "Relay.mode=relay"}
	b1 := startProc(t, "127.0.0.1:0", conf...)
	errs := make(chan error, 1)
	ep := c.OpenEndpoint(func(ev *sdk.Event) { errs <- ev.Err })
	defer ep.Close()
	ep.Send(sdk.At(b1.addr, "Relay"), wrapperspb.String("held"))
	eventually(t, 5*time.Second, "b's relayed request received on c", func() bool {
		links := listLinks(t, c).GetLinks()
		return len(links) == 1 && links[0].GetInFlight() == 1 && links[0].GetReceived() >= 1
	})
	b1.kill()
	wantLinkLost(t, errs)

	b2 := startProc(t, b1.addr, conf...)
	// c's last dial failed while b was down, so c waits out a backoff
	// before it links to the new b.
	eventually(t, 10*time.Second, "c links to the restarted b", func() bool {
		_, err := request(t, c, sdk.At(b2.addr, "Echo"), wrapperspb.String("new b"))
		return err == nil
	})
	before := c.Undeliverable()
	ev, err := request(t, c, sdk.To("Hold"), wrapperspb.Bool(true))
	if err != nil {
		t.Fatal(err)
	}
	if n := ev.Msg.(*wrapperspb.Int64Value).GetValue(); n != 1 {
		t.Fatalf("Hold answered %d held requests, want 1", n)
	}
	eventually(t, 5*time.Second, "the stale reply counted as undeliverable on c", func() bool { return c.Undeliverable() > before })
	links := listLinks(t, c).GetLinks()
	if len(links) != 1 {
		t.Fatalf("c has %d links, want 1 (to the new b): %v", len(links), links)
	}
	if l := links[0]; l.GetSent() != l.GetReceived() {
		t.Errorf("c sent %d events to the new b and received %d; want as many (its Echo requests and their replies; the stale reply must not go there)", l.GetSent(), l.GetReceived())
	}
}

// TestProcessGarbageOnLink speaks the link protocol to a node in another
// process by hand: after a good handshake, an envelope of a type the node
// does not know is answered with an error envelope and the link stays up;
// a frame that is not a batch ends the link, and the node serves on.
func TestProcessGarbageOnLink(t *testing.T) {
	skipShort(t)
	a := startNode(t, nodeOpts{name: "a"})
	b := startProc(t, "127.0.0.1:0")
	conn, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	hello := &rpcpb.Hello{Protocol: link.Protocol, Node: "by-hand", Epoch: 42}
	writeTestFrame(t, conn, []byte(rpc.SocketMagic), hello)
	var answer rpcpb.Answer
	readTestFrame(t, conn, &answer)
	if answer.GetHello() == nil {
		t.Fatalf("handshake refused: %q", answer.GetRefused())
	}
	route := []*mtpb.Hop{{Kind: mtpb.Hop_ENDPOINT, Id: 9}}
	payload, _ := proto.Marshal(wrapperspb.String("by hand"))
	writeTestFrame(t, conn, nil, &mtpb.Batch{Envelopes: []*mtpb.Envelope{
		{Kind: mtpb.Envelope_REQUEST, Dst: "Echo", Type: "mtnode.test.v1.Nope", Payload: []byte{8, 1}, Route: route, Id: 7},
		{Kind: mtpb.Envelope_REQUEST, Dst: "Echo", Type: "google.protobuf.StringValue", Payload: payload, Route: route, Id: 8},
	}})
	got := map[uint64]*mtpb.Envelope{}
	for len(got) < 2 {
		var batch mtpb.Batch
		readTestFrame(t, conn, &batch)
		for _, env := range batch.GetEnvelopes() {
			got[env.GetId()] = env
		}
	}
	if e := got[7]; e.GetKind() != mtpb.Envelope_ERROR || e.GetError().GetCode() != mtpb.Code_UNKNOWN_EVENT {
		t.Errorf("unknown type: got %v, want an UNKNOWN_EVENT error envelope", e)
	}
	if e := got[8]; e.GetKind() != mtpb.Envelope_REPLY || len(e.GetRoute()) != 1 || !proto.Equal(e.GetRoute()[0], route[0]) {
		t.Errorf("Echo after the unknown type: got %v, want a reply along route %v", e, route)
	}

	// A frame that is not a batch: the link ends.
	if _, err := conn.Write([]byte{0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, conn)
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("still up")); err != nil {
		t.Fatalf("request after the garbage: %v", err)
	}
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
}

// writeTestFrame writes prefix and m as one link frame, as the node does.
func writeTestFrame(t *testing.T, w io.Writer, prefix []byte, m proto.Message) {
	t.Helper()
	if err := rpc.WriteFrame(w, prefix, m); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readTestFrame reads one link frame into m, as the node does.
func readTestFrame(t *testing.T, r io.Reader, m proto.Message) {
	t.Helper()
	b, err := rpc.ReadFrame(r, 1<<20)
	if err != nil {
		t.Fatalf("read a frame: %v", err)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatalf("frame of %d bytes: %v", len(b), err)
	}
}

// TestProcessTLSAndToken: a node in another process with mutual TLS and a
// token answers a peer that has both, and refuses one with a certificate
// of another CA (the TLS handshake fails: ErrLinkLost) or the wrong token
// (ErrRefused).
func TestProcessTLSAndToken(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	good := testpki.New(t, dir, "good")
	rogue := testpki.New(t, dir, "rogue")
	b := startProc(t, "127.0.0.1:0", "RPC.tlsCert="+good.Cert, "RPC.tlsKey="+good.Key, "RPC.tlsCA="+good.CA, "RPC.token=s3cret")
	tests := []struct {
		name string
		conf map[string]string
		want error // nil: a reply
	}{
		{"certificate and token", map[string]string{"RPC.tlsCert": good.Cert, "RPC.tlsKey": good.Key, "RPC.tlsCA": good.CA, "RPC.token": "s3cret"}, nil},
		{"certificate of another CA", map[string]string{"RPC.tlsCert": rogue.Cert, "RPC.tlsKey": rogue.Key, "RPC.tlsCA": good.CA, "RPC.token": "s3cret"}, sdk.ErrLinkLost},
		{"wrong token", map[string]string{"RPC.tlsCert": good.Cert, "RPC.tlsKey": good.Key, "RPC.tlsCA": good.CA, "RPC.token": "guess"}, sdk.ErrRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := startNode(t, nodeOpts{name: "a", conf: tc.conf})
			_, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
