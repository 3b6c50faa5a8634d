package link

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"

	"google.golang.org/grpc/mem"
)

// A socket link (a plugin's event socket, a node link over TCP) carries
// the same frames as the gRPC Link stream, each as a 4-byte big-endian
// length and the frame's bytes (what Codec marshals). It exists because
// gRPC's stream costs several times a plain socket's round trip on a small
// machine: its transport reader and loopy writer goroutines and HTTP/2
// framing sit between the link and the socket. Links batch already; the
// socket needs no more than a length prefix.

// ErrBadFrame is wrapped by the errors of a socket frame that cannot be
// read: a length past the limit, bytes that do not decode, a frame cut
// short. The peer does not speak the link protocol (or died mid-frame):
// the link ends, as it does when the peer crashes.
var ErrBadFrame = errors.New("bad link frame")

const (
	frameHeader = 4
	// socketBuffer is the size of the socket's read and write buffers:
	// room for many small frames per system call.
	socketBuffer = 64 << 10
	// readChunk bounds what RecvMsg allocates ahead of the bytes that
	// arrived, so a length that lies costs no more than the data sent.
	readChunk = 1 << 20
)

// SocketStream is a link stream over a socket: the frames Codec produces,
// each behind a 4-byte big-endian length. One goroutine may call SendMsg
// and another RecvMsg. It reads and writes through buffers of its own; a
// TLS connection works, without TrySendMsg's direct writes (they need the
// socket's descriptor).
type SocketStream struct {
	c     net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	max   int // largest frame accepted
	codec Codec
	head  [frameHeader]byte // SendMsg's

	// TrySend's: the raw socket, and the part of a frame it could not
	// write at once, which goes out before anything else.
	raw  rawWriter
	out  []byte
	left []byte
}

// rawWriter writes to a socket without waiting: what the socket's buffer
// takes now, possibly nothing.
type rawWriter interface {
	tryWrite(b []byte) (int, error)
}

// NewSocketStream returns a stream over c that accepts frames of up to
// limit bytes and refuses to send larger ones.
func NewSocketStream(c net.Conn, limit int) *SocketStream {
	return &SocketStream{c: c, r: bufio.NewReaderSize(c, socketBuffer), w: bufio.NewWriterSize(c, socketBuffer),
		max: limit, raw: newRawWriter(c)}
}

// SendMsg writes m, a protobuf message or an encoded frame (an *Encoded,
// whose buffer it takes over, even when it fails), and flushes it: links
// call SendMsg once per frame they have gathered.
func (s *SocketStream) SendMsg(m any) error {
	bufs, err := s.codec.Marshal(m)
	if err != nil {
		return fmt.Errorf("link: encoding a link frame: %w", err)
	}
	defer bufs.Free()
	n := bufs.Len()
	if n > s.max {
		return fmt.Errorf("link: a link frame of %d bytes is larger than the %d the peer accepts", n, s.max)
	}
	if len(s.left) > 0 {
		if _, err := s.w.Write(s.left); err != nil {
			return s.writeErr(err)
		}
		s.left = nil
	}
	binary.BigEndian.PutUint32(s.head[:], uint32(n))
	if _, err := s.w.Write(s.head[:]); err != nil {
		return s.writeErr(err)
	}
	for _, b := range bufs {
		if _, err := s.w.Write(b.ReadOnlyData()); err != nil {
			return s.writeErr(err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return s.writeErr(err)
	}
	return nil
}

// TrySendMsg is SendMsg on the caller's goroutine that never waits for
// the peer: it writes as much of m's frame as the socket takes at once,
// with one system call, and keeps the rest, which Flush or the next
// SendMsg write first. It reports whether part of the frame was left.
// A link uses it to send a lone event without waking its writer goroutine.
// Calls must not overlap with each other, SendMsg or Flush.
func (s *SocketStream) TrySendMsg(m any) (left bool, err error) {
	bufs, err := s.codec.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("link: encoding a link frame: %w", err)
	}
	defer bufs.Free()
	n := bufs.Len()
	if n > s.max {
		return false, fmt.Errorf("link: a link frame of %d bytes is larger than the %d the peer accepts", n, s.max)
	}
	out := binary.BigEndian.AppendUint32(s.out[:0], uint32(n))
	for _, b := range bufs {
		out = append(out, b.ReadOnlyData()...)
	}
	if cap(out) <= socketBuffer {
		s.out = out // reused; a rare big frame is not kept
	}
	w := 0 // without a raw socket, or behind what is left, all waits
	if s.raw != nil && len(s.left) == 0 {
		if w, err = s.raw.tryWrite(out); err != nil {
			return false, s.writeErr(err)
		}
	}
	if w < len(out) {
		s.left = append(s.left, out[w:]...)
		return true, nil
	}
	return false, nil
}

// Flush writes what TrySendMsg left, waiting for the socket as needed.
func (s *SocketStream) Flush() error {
	if len(s.left) == 0 {
		return nil
	}
	_, err := s.c.Write(s.left)
	s.left = nil
	if err != nil {
		return s.writeErr(err)
	}
	return nil
}

func (s *SocketStream) writeErr(err error) error {
	return fmt.Errorf("link: writing to the link socket: %w", err)
}

// RecvMsg reads one frame into m: a Decoder decodes itself (and may
// keep references into the frame's bytes, which are its own), anything
// else is unmarshalled as link.Codec does. At the end of the stream,
// between frames, it returns io.EOF; every other failure to read a frame
// wraps ErrBadFrame, or is the socket's error.
func (s *SocketStream) RecvMsg(m any) error {
	b, err := s.readFrame()
	if err != nil {
		return err
	}
	if d, ok := m.(Decoder); ok {
		err = d.Decode(b)
	} else {
		err = s.codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m)
	}
	if err != nil {
		return fmt.Errorf("link: a frame of %d bytes on the link socket does not decode (%w): %w", len(b), ErrBadFrame, err)
	}
	return nil
}

// readFrame reads one length-prefixed frame into a new slice.
func (s *SocketStream) readFrame() ([]byte, error) {
	head, err := s.r.Peek(frameHeader)
	if err != nil {
		if err == io.EOF && len(head) == 0 {
			return nil, io.EOF
		}
		return nil, s.readErr("a frame's length", err)
	}
	n := int64(binary.BigEndian.Uint32(head))
	_, _ = s.r.Discard(frameHeader)
	if n > int64(s.max) {
		return nil, fmt.Errorf("link: the link socket announced a frame of %d bytes, past the %d-byte limit (%w: the peer does not speak the link protocol)", n, s.max, ErrBadFrame)
	}
	// Grow as bytes arrive rather than trust the length with memory.
	b := make([]byte, min(n, readChunk))
	got := 0
	for {
		k, err := io.ReadFull(s.r, b[got:])
		got += k
		if err != nil {
			return nil, s.readErr(fmt.Sprintf("a frame of %d bytes (after %d)", n, got), err)
		}
		if int64(got) == n {
			return b, nil
		}
		more := int(min(n-int64(got), int64(got)))
		b = slices.Grow(b, more)[:got+more]
	}
}

func (s *SocketStream) readErr(what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("link: the link socket ended in the middle of %s (%w)", what, ErrBadFrame)
	}
	return fmt.Errorf("link: reading %s from the link socket: %w", what, err)
}

// CloseWrite ends our side of the stream once what SendMsg wrote is
// sent: the peer's RecvMsg returns io.EOF.
func (s *SocketStream) CloseWrite() error {
	if cw, ok := s.c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return s.c.Close()
}

// Close closes the socket; a blocked RecvMsg returns.
func (s *SocketStream) Close() error { return s.c.Close() }
