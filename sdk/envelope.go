package sdk

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// errNotUTF8 is what proto.Marshal would refuse an envelope for.
var errNotUTF8 = errors.New("a string field is not valid UTF-8")

// AppendEnvelope appends to b the mtpb.Envelope that Envelope returns, in
// its wire form as the value of an embedded message field (its length, then
// its bytes), without building the Envelope: links call it once per event
// to write the batch in place, so the payload is marshalled here and only
// here, straight into b. With withDstNode false the envelope leaves out
// DstNode (a node link writes events that have reached their node).
//
// On error (a payload that does not marshal, a string that is not valid
// UTF-8, which proto.Marshal would refuse too) it returns b unchanged.
func (e *Event) AppendEnvelope(b []byte, withDstNode bool) ([]byte, error) {
	typ := e.Type()
	// A decoded payload's type name is its descriptor's full name, dotted
	// identifiers (protodesc checks them), so only a type name that came
	// in from a peer with undecoded bytes needs checking.
	if !utf8.ValidString(e.Dst) || (e.Msg == nil && !utf8.ValidString(typ)) || !routeUTF8(e.Route) {
		return b, fmt.Errorf("sdk: encoding %s: %w", typ, errNotUTF8)
	}
	return e.appendEnvelope(b, withDstNode, typ, nil, nil)
}

// EnvelopeEncoder appends events in wire form as AppendEnvelope does,
// keeping the encoded destination and type of the last event, and its
// encoded route: a link's writer mostly encodes runs of events that share
// them (one sender's stream to one service, a service's replies to one
// requester), and copies their bytes rather than checking and encoding
// the strings again. The zero value is ready to use; an encoder is for one
// goroutine.
type EnvelopeEncoder struct {
	dst, typ string
	dt       []byte // the Dst and Type fields for dst and typ; nil: none yet
	route    Route  // a copy of the last route
	rt       []byte // its Route fields; nil: none yet
}

// Append appends e's envelope to b, as e.AppendEnvelope(b, withDstNode).
func (c *EnvelopeEncoder) Append(b []byte, e *Event, withDstNode bool) ([]byte, error) {
	typ := e.Type()
	if c.dt == nil || e.Dst != c.dst || typ != c.typ {
		if !utf8.ValidString(e.Dst) || (e.Msg == nil && !utf8.ValidString(typ)) {
			return b, fmt.Errorf("sdk: encoding %s: %w", typ, errNotUTF8)
		}
		c.dt = appendStringField(appendStringField(c.dt[:0], 2, e.Dst), 3, typ)
		c.dst, c.typ = e.Dst, typ
	}
	if c.rt == nil || !sameRoute(e.Route, c.route) {
		if !routeUTF8(e.Route) {
			return b, fmt.Errorf("sdk: encoding %s: %w", typ, errNotUTF8)
		}
		c.rt = appendRoute(c.rt[:0], e.Route)
		c.route = append(c.route[:0], e.Route...)
	}
	return e.appendEnvelope(b, withDstNode, typ, c.dt, c.rt)
}

// appendEnvelope is AppendEnvelope once e's Dst, type and route are known
// to be valid UTF-8; dt and rt, when not nil, are their encoded fields.
func (e *Event) appendEnvelope(b []byte, withDstNode bool, typ string, dt, rt []byte) ([]byte, error) {
	dstNode := ""
	if withDstNode {
		dstNode = e.DstNode()
	}
	if !utf8.ValidString(dstNode) {
		return b, fmt.Errorf("sdk: encoding %s: %w", typ, errNotUTF8)
	}
	var payload []byte
	psize := 0
	mo := proto.MarshalOptions{UseCachedSize: true}
	switch {
	case e.Msg != nil:
		psize = mo.Size(e.Msg) // also caches the sizes MarshalAppend uses
	case e.wire != nil:
		payload = e.wire.raw
		psize = len(payload)
	}
	n := sizeVarintField(uint64(e.Kind)) + sizeVarintField(e.ID) + sizeStringField(dstNode)
	if dt != nil {
		n += len(dt)
	} else {
		n += sizeStringField(e.Dst) + sizeStringField(typ)
	}
	if psize > 0 {
		n += 1 + protowire.SizeBytes(psize)
	}
	if rt != nil {
		n += len(rt)
	} else {
		for _, h := range e.Route {
			n += 1 + protowire.SizeBytes(hopSize(h))
		}
	}
	if de := e.Err; de != nil {
		if !utf8.ValidString(de.Message) || !utf8.ValidString(de.EventType) || !utf8.ValidString(de.Dst) || !utf8.ValidString(de.Hop) {
			return b, fmt.Errorf("sdk: encoding %s: %w", typ, errNotUTF8)
		}
		n += 1 + protowire.SizeBytes(errSize(de))
	}

	start := len(b)
	b = protowire.AppendVarint(b, uint64(n))
	b = appendVarintField(b, 1, uint64(e.Kind))
	if dt != nil {
		b = append(b, dt...)
	} else {
		b = appendStringField(b, 2, e.Dst)
		b = appendStringField(b, 3, typ)
	}
	if psize > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(psize))
		if payload != nil {
			b = append(b, payload...)
		} else {
			at := len(b)
			var err error
			if b, err = mo.MarshalAppend(b, e.Msg); err != nil {
				return b[:start], fmt.Errorf("sdk: marshalling %s: %w", typ, err)
			}
			if len(b)-at != psize {
				return b[:start], fmt.Errorf("sdk: marshalling %s: the payload changed while it was encoded", typ)
			}
		}
	}
	if rt != nil {
		b = append(b, rt...)
	} else {
		b = appendRoute(b, e.Route)
	}
	b = appendVarintField(b, 6, e.ID)
	if de := e.Err; de != nil {
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(errSize(de)))
		b = appendVarintField(b, 1, uint64(int64(de.Code)))
		b = appendStringField(b, 2, de.Message)
		b = appendStringField(b, 3, de.EventType)
		b = appendStringField(b, 4, de.Dst)
		b = appendStringField(b, 5, de.Hop)
	}
	b = appendStringField(b, 8, dstNode)
	return b, nil
}

// appendRoute appends r's hops as Envelope.route fields.
func appendRoute(b []byte, r Route) []byte {
	for _, h := range r {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(hopSize(h)))
		b = appendVarintField(b, 1, uint64(h.Kind))
		b = appendStringField(b, 2, h.Name)
		b = appendVarintField(b, 3, h.ID)
		b = appendVarintField(b, 4, h.Epoch)
	}
	return b
}

// routeUTF8 reports whether every hop name of r is valid UTF-8.
func routeUTF8(r Route) bool {
	for _, h := range r {
		if !utf8.ValidString(h.Name) {
			return false
		}
	}
	return true
}

// sameRoute reports whether a and b hold the same hops.
func sameRoute(a, b Route) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hopSize(h Hop) int {
	return sizeVarintField(uint64(h.Kind)) + sizeStringField(h.Name) + sizeVarintField(h.ID) + sizeVarintField(h.Epoch)
}

func errSize(de *DeliveryError) int {
	return sizeVarintField(uint64(int64(de.Code))) + sizeStringField(de.Message) + sizeStringField(de.EventType) +
		sizeStringField(de.Dst) + sizeStringField(de.Hop)
}

// The fields below have numbers under 16, so their tags take one byte; as
// in proto3, zero values are left out.

func sizeVarintField(v uint64) int {
	if v == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(v)
}

func sizeStringField(s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeBytes(len(s))
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}
