package rpc_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/client"
	"github.com/mtnode/mtnode/internal/testpki"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

func tlsConf(cert, key, ca string) map[string]string {
	return map[string]string{"RPC.tlsCert": cert, "RPC.tlsKey": key, "RPC.tlsCA": ca}
}

func TestTLSAndToken(t *testing.T) {
	dir := t.TempDir()
	good := testpki.New(t, dir, "good")
	rogue := testpki.New(t, dir, "rogue")
	tests := []struct {
		name       string
		server     map[string]string
		client     map[string]string
		want       error  // nil: the request succeeds
		serverLogs string // what the server logs when it refuses
	}{
		{"tls", map[string]string{"RPC.tlsCert": good.Cert, "RPC.tlsKey": good.Key},
			tlsConf(good.Cert, good.Key, good.CA), nil, ""},
		{"mutual tls", tlsConf(good.Cert, good.Key, good.CA), tlsConf(good.Cert, good.Key, good.CA), nil, ""},
		{"mutual tls, certificate of another CA", tlsConf(good.Cert, good.Key, good.CA),
			tlsConf(rogue.Cert, rogue.Key, good.CA), sdk.ErrLinkLost, "reason=\"tls: "},
		{"plain peer, tls node", tlsConf(good.Cert, good.Key, good.CA), nil, sdk.ErrLinkLost, "reason=\"tls: "},
		{"token", map[string]string{"RPC.token": "s3cret"}, map[string]string{"RPC.token": "s3cret"}, nil, ""},
		{"wrong token", map[string]string{"RPC.token": "s3cret"}, map[string]string{"RPC.token": "guess"}, sdk.ErrRefused, "wrong or missing token"},
		{"missing token", map[string]string{"RPC.token": "s3cret"}, nil, sdk.ErrRefused, "wrong or missing token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs sdktest.LogBuffer
			b := startNode(t, nodeOpts{name: "b", conf: tc.server, log: &logs})
			a := startNode(t, nodeOpts{name: "a", conf: tc.client})
			_, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x"))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want a reply", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			eventually(t, 5*time.Second, "refusal logged with its reason", func() bool {
				s := logs.String()
				return strings.Contains(s, "link refused") && strings.Contains(s, tc.serverLogs)
			})
		})
	}
}

// TestGarbage: garbage bytes and half-open connections on the RPC port are
// closed without hurting the node, whether they look like gRPC (a client)
// or a socket link (a node).
func TestGarbage(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b", conf: map[string]string{"RPC.handshakeTimeout": "300ms"}})
	inputs := []struct {
		name string
		data []byte
	}{
		{"half open", nil},
		{"http/1", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"binary", []byte{0x00, 0xff, 0x01, 0x73, 0x70, 0x13, 0x37, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}},
		{"http/2 preface then junk", append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), []byte(strings.Repeat("\xff", 64))...)},
		{"huge frame header", append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0xff, 0xff, 0xff, 0x00, 0x00, 0, 0, 0, 1)},
		{"socket link, no hello", []byte("MTLINK/1\n")},
		{"socket link, hello of 4 GiB", append([]byte("MTLINK/1\n"), 0xff, 0xff, 0xff, 0xff, 1, 2, 3)},
		{"socket link, hello cut short", append([]byte("MTLINK/1\n"), 0, 0, 0, 100, 'a', 'b')},
		{"socket link, hello that is not one", append([]byte("MTLINK/1\n"), 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"socket magic cut short", []byte("MTLI")},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", b.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if len(in.data) > 0 {
				if _, err := conn.Write(in.data); err != nil {
					t.Fatal(err)
				}
			}
			wantClosed(t, conn)
			if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("still up")); err != nil {
				t.Fatalf("request after garbage: %v", err)
			}
		})
	}
}

// TestClientsShareThePort: the RPC port takes node links on sockets and
// clients' gRPC links side by side, with TLS (the acceptor offers ALPN h2
// to clients and mtlink/1 to nodes) and without.
func TestClientsShareThePort(t *testing.T) {
	dir := t.TempDir()
	good := testpki.New(t, dir, "good")
	for _, tc := range []struct {
		name string
		conf map[string]string
		opts []client.Option
	}{
		{"plain", nil, nil},
		{"mutual tls", tlsConf(good.Cert, good.Key, good.CA), []client.Option{client.WithTLS(good.Cert, good.Key, good.CA)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startNode(t, nodeOpts{name: "b", conf: tc.conf})
			a := startNode(t, nodeOpts{name: "a", conf: tc.conf})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, b.addr, tc.opts...)
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			defer c.Close()
			for i := range 3 { // interleaved, over both kinds of link
				got, err := c.Request(ctx, sdk.To("Echo"), wrapperspb.String("from a client"))
				if err != nil {
					t.Fatalf("client request %d: %v", i, err)
				}
				if s := got.(*wrapperspb.StringValue).GetValue(); s != "from a client" {
					t.Fatalf("client got %q", s)
				}
				if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("from a node")); err != nil {
					t.Fatalf("node request %d: %v", i, err)
				}
			}
		})
	}
	t.Run("plain client, tls node", func(t *testing.T) {
		b := startNode(t, nodeOpts{name: "b", conf: tlsConf(good.Cert, good.Key, good.CA)})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, b.addr)
		if err == nil {
			_, err = c.Request(ctx, sdk.To("Echo"), wrapperspb.String("x"))
			c.Close()
		}
		if err == nil {
			t.Fatal("a plain client reached a TLS node")
		}
	})
}

