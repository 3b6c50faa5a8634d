package core

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

// BenchmarkInbound measures what a node link does per request it reads:
// sdk.FromEnvelope, then Wire.Inbound (which pushes the LINK hop), then the
// receiving service decodes the payload. Bursts, as in BenchmarkOneWay;
// the baseline is decoding the same payload and passing it on a channel.
func BenchmarkInbound(b *testing.B) {
	raw, err := proto.Marshal(&wrapperspb.UInt64Value{Value: 42})
	if err != nil {
		b.Fatal(err)
	}
	env := &mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Dst: "Dst", Type: "google.protobuf.UInt64Value",
		Payload: raw, Id: 1, Route: []*mtpb.Hop{{Kind: mtpb.Hop_SERVICE, Name: "Remote"}}}
	b.Run("baseline=chan", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan *wrapperspb.UInt64Value, benchBurst)
		done := make(chan struct{})
		go func() {
			n := 0
			for range ch {
				if n++; n == benchBurst {
					n = 0
					done <- struct{}{}
				}
			}
		}()
		for b.Loop() {
			for range benchBurst {
				m := new(wrapperspb.UInt64Value)
				if err := proto.Unmarshal(env.Payload, m); err != nil {
					b.Fatal(err)
				}
				ch <- m
			}
			<-done
		}
		close(ch)
	})
	b.Run("impl=service", func(b *testing.B) {
		b.ReportAllocs()
		done := make(chan struct{})
		n := benchNode(b, Config{Services: []sdk.Spec{burstCounter("Dst", done)}, Start: []string{"Dst"}})
		w := n.Wire()
		link := w.AttachLink("bench", func(*sdk.Event) error { return nil })
		for b.Loop() {
			for range benchBurst {
				ev, err := sdk.FromEnvelope(env)
				if err != nil {
					b.Fatal(err)
				}
				w.Inbound(link, ev)
			}
			<-done
		}
	})
}
