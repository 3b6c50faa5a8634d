package pluginrt

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
)

// FuzzSocketFrames feeds arbitrary bytes to the event socket's frame
// reader, as a peer that does not speak the protocol would send: every
// read ends with a frame, io.EOF at a frame boundary, or an ErrBadFrame;
// never a panic, and never more frames than the bytes could hold.
func FuzzSocketFrames(f *testing.F) {
	var buf bytes.Buffer
	w := link.NewSocketStream(bufConn{w: &buf}, MaxMessageSize)
	for _, fr := range []*pluginpb.Frame{
		{Hello: &pluginpb.Hello{Name: "p", Credit: 9, EventSocket: "/s", EventToken: make([]byte, TokenSize)}},
		{Ready: &pluginpb.Ready{Credit: 5}},
		{Defines: []*pluginpb.Define{{Key: "A.b", Default: "1"}}},
	} {
		if err := w.SendMsg(fr); err != nil {
			f.Fatal(err)
		}
	}
	var fw frameWriter
	fw.reset()
	for _, ev := range testEvents(3) {
		if _, err := fw.add(ev); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.SendMsg(fw.frame(7)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(frameBytes(0xffffffff, nil))
	f.Add(frameBytes(3, []byte{0xff, 0xff, 0xff}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := link.NewSocketStream(bufConn{r: bytes.NewReader(b), w: io.Discard}, 1<<16) // a small limit, so that lengths past it are common
		in := new(inFrame)
		for frames := 0; ; frames++ {
			err := s.RecvMsg(in)
			if err == nil {
				if frames > len(b)/4 {
					t.Fatalf("read %d frames from %d bytes", frames+1, len(b))
				}
				continue
			}
			if err != io.EOF && !errors.Is(err, ErrBadFrame) {
				t.Fatalf("got %v, want io.EOF or an ErrBadFrame", err)
			}
			return
		}
	})
}
