package link

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mtnode/mtnode/proto/mtpb"
)

// Frame is a received mtpb.Batch, decoded for the link's reader with as
// few allocations as the format allows: the envelope, hop and error structs
// are reused from one batch to the next, payloads alias one copy of the
// batch's bytes, and the type, service and hop names are interned (and
// checked for valid UTF-8 once each). Envelopes are valid until the next
// Decode; what sdk.FromEnvelope makes of them stays valid.
//
// Read a Frame with RecvMsg on a stream that uses Codec.
type Frame struct {
	envs   []mtpb.Envelope
	hops   []mtpb.Hop
	errs   []mtpb.Error
	ptrs   []*mtpb.Envelope
	credit uint32
	names  map[string]string
	// The last name interned for each field: in a batch, most envelopes
	// repeat their neighbour's names, and comparing with it costs a
	// fraction of the map lookup (which was a third of Decode).
	lastDst, lastType, lastNode, lastHop string
}

// maxInterned bounds the names a Frame remembers, so a peer sending many
// distinct names cannot grow it without limit.
const maxInterned = 1024

// Envelopes returns the envelopes of the last decoded batch, in order.
func (f *Frame) Envelopes() []*mtpb.Envelope { return f.ptrs }

// Credit returns the credit field of the last decoded batch.
func (f *Frame) Credit() uint32 { return f.credit }

var errMalformed = errors.New("link: malformed batch")

// Decode parses b, the wire form of an mtpb.Batch. It keeps references into
// b (payloads), so b must not be reused by the caller. It accepts what
// proto.Unmarshal accepts, except strings that are not valid UTF-8.
func (f *Frame) Decode(b []byte) error {
	clear(f.ptrs)
	f.ptrs, f.credit = f.ptrs[:0], 0
	f.envs, f.hops, f.errs = f.envs[:0], f.hops[:0], f.errs[:0]
	for len(b) > 0 {
		num, typ, v, raw, rest, err := field(b)
		if err != nil {
			return err
		}
		b = rest
		switch {
		case num == 1 && typ == protowire.BytesType:
			env := f.newEnvelope()
			if err := f.envelope(env, raw); err != nil {
				return err
			}
			f.ptrs = append(f.ptrs, env)
		case num == 2 && typ == protowire.VarintType:
			f.credit = uint32(v)
		}
	}
	return nil
}

// newEnvelope returns a zeroed envelope from the reusable storage, keeping
// its route's storage.
func (f *Frame) newEnvelope() *mtpb.Envelope {
	env := nextSlot(&f.envs, 64)
	*env = mtpb.Envelope{Route: env.Route[:0]}
	return env
}

func (f *Frame) newHop() *mtpb.Hop {
	h := nextSlot(&f.hops, 64)
	*h = mtpb.Hop{}
	return h
}

func (f *Frame) newError() *mtpb.Error {
	e := nextSlot(&f.errs, 8)
	*e = mtpb.Error{}
	return e
}

// nextSlot returns the next slot of *s, which Decode empties (length 0,
// storage kept) for each batch; the caller zeroes it. When the storage is
// full a new array of at least minCap slots replaces it, and the slots
// handed out earlier in this batch stay where they are (the old array lives
// on while referenced).
func nextSlot[T any](s *[]T, minCap int) *T {
	if len(*s) == cap(*s) {
		*s = make([]T, 0, max(minCap, 2*cap(*s)))
	}
	*s = (*s)[:len(*s)+1]
	return &(*s)[len(*s)-1]
}

// name returns b as a string, interned; *last is the field's last name,
// and becomes this one.
func (f *Frame) name(b []byte, last *string) (string, error) {
	if string(b) == *last {
		return *last, nil
	}
	if s, ok := f.names[string(b)]; ok {
		*last = s
		return s, nil
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%w: string is not valid UTF-8", errMalformed)
	}
	s := string(b)
	if f.names == nil {
		f.names = map[string]string{}
	}
	if len(f.names) < maxInterned {
		f.names[s] = s
	}
	*last = s
	return s, nil
}

