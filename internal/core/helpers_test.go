package core

import (
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

// envelopeOf builds a request envelope, as a link would receive it, whose
// reply goes to the node endpoint ep.
func envelopeOf(typ, dst string, ep sdk.Endpoint) *mtpb.Envelope {
	id := ep.(*endpoint).id
	return &mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Dst: dst, Type: typ, Payload: []byte{1, 2},
		Id: 7, Route: []*mtpb.Hop{{Kind: mtpb.Hop_ENDPOINT, Id: id}}}
}
