package core

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"

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

// goid returns the calling goroutine's id, read from the "goroutine N [...]"
// header of its stack trace: tests use it to tell which goroutine ran a
// handler.
func goid(t testing.TB) uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); ok && i > 0 {
		if id, err := strconv.ParseUint(string(b[:i]), 10, 64); err == nil {
			return id
		}
	}
	t.Errorf("cannot read the goroutine id from %q", buf[:])
	return 0
}
