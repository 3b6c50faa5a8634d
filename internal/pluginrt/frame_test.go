package pluginrt

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// TestFrameWriter: a frame the writer encodes is what proto.Marshal of the
// same pluginpb.Frame gives, for a peer with the stock codec.
func TestFrameWriter(t *testing.T) {
	remote := &sdk.Event{Msg: wrapperspb.String("hi"), Kind: sdk.KindRequest, ID: 7, Dst: "Echo",
		Route: sdk.Route{{Kind: sdk.HopEndpoint, ID: 1}}}
	remote.SetDstNode("10.0.0.1:7000")
	evs := []*sdk.Event{
		remote,
		{Msg: wrapperspb.Bytes(make([]byte, 200)), Kind: sdk.KindReply, ID: 8, Route: sdk.Route{{Kind: sdk.HopService, Name: "HttpRpc"}}},
		{Kind: sdk.KindError, ID: 9, Err: &sdk.DeliveryError{Code: sdk.CodeLinkLost, Message: "gone"}, Route: sdk.Route{{Kind: sdk.HopEndpoint, ID: 2}}},
	}
	tests := []struct {
		name   string
		evs    []*sdk.Event
		credit uint32
	}{
		{"events", evs, 0},
		{"events and credit", evs, 4096},
		{"credit only", nil, 1 << 20},
		{"many", func() (out []*sdk.Event) {
			for range 3000 {
				out = append(out, evs...)
			}
			return out
		}(), 3},
	}
	var w frameWriter
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := &pluginpb.Frame{Batch: &mtpb.Batch{Credit: tc.credit}}
			if w.buf == nil {
				w.reset()
			}
			for _, ev := range tc.evs {
				if _, err := w.add(ev); err != nil {
					t.Fatal(err)
				}
				env, err := ev.Envelope()
				if err != nil {
					t.Fatal(err)
				}
				want.Batch.Envelopes = append(want.Batch.Envelopes, env)
			}
			bs, err := link.Codec{}.Marshal(w.frame(tc.credit))
			if err != nil {
				t.Fatal(err)
			}
			got := new(pluginpb.Frame)
			if err := proto.Unmarshal(bs.Materialize(), got); err != nil {
				t.Fatal(err)
			}
			bs.Free()
			if !proto.Equal(got, want) {
				t.Errorf("got a frame of %d envelopes (credit %d), want %d (credit %d)",
					len(got.GetBatch().GetEnvelopes()), got.GetBatch().GetCredit(), len(want.Batch.Envelopes), tc.credit)
			}
		})
	}
}

// TestInFrame: a received frame reads as proto.Unmarshal reads it, whether
// it takes the batch-only path or not.
func TestInFrame(t *testing.T) {
	env, err := (&sdk.Event{Msg: wrapperspb.String("hi"), Kind: sdk.KindRequest, ID: 7, Dst: "Echo",
		Route: sdk.Route{{Kind: sdk.HopEndpoint, ID: 1}}}).Envelope()
	if err != nil {
		t.Fatal(err)
	}
	marshal := func(f *pluginpb.Frame) []byte {
		b, err := proto.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	batch := marshal(&pluginpb.Frame{Batch: &mtpb.Batch{Envelopes: []*mtpb.Envelope{env, env}, Credit: 5}})
	tests := []struct {
		name    string
		b       []byte
		wantErr bool
	}{
		{"batch", batch, false},
		{"empty batch", marshal(&pluginpb.Frame{Batch: &mtpb.Batch{}}), false},
		{"empty frame", nil, false},
		{"ready", marshal(&pluginpb.Frame{Ready: &pluginpb.Ready{Credit: 3}}), false},
		{"batch and hello", marshal(&pluginpb.Frame{Batch: &mtpb.Batch{Envelopes: []*mtpb.Envelope{env}}, Hello: &pluginpb.Hello{Credit: 9}}), false},
		{"two batch fields", append(append([]byte(nil), batch...), batch...), false},
		{"truncated", batch[:len(batch)-3], true},
	}
	var in inFrame
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := new(pluginpb.Frame)
			werr := proto.Unmarshal(tc.b, want)
			err := in.Decode(append([]byte(nil), tc.b...))
			if (err != nil) != tc.wantErr || (werr != nil) != tc.wantErr {
				t.Fatalf("got error %v (proto.Unmarshal: %v), want error: %v", err, werr, tc.wantErr)
			}
			if err != nil {
				return
			}
			got := in.full
			if got == nil {
				got = &pluginpb.Frame{Batch: &mtpb.Batch{Envelopes: in.batch.Envelopes(), Credit: in.batch.Credit()}}
				if len(got.Batch.Envelopes) == 0 {
					got.Batch.Envelopes = nil
				}
			}
			if !proto.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