// TestPrivateServices: a request from another node to a service in
// RPC.private (by default SocketIO and WebServer, which open ports and
// connections) is refused with ErrRefused naming the key; the same service
// still takes requests from its own node, and other services from peers.
func TestPrivateServices(t *testing.T) {
	echoAs := func(name string) sdk.Spec {
		return sdk.Define(name, func() sdk.Service {
			return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error { c.Reply(ev.Msg); return nil })
		})
	}
	tests := []struct {
		name, private string
		refused       []string
		reachable     []string
	}{
		{"default", "", []string{"WebServer", "SocketIO"}, []string{"Echo"}},
		{"set", "Echo", []string{"Echo"}, []string{"WebServer", "SocketIO"}},
		{"empty", " ", nil, []string{"Echo", "WebServer", "SocketIO"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := map[string]string{}
			if tc.private != "" {
				conf["RPC.private"] = tc.private
			}
			b := startNode(t, nodeOpts{name: "b", conf: conf, services: []sdk.Spec{echoAs("WebServer"), echoAs("SocketIO")}})
			a := startNode(t, nodeOpts{name: "a"})
			for _, svc := range tc.refused {
				_, err := request(t, a, sdk.At(b.addr, svc), wrapperspb.String("x"))
				if !errors.Is(err, sdk.ErrRefused) || !strings.Contains(err.Error(), "RPC.private") {
					t.Errorf("%s from a peer: got %v, want ErrRefused naming RPC.private", svc, err)
				}
				if _, err := request(t, b, sdk.To(svc), wrapperspb.String("x")); err != nil {
					t.Errorf("%s from its own node: %v", svc, err)
				}
			}
			for _, svc := range tc.reachable {
				if _, err := request(t, a, sdk.At(b.addr, svc), wrapperspb.String("x")); err != nil {
					t.Errorf("%s from a peer: %v, want a reply", svc, err)
				}
			}
		})
	}
}

// TestPrivateServicesTakeNoForgedAnswers: a peer cannot reach a service of
// RPC.private by dressing its event as a reply (or an error event) routed
// to it: a private service sends no requests over links, so nothing can be
// owed to it, and such an answer is dropped and logged. An answer routed to
// a service that is not private is delivered as before.
func TestPrivateServicesTakeNoForgedAnswers(t *testing.T) {
	got := make(chan string, 4)
	spy := func(name string) sdk.Spec {
		return sdk.Define(name, func() sdk.Service {
			return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
				got <- name + " " + ev.Kind.String()
				return nil
			})
		})
	}
	var logs sdktest.LogBuffer
	b := startNode(t, nodeOpts{name: "b", log: &logs, services: []sdk.Spec{spy("WebServer"), spy("Spy")}})
	conn, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	writeTestFrame(t, conn, []byte(rpc.SocketMagic), &rpcpb.Hello{Protocol: link.Protocol, Node: "forger", Epoch: 42})
	var answer rpcpb.Answer
	readTestFrame(t, conn, &answer)
	if answer.GetHello() == nil {
		t.Fatalf("handshake refused: %q", answer.GetRefused())
	}
	payload, _ := proto.Marshal(wrapperspb.String("open port 22"))
	to := func(svc string) []*mtpb.Hop { return []*mtpb.Hop{{Kind: mtpb.Hop_SERVICE, Name: svc}} }
	writeTestFrame(t, conn, nil, &mtpb.Batch{Envelopes: []*mtpb.Envelope{
		{Kind: mtpb.Envelope_REPLY, Type: "google.protobuf.StringValue", Payload: payload, Route: to("WebServer"), Id: 1},
		{Kind: mtpb.Envelope_ERROR, Route: to("WebServer"), Id: 2, Error: &mtpb.Error{Code: mtpb.Code_QUEUE_FULL}},
		{Kind: mtpb.Envelope_REPLY, Type: "google.protobuf.StringValue", Payload: payload, Route: to("Spy"), Id: 3},
	}})
	select {
	case g := <-got:
		if g != "Spy reply" {
			t.Fatalf("got %q first, want only Spy's reply", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the answer routed to a service that is not private never arrived")
	}
	eventually(t, 5*time.Second, "the forged answers logged", func() bool {
		return strings.Count(logs.String(), "answer for a private service refused") == 2
	})
	select {
	case g := <-got:
		t.Errorf("got %q, want nothing for WebServer", g)
	default:
	}
}
