package link

import (
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

func seedBatch(t interface{ Fatal(...any) }) []byte {
	ev := &sdk.Event{Msg: wrapperspb.String("hi"), Kind: sdk.KindRequest, ID: 7, Dst: "Echo",
		Route: sdk.Route{{Kind: sdk.HopService, Name: "HttpRpc"}, {Kind: sdk.HopLink, ID: 3, Epoch: 99}}}
	env, err := ev.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	errEnv := &mtpb.Envelope{Kind: mtpb.Envelope_ERROR, Id: 7, Error: &mtpb.Error{Code: mtpb.Code_LINK_LOST, Message: "gone"},
		Route: []*mtpb.Hop{{Kind: mtpb.Hop_ENDPOINT, Id: 1}}}
	b, err := proto.Marshal(&mtpb.Batch{Envelopes: []*mtpb.Envelope{env, errEnv}, Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzEnvelopeDecode feeds bytes to what a link reads from a peer: a batch
// of envelopes turned into events, and a Hello checked for the handshake.
// Nothing may panic; an accepted event must encode again.
func FuzzEnvelopeDecode(f *testing.F) {
	f.Add(seedBatch(f))
	// Values past one byte, so Frame reads them the long way.
	big, _ := proto.Marshal(&mtpb.Batch{Credit: 1 << 20, Envelopes: []*mtpb.Envelope{{Kind: mtpb.Envelope_REPLY, Id: 1 << 40,
		Dst: strings.Repeat("d", 200), Type: "t", Payload: make([]byte, 300),
		Route: []*mtpb.Hop{{Kind: mtpb.Hop_LINK, Id: 300, Epoch: 1 << 50, Name: strings.Repeat("h", 130)}}}}})
	f.Add(big)
	hello, _ := proto.Marshal(&rpcpb.Hello{Protocol: Protocol, Node: "n", Epoch: 5, Token: "t", Listen: []string{"127.0.0.1:10100", "[::1]:10100"}})
	f.Add(hello)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b mtpb.Batch
		perr := proto.Unmarshal(data, &b)
		var fr Frame
		ferr := fr.Decode(append([]byte(nil), data...))
		if (perr == nil) != (ferr == nil) {
			t.Fatalf("proto.Unmarshal: %v, Frame.Decode: %v", perr, ferr)
		}
		if perr == nil {
			if len(fr.Envelopes()) != len(b.GetEnvelopes()) || fr.Credit() != b.GetCredit() {
				t.Fatalf("Frame has %d envelopes (credit %d), proto %d (credit %d)", len(fr.Envelopes()), fr.Credit(), len(b.GetEnvelopes()), b.GetCredit())
			}
			for i, env := range b.GetEnvelopes() {
				dropUnknown(env)
				if !proto.Equal(env, fr.Envelopes()[i]) {
					t.Fatalf("envelope %d: proto %v, Frame %v", i, env, fr.Envelopes()[i])
				}
			}
		}
		if perr == nil {
			for _, env := range b.GetEnvelopes() {
				ev, err := sdk.FromEnvelope(env)
				if err != nil {
					continue
				}
				if len(ev.Route) > sdk.MaxRoute {
					t.Fatalf("accepted a route of %d hops", len(ev.Route))
				}
				if _, err := ev.Envelope(); err != nil {
					t.Fatalf("accepted event does not encode: %v", err)
				}
				_ = ev.Decode()
			}
		}
		h, err := CheckHello(metadata.Pairs(HelloKey, string(data)), "t")
		if err == nil && (h.GetProtocol() != Protocol || h.GetEpoch() == 0 || h.GetToken() != "t") {
			t.Fatalf("accepted hello %v", h)
		}
	})
}

func dropUnknown(env *mtpb.Envelope) {
	env.ProtoReflect().SetUnknown(nil)
	for _, h := range env.GetRoute() {
		h.ProtoReflect().SetUnknown(nil)
	}
	if env.Error != nil {
		env.Error.ProtoReflect().SetUnknown(nil)
	}
}

func TestFrameReuse(t *testing.T) {
	var fr Frame
	data := seedBatch(t)
	for range 3 {
		if err := fr.Decode(append([]byte(nil), data...)); err != nil {
			t.Fatal(err)
		}
		envs := fr.Envelopes()
		if len(envs) != 2 || envs[0].GetDst() != "Echo" || len(envs[0].GetRoute()) != 2 || envs[1].GetError().GetMessage() != "gone" {
			t.Fatalf("got %v, want the seed batch", envs)
		}
	}
}

func TestCheckHello(t *testing.T) {
	mk := func(h *rpcpb.Hello) metadata.MD { return HelloMD(h) }
	ok := &rpcpb.Hello{Protocol: Protocol, Node: "n", Epoch: 1, Token: "t", Listen: []string{"127.0.0.1:1"}}
	tests := []struct {
		name  string
		md    metadata.MD
		token string
		want  error
	}{
		{"good", mk(ok), "t", nil},
		{"no token wanted", mk(ok), "", nil},
		{"wrong token", mk(&rpcpb.Hello{Protocol: Protocol, Epoch: 1, Token: "x"}), "t", ErrBadToken},
		{"missing", metadata.MD{}, "", ErrBadHello},
		{"other protocol", mk(&rpcpb.Hello{Protocol: Protocol + 1, Epoch: 1}), "", ErrBadHello},
		{"epoch 0", mk(&rpcpb.Hello{Protocol: Protocol}), "", ErrBadHello},
		{"bad listen address", mk(&rpcpb.Hello{Protocol: Protocol, Epoch: 1, Listen: []string{"nope"}}), "", ErrBadHello},
		{"garbage", metadata.Pairs(HelloKey, "\xff\xff\xff"), "", ErrBadHello},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckHello(tc.md, tc.token)
			if tc.want == nil && err != nil || tc.want != nil && !errorsIs(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// BenchmarkFrameDecode decodes a batch of 1024 one-way events as node-oneway
// sends them: the same destination and type in each, 16-byte payloads.
func BenchmarkFrameDecode(b *testing.B) {
	var bs []byte
	for range 1024 {
		ev := &sdk.Event{Msg: wrapperspb.Bytes(make([]byte, 16)), Kind: sdk.KindRequest, Dst: "Sink"}
		bs = protowire.AppendTag(bs, 1, protowire.BytesType)
		var err error
		if bs, err = ev.AppendEnvelope(bs, false); err != nil {
			b.Fatal(err)
		}
	}
	var fr Frame
	b.SetBytes(int64(len(bs)))
	b.ReportAllocs()
	for b.Loop() {
		if err := fr.Decode(bs); err != nil {
			b.Fatal(err)
		}
	}
}
