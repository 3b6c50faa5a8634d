package sdk_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

// wireEvent returns ev as it arrives from a link: its payload not decoded.
func wireEvent(t *testing.T, ev *sdk.Event) *sdk.Event {
	t.Helper()
	env, err := ev.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sdk.FromEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAppendEnvelope: AppendEnvelope writes what proto.Marshal of Envelope
// would, as a length-prefixed field value, with or without DstNode.
func TestAppendEnvelope(t *testing.T) {
	route := sdk.Route{{Kind: sdk.HopService, Name: "HttpRpc"}, {Kind: sdk.HopLink, ID: 3, Epoch: 1 << 40}, {Kind: sdk.HopEndpoint, ID: 9}}
	tests := []struct {
		name string
		ev   *sdk.Event
	}{
		{"request", toNode(&sdk.Event{Msg: wrapperspb.String("hi"), Kind: sdk.KindRequest, ID: 7, Dst: "Echo", Route: route}, "10.0.0.1:7000")},
		{"empty payload", &sdk.Event{Msg: &emptypb.Empty{}, Kind: sdk.KindRequest, ID: 1, Dst: "Echo"}},
		{"reply", &sdk.Event{Msg: wrapperspb.Bytes(make([]byte, 300)), Kind: sdk.KindReply, ID: 1 << 63, Route: route[:1]}},
		{"error", &sdk.Event{Kind: sdk.KindError, ID: 5, Route: route,
			Err: &sdk.DeliveryError{Code: sdk.CodeLinkLost, Message: "gone", EventType: "x.Y", Dst: "Echo", Hop: "node a"}}},
		{"negative code", &sdk.Event{Kind: sdk.KindError, ID: 5, Err: &sdk.DeliveryError{Code: -1}}},
		{"no payload", &sdk.Event{Kind: sdk.KindRequest, Dst: "Echo"}},
	}
	for _, tc := range tests {
		for _, ev := range []*sdk.Event{tc.ev, wireEvent(t, tc.ev)} {
			for _, withDstNode := range []bool{true, false} {
				t.Run(tc.name, func(t *testing.T) {
					want, err := ev.Envelope()
					if err != nil {
						t.Fatal(err)
					}
					if !withDstNode {
						want.DstNode = ""
					}
					b, err := ev.AppendEnvelope([]byte("x"), withDstNode)
					if err != nil {
						t.Fatal(err)
					}
					v, n := protowire.ConsumeBytes(b[1:])
					if n != len(b)-1 {
						t.Fatalf("got %d bytes after the prefix, want one length-prefixed value (%d)", len(b)-1, n)
					}
					got := new(mtpb.Envelope)
					if err := proto.Unmarshal(v, got); err != nil {
						t.Fatal(err)
					}
					if !proto.Equal(got, want) {
						t.Errorf("got %v, want %v", got, want)
					}
					if wb, _ := proto.Marshal(want); len(wb) != len(v) {
						t.Errorf("got %d bytes, proto.Marshal %d", len(v), len(wb))
					}
				})
			}
		}
	}
}

// TestAppendEnvelopeRefuses: what proto.Marshal refuses is an error, and
// nothing is appended.
func TestAppendEnvelopeRefuses(t *testing.T) {
	tests := []struct {
		name string
		ev   *sdk.Event
	}{
		{"dst", &sdk.Event{Msg: wrapperspb.String("hi"), Dst: "E\xffcho"}},
		{"hop", &sdk.Event{Msg: wrapperspb.String("hi"), Dst: "Echo", Route: sdk.Route{{Kind: sdk.HopService, Name: "\xff"}}}},
		{"error", &sdk.Event{Kind: sdk.KindError, Err: &sdk.DeliveryError{Message: "\xff"}}},
		{"payload", &sdk.Event{Msg: wrapperspb.String("\xff"), Dst: "Echo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.ev.AppendEnvelope([]byte("x"), true)
			if err == nil {
				t.Fatal("got nil error")
			}
			if string(b) != "x" {
				t.Errorf("got %q, want the input back", b)
			}
		})
	}
}

// toNode returns ev addressed to node.
func toNode(ev *sdk.Event, node string) *sdk.Event {
	ev.SetDstNode(node)
	return ev
}
