package sdk_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

// FuzzRouteStack feeds arbitrary bytes as an envelope: FromEnvelope either
// rejects it or yields an event whose route pops back to empty in exactly
// len(route) steps, and whose re-encoding decodes to the same route.
func FuzzRouteStack(f *testing.F) {
	for _, env := range []*mtpb.Envelope{
		{Dst: "A", Type: "google.protobuf.StringValue", Route: []*mtpb.Hop{{Kind: mtpb.Hop_SERVICE, Name: "B"}}},
		{Kind: mtpb.Envelope_REPLY, Route: []*mtpb.Hop{{Kind: mtpb.Hop_LINK, Id: 1, Epoch: 2}, {Kind: mtpb.Hop_ENDPOINT, Id: 3}}},
		{Kind: mtpb.Envelope_ERROR, Error: &mtpb.Error{Code: mtpb.Code_LINK_LOST}},
	} {
		b, _ := proto.Marshal(env)
		f.Add(b)
	}
	f.Add([]byte{0x2a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var env mtpb.Envelope
		if proto.Unmarshal(data, &env) != nil {
			return
		}
		ev, err := sdk.FromEnvelope(&env)
		if err != nil {
			return
		}
		if len(ev.Route) > sdk.MaxRoute {
			t.Fatalf("accepted a route of %d hops", len(ev.Route))
		}
		env2, err := ev.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		ev2, err := sdk.FromEnvelope(env2)
		if err != nil {
			t.Fatalf("re-encoded envelope rejected: %v", err)
		}
		r := ev2.Route
		for i := range len(ev.Route) {
			top, rest, ok := r.Pop()
			if !ok || top != ev.Route[len(ev.Route)-1-i] {
				t.Fatalf("pop %d: got %v, want %v", i, top, ev.Route[len(ev.Route)-1-i])
			}
			r = rest
		}
		if len(r) != 0 {
			t.Fatalf("route not empty after popping every hop: %v", r)
		}
	})
}