// field reads one field of a nested message: its number, wire type, and
// either its varint value or its bytes.
func field(b []byte) (num protowire.Number, typ protowire.Type, v uint64, raw []byte, rest []byte, err error) {
	// Envelope fields have one-byte tags, and most of their values and
	// lengths fit in one byte too: those are read here, the rest by
	// protowire. This halves the cost of a field.
	if len(b) >= 2 && b[0] >= 1<<3 && b[0] < 0x80 && b[1] < 0x80 {
		num, typ = protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
		switch n := int(b[1]); {
		case typ == protowire.VarintType:
			return num, typ, uint64(b[1]), nil, b[2:], nil
		case typ == protowire.BytesType && n <= len(b)-2:
			return num, typ, 0, b[2 : 2+n], b[2+n:], nil
		}
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, 0, nil, nil, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
	}
	if !num.IsValid() {
		return 0, 0, 0, nil, nil, fmt.Errorf("%w: field number %d", errMalformed, num)
	}
	b = b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(b)
	case protowire.BytesType:
		raw, n = protowire.ConsumeBytes(b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return 0, 0, 0, nil, nil, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
	}
	return num, typ, v, raw, b[n:], nil
}

func (f *Frame) envelope(env *mtpb.Envelope, b []byte) error {
	for len(b) > 0 {
		num, typ, v, raw, rest, err := field(b)
		if err != nil {
			return err
		}
		b = rest
		switch {
		case typ == protowire.VarintType && num == 1:
			env.Kind = mtpb.Envelope_Kind(int32(v))
		case typ == protowire.VarintType && num == 6:
			env.Id = v
		case typ != protowire.BytesType:
		case num == 2:
			if env.Dst, err = f.name(raw, &f.lastDst); err != nil {
				return err
			}
		case num == 3:
			if env.Type, err = f.name(raw, &f.lastType); err != nil {
				return err
			}
		case num == 4:
			env.Payload = raw
		case num == 5:
			h := f.newHop()
			if err := f.hop(h, raw); err != nil {
				return err
			}
			env.Route = append(env.Route, h)
		case num == 7:
			if env.Error == nil {
				env.Error = f.newError()
			}
			if err := f.error(env.Error, raw); err != nil {
				return err
			}
		case num == 8:
			if env.DstNode, err = f.name(raw, &f.lastNode); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Frame) hop(h *mtpb.Hop, b []byte) error {
	for len(b) > 0 {
		num, typ, v, raw, rest, err := field(b)
		if err != nil {
			return err
		}
		b = rest
		switch {
		case typ == protowire.VarintType && num == 1:
			h.Kind = mtpb.Hop_Kind(int32(v))
		case typ == protowire.VarintType && num == 3:
			h.Id = v
		case typ == protowire.VarintType && num == 4:
			h.Epoch = v
		case typ == protowire.BytesType && num == 2:
			if h.Name, err = f.name(raw, &f.lastHop); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Frame) error(e *mtpb.Error, b []byte) error {
	for len(b) > 0 {
		num, typ, v, raw, rest, err := field(b)
		if err != nil {
			return err
		}
		b = rest
		if typ == protowire.VarintType && num == 1 {
			e.Code = mtpb.Code(int32(v))
			continue
		}
		if typ != protowire.BytesType || num < 2 || num > 5 {
			continue
		}
		if !utf8.Valid(raw) {
			return fmt.Errorf("%w: string is not valid UTF-8", errMalformed)
		}
		switch num {
		case 2:
			e.Message = string(raw)
		case 3:
			e.EventType = string(raw)
		case 4:
			e.Dst = string(raw)
		case 5:
			e.Hop = string(raw)
		}
	}
	return nil
}

// Decoder is a message that decodes its own wire form, as Frame does:
// Codec.Unmarshal hands it the bytes received.
type Decoder interface {
	Decode(b []byte) error
}

// Codec is the gRPC codec of node links and plugin links: protobuf, except
// that an *Encoded is sent as it is and a Decoder decodes itself. Use it on
// both ends (grpc.ForceServerCodecV2, grpc.ForceCodecV2); the wire format
// is plain protobuf, so a peer may use the stock codec.
type Codec struct{}

// Name implements encoding.CodecV2.
func (Codec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2. An *Encoded is passed on as it is,
// its buffer with it.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(*Encoded); ok {
		buf := e.buf
		if buf == nil {
			return nil, errors.New("link: an encoded message marshalled twice")
		}
		e.buf = nil
		return mem.BufferSlice{mem.NewBuffer(buf, bufPool)}, nil
	}
	return encoding.GetCodecV2("proto").Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if d, ok := v.(Decoder); ok {
		return d.Decode(data.Materialize())
	}
	return encoding.GetCodecV2("proto").Unmarshal(data, v)
}

var _ encoding.CodecV2 = Codec{}
