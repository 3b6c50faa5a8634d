package sdk_test

import (
	"bytes"
	"slices"
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

// TestEnvelopeEncoder: an encoder writes the bytes AppendEnvelope writes,
// for every event of a sequence whose destinations, types and routes
// repeat and change (its cache hit and missed), and refuses what
// AppendEnvelope refuses, cache or not, appending nothing.
func TestEnvelopeEncoder(t *testing.T) {
	r1 := sdk.Route{{Kind: sdk.HopService, Name: "HttpRpc"}, {Kind: sdk.HopLink, ID: 3, Epoch: 1 << 40}}
	r2 := sdk.Route{{Kind: sdk.HopService, Name: "HttpRpc"}, {Kind: sdk.HopLink, ID: 4, Epoch: 1 << 40}}
	evs := []*sdk.Event{
		{Msg: wrapperspb.String("a"), Kind: sdk.KindRequest, ID: 1, Dst: "Echo", Route: r1},
		{Msg: wrapperspb.String("b"), Kind: sdk.KindRequest, ID: 2, Dst: "Echo", Route: r1},
		{Msg: wrapperspb.String("c"), Kind: sdk.KindRequest, ID: 3, Dst: "Echo", Route: slices.Clone(r1)}, // equal, not the same array
		{Msg: wrapperspb.String("d"), Kind: sdk.KindRequest, ID: 4, Dst: "Echo", Route: r2},               // one hop differs
		{Msg: wrapperspb.Int64(5), Kind: sdk.KindRequest, ID: 5, Dst: "Echo", Route: r2},                  // another type
		{Msg: wrapperspb.Int64(6), Kind: sdk.KindRequest, ID: 6, Dst: "Sink", Route: r2},                  // another destination
		{Msg: wrapperspb.Int64(7), Kind: sdk.KindReply, ID: 6, Route: r2[:1]},
		{Kind: sdk.KindError, ID: 8, Route: r2[:1], Err: &sdk.DeliveryError{Code: sdk.CodeLinkLost, Message: "gone"}},
		{Kind: sdk.KindRequest, ID: 9, Dst: "Echo"},
		toNode(&sdk.Event{Msg: wrapperspb.String("e"), Kind: sdk.KindRequest, ID: 10, Dst: "Echo", Route: r1}, "10.0.0.1:7000"),
		{Msg: wrapperspb.String("f"), Kind: sdk.KindRequest, ID: 11, Dst: "Echo", Route: r1},
	}
	for _, withDstNode := range []bool{true, false} {
		var enc sdk.EnvelopeEncoder
		for i, ev := range append(evs, wireEvent(t, evs[0]), wireEvent(t, evs[1]), evs[0]) {
			want, err := ev.AppendEnvelope([]byte("x"), withDstNode)
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.Append([]byte("x"), ev, withDstNode)
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("event %d (dst node %v): got %x, want %x", i, withDstNode, got, want)
			}
		}
	}
	var enc sdk.EnvelopeEncoder
	for _, bad := range []*sdk.Event{
		{Msg: wrapperspb.String("hi"), Dst: "E\xffcho", Route: r1},
		{Msg: wrapperspb.String("hi"), Dst: "Echo", Route: sdk.Route{{Kind: sdk.HopService, Name: "\xff"}}},
		{Msg: wrapperspb.String("\xff"), Dst: "Echo", Route: r1},
		{Kind: sdk.KindError, Route: r1, Err: &sdk.DeliveryError{Message: "\xff"}},
	} {
		if _, err := enc.Append(nil, evs[0], true); err != nil { // fills the cache
			t.Fatal(err)
		}
		if b, err := enc.Append([]byte("x"), bad, true); err == nil || string(b) != "x" {
			t.Errorf("got %q, %v; want the input back and an error", b, err)
		}
	}
}

// BenchmarkEnvelopeEncoder: a run of events to one service with one route,
// encoded by an encoder and by AppendEnvelope.
func BenchmarkEnvelopeEncoder(b *testing.B) {
	ev := &sdk.Event{Msg: wrapperspb.String("0123456789abcdef"), Kind: sdk.KindRequest, ID: 1234567, Dst: "Sink",
		Route: sdk.Route{{Kind: sdk.HopEndpoint, ID: 17, Epoch: 1 << 40}}}
	buf := make([]byte, 0, 256)
	b.Run("baseline=AppendEnvelope", func(b *testing.B) {
		for b.Loop() {
			buf, _ = ev.AppendEnvelope(buf[:0], false)
		}
	})
	b.Run("encoder", func(b *testing.B) {
		var enc sdk.EnvelopeEncoder
		for b.Loop() {
			buf, _ = enc.Append(buf[:0], ev, false)
		}
	})
}
