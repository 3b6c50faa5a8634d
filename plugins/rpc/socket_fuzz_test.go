package rpc

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/rpcpb"
)

// FuzzHandshake feeds arbitrary bytes to both ends' handshake readers, as
// a peer that does not speak the protocol would send them: each returns a
// checked Hello, an error wrapping link.ErrBadHello or link.ErrBadToken,
// or the reader's end of data; never a panic, and never a Hello that
// breaks DecodeHello's limits.
func FuzzHandshake(f *testing.F) {
	var buf bytes.Buffer
	h := &rpcpb.Hello{Protocol: link.Protocol, Node: "a", Epoch: 7, Token: "t", Listen: []string{"127.0.0.1:1"}}
	if err := writeFrame(&buf, nil, h); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	if err := writeFrame(&buf, nil, &rpcpb.Answer{Hello: h}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	if err := writeFrame(&buf, nil, &rpcpb.Answer{Refused: "no", Permanent: true}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0, 0, 2, 0x0a, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ok := func(err error) bool {
			return errors.Is(err, link.ErrBadHello) || errors.Is(err, link.ErrBadToken) ||
				errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		}
		if h, err := readHello(bytes.NewReader(b), "t"); err != nil {
			if !ok(err) {
				t.Fatalf("readHello: unexpected error %v", err)
			}
		} else if h.GetEpoch() == 0 || len(h.GetListen()) > 16 {
			t.Fatalf("readHello passed %v", h)
		}
		if _, h, err := readAnswer(bytes.NewReader(b)); err != nil {
			if !ok(err) {
				t.Fatalf("readAnswer: unexpected error %v", err)
			}
		} else if h != nil && h.GetEpoch() == 0 {
			t.Fatalf("readAnswer passed %v", h)
		}
	})
}
