package pluginrt

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// inFrame is a received pluginpb.Frame. A frame that holds just a batch,
// the usual kind, is decoded by link.Frame (envelopes reused from one frame
// to the next, names interned, payloads aliasing the frame's bytes); any
// other frame is unmarshalled whole into full.
type inFrame struct {
	batch link.Frame
	full  *pluginpb.Frame // nil when batch holds the frame
}

// Decode implements link.Decoder: link.Codec hands it the frame's bytes.
func (f *inFrame) Decode(b []byte) error {
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
	enc  sdk.EnvelopeEncoder
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
	b, err := w.enc.Append(b, ev, true)
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
func (w *frameWriter) frame(credit uint32) *link.Encoded {
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
	f := link.NewEncoded(w.buf)
	w.reset()
	return f
}

// bufPool holds the frames' buffers: the link package's pool, which does
// not zero what it hands out, shared with the node links.
var bufPool = link.BufferPool()

// FrameOf returns the frame m stands for, m being what a Conn passes to
// Stream.SendMsg: a *pluginpb.Frame as it is, or a batch the Conn encoded,
// decoded (and its buffer released). It is for stream wrappers that look
// at the frames, such as tests; the Conn's own path never decodes.
func FrameOf(m any) (*pluginpb.Frame, error) {
	if f, ok := m.(*pluginpb.Frame); ok {
		return f, nil
	}
	bufs, err := link.Codec{}.Marshal(m)
	if err != nil {
		return nil, err
	}
	defer bufs.Free()
	f := new(pluginpb.Frame)
	if err := proto.Unmarshal(bufs.Materialize(), f); err != nil {
		return nil, err
	}
	return f, nil
}
