package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// TestPeersPruned: a peer with no link, no dial loop and nothing pending is
// forgotten, whether it was adopted from an accepted link or dialled and
// then idle while unreachable.
func TestPeersPruned(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a", conf: map[string]string{
		"RPC.reconnectMin": "10ms", "RPC.reconnectMax": "20ms", "RPC.idleAfter": "50ms"}})
	peers := func() uint32 { return listLinks(t, a).GetPeers() }

	b := startNode(t, nodeOpts{name: "b", noStop: true})
	if _, err := request(t, b, sdk.At(a.addr, "Echo"), wrapperspb.String("b->a")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a adopts b's address", func() bool { return peers() == 1 })
	b.stop(t)
	eventually(t, 5*time.Second, "a forgets b once its link is gone", func() bool { return peers() == 0 })

	if _, err := request(t, a, sdk.At("127.0.0.1:1", "Echo"), wrapperspb.String("x")); err == nil {
		t.Fatal("request to an unreachable address succeeded")
	}
	eventually(t, 5*time.Second, "a forgets an unreachable peer nobody sends to", func() bool { return peers() == 0 })
}

// TestHelloClaims: the listen addresses of an accepted link's Hello are
// claims. One for an address this node already has its own link to does not
// take its traffic; one whose host is not where the link came from is
// ignored; only the first few count; and the claims go with the link.
func TestHelloClaims(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	c := startNode(t, nodeOpts{name: "c"})
	peers := func() uint32 { return listLinks(t, a).GetPeers() }
	if _, err := request(t, a, sdk.At(c.addr, "Echo"), wrapperspb.String("a->c")); err != nil {
		t.Fatal(err)
	}

	claims := []string{c.addr, "192.0.2.1:10100"}
	for i := range 10 {
		claims = append(claims, fmt.Sprintf("127.0.0.1:%d", 1+i))
	}
	cc, err := grpc.NewClient("passthrough:///"+a.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	hello := &rpcpb.Hello{Protocol: link.Protocol, Node: "claimer", Epoch: 99, Listen: claims}
	st, err := rpcpb.NewLinkClient(cc).Stream(metadata.NewOutgoingContext(ctx, link.HelloMD(hello)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Header(); err != nil {
		t.Fatal(err)
	}
	// c's own peer, plus 127.0.0.1:1 and :2 (the 3rd and 4th claims).
	eventually(t, 5*time.Second, "a takes 2 new claims", func() bool { return peers() == 3 })
	if _, err := request(t, a, sdk.At(c.addr, "Echo"), wrapperspb.String("still c")); err != nil {
		t.Fatalf("a->c after the claim (the claimer never answers): %v", err)
	}
	cancel()
	eventually(t, 5*time.Second, "claims go with the claimer's link", func() bool { return peers() == 1 })
}
