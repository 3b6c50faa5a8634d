package pluginrt

import (
	"errors"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/plugins/rpc/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// Codec is the gRPC codec of the plugin link, on both ends (the host's
// dial options, the plugin's server options): protobuf, except that a batch
// the Conn writer encoded itself is passed on as it is. The wire format is
// plain protobuf, so either end may use the stock codec.
type Codec struct{}

// Name implements encoding.CodecV2.
func (Codec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(*encodedFrame); ok {
		buf := e.buf
		if buf == nil {
			return nil, errors.New("pluginrt: an encoded frame marshalled twice")
		}
		e.buf = nil
		return mem.BufferSlice{mem.NewBuffer(buf, bufPool)}, nil
	}
	return encoding.GetCodecV2("proto").Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*inFrame); ok {
		return f.decode(data.Materialize())
	}
	return encoding.GetCodecV2("proto").Unmarshal(data, v)
}

// inFrame is a received pluginpb.Frame. A frame that holds just a batch,
// the usual kind, is decoded by link.Frame (envelopes reused from one frame
// to the next, names interned, payloads aliasing the frame's bytes); any
// other frame is unmarshalled whole into full.
type inFrame struct {
	batch link.Frame
	full  *pluginpb.Frame // nil when batch holds the frame
}

func (f *inFrame) decode(b []byte) error {
	f.full = nil
	var batch []byte
	seen, plain := false, true // plain: one batch field and nothing else known
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return protowire.ParseError(n)
		}
		rest = rest[n:]
		if num == 1 && typ == protowire.BytesType && !seen {
			v, n := protowire.ConsumeBytes(rest)
			if n < 0 {
				return protowire.ParseError(n)
			}
			batch, rest, seen = v, rest[n:], true
			continue
		}
		if num >= 1 && num <= 4 {
			plain = false
		}
		n = protowire.ConsumeFieldValue(num, typ, rest)
		if n < 0 {
			return protowire.ParseError(n)
		}
		rest = rest[n:]
	}
	if plain && seen {
		return f.batch.Decode(batch)
	}
	f.full = new(pluginpb.Frame)
	return proto.Unmarshal(b, f.full)
}

var _ encoding.CodecV2 = Codec{}

// encodedFrame is a pluginpb.Frame holding a Batch, in wire form, in a
// buffer of bufPool; Codec.Marshal hands the buffer to gRPC, which returns
// it to the pool once written.
type encodedFrame struct {
	buf *[]byte
}

// frameHead is the room kept in front of a frame's envelopes for the
// Frame.batch tag and length (a length under 64 MiB takes 4 bytes).
const frameHead = 1 + 5

// minFrame is the smallest buffer a frame asks for: the pool's smallest class.
const minFrame = 4 << 10

// frameWriter encodes events into one Frame{Batch} at a time.
type frameWriter struct {
	buf  *[]byte
	b    []byte
	next int // size to ask the pool for: the last frame's
}

func (w *frameWriter) reset() {
	w.next = max(w.next, minFrame)
	w.buf = bufPool.Get(w.next)
	w.b = (*w.buf)[:frameHead] // a pool buffer is at least 4 KiB
}

// empty reports whether no event was added since the last frame.
func (w *frameWriter) empty() bool { return len(w.b) == frameHead }

// size returns the bytes encoded so far.
func (w *frameWriter) size() int { return len(w.b) - frameHead }

// add appends ev as Batch.envelopes; it returns the encoded size of the
// envelope, and on error leaves the frame as it was.
func (w *frameWriter) add(ev *sdk.Event) (int, error) {
	at := len(w.b)
	b := protowire.AppendTag(w.b, 1, protowire.BytesType)
	b, err := ev.AppendEnvelope(b, true)
	if err != nil {
		w.b = b[:at]
		return 0, err
	}
	w.b = b
	return len(b) - at, nil
}

// drop removes the last n bytes added (an envelope add returned).
func (w *frameWriter) drop(n int) { w.b = w.b[:len(w.b)-n] }

// frame finishes the frame, with credit, and returns it; the writer starts
// a new one.
func (w *frameWriter) frame(credit uint32) *encodedFrame {
	b := w.b
	if credit > 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), uint64(credit))
	}
	n := len(b) - frameHead
	var head [frameHead]byte
	h := protowire.AppendVarint(protowire.AppendTag(head[:0], 1, protowire.BytesType), uint64(n))
	copy(b[len(h):], b[frameHead:])
	copy(b, h)
	*w.buf = b[:len(h)+n]
	w.next = len(*w.buf)
	f := &encodedFrame{buf: w.buf}
	w.reset()
	return f
}

// bufPool holds the frames' buffers: the link package's pool, which does
// not zero what it hands out, shared with the node links.
var bufPool = link.BufferPool()
