package link

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

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
	sr    spinReader
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
	s := &SocketStream{c: c, w: bufio.NewWriterSize(c, socketBuffer), max: limit, raw: newRawWriter(c)}
	s.sr = spinReader{c: c, raw: newRawReader(c)}
	s.r = bufio.NewReaderSize(&s.sr, socketBuffer)
	return s
}

// SetSpin makes the stream's reader poll the socket for up to d before it
// parks to wait for the next frame, yielding to other goroutines between
// polls, while frames keep coming (the last arrived within d). Waking a
// parked reader goes through the kernel's poller and a thread wake-up:
// tens of µs on a small VM, most of a node-plugin round trip. A link's
// request/reply exchange mostly finds its answer within the window.
//
// The cost is CPU the process would otherwise leave idle: up to d after a
// frame no other follows soon. Spins that end empty are paid from a
// budget that refills at 1/spinShare of the time passing (up to spinBurst
// windows), and the reader does not spin while the budget is short of a
// window. Frames that come just too far apart to be caught thus cost about
// 1/spinShare of a core at most, not all of it, while an exchange that
// misses the window now and then (a busy machine) keeps spinning. At most
// half the process's Ps spin at once (spinners).
//
// Spinning is a trade, so it is off (0) unless configured. A spinning
// goroutine keeps a runnable goroutine in the scheduler's queue, and Go
// looks at the network poller only when its queues are empty: while one
// spins, other goroutines waiting on sockets are found ready later (up to
// d). Measured on a 2-core VM: a plugin service's round trip went from
// 100-160 µs to 21-31 µs at p50, queued or Inline, but only with both ends
// spinning (one end alone: 70-110 µs); relay hops between four nodes in
// one process got slower (hops=2: 390-430 µs against 125-175). Call it
// before the first RecvMsg.
func (s *SocketStream) SetSpin(d time.Duration) {
	s.sr.spin = max(0, int64(d))
	s.sr.budget = spinBurst * s.sr.spin
}

// The budget of empty spins: the share of elapsed time it refills at
// (1/spinShare), and its ceiling in spin windows.
const (
	spinShare = 8
	spinBurst = 8
)

// rawReader reads a socket without waiting: ok is false when nothing was
// there to read.
type rawReader interface {
	tryRead(b []byte) (n int, ok bool, err error)
}

// spinReader is what a SocketStream's buffered reader reads from.
type spinReader struct {
	c      net.Conn
	raw    rawReader    // nil: no spinning
	spin   int64        // nanoseconds; 0: no spinning
	last   int64        // nanotime of the last bytes read
	budget int64        // nanoseconds of empty spinning it may still spend
	filled int64        // nanotime the budget was last refilled
	clock  func() int64 // tests' clock; nil: Nanotime
}

func (r *spinReader) now() int64 {
	if r.clock != nil {
		return r.clock()
	}
	return Nanotime()
}

func (r *spinReader) Read(b []byte) (int, error) {
	if r.spin == 0 || r.raw == nil {
		return r.c.Read(b)
	}
	now := r.now()
	r.budget = min(r.budget+(now-r.filled)/spinShare, spinBurst*r.spin)
	r.filled = now
	if now-r.last < r.spin && r.budget >= r.spin && startSpin() {
		for end := now + r.spin; ; {
			n, ok, err := r.raw.tryRead(b)
			if ok || err != nil {
				spinners.Add(-1)
				r.last = r.now()
				return n, err
			}
			if t := r.now(); t > end {
				spinners.Add(-1)
				r.budget -= t - now
				break
			}
			runtime.Gosched()
		}
	}
	n, err := r.c.Read(b)
	r.last = r.now()
	return n, err
}

// spinners counts the readers of the process spinning now: the limit is
// on the process's CPUs, so it is the process's, as GOMAXPROCS is.
var spinners atomic.Int32

// startSpin takes one of the process's spinning slots: half its Ps, at
// least one. More spinners than that would hold the Ps (and cores) the
// goroutines they wait for need.
func startSpin() bool {
	if n := spinners.Add(1); int(n) > max(1, runtime.GOMAXPROCS(0)/2) {
		spinners.Add(-1)
		return false
	}
	return true
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
		return fmt.Errorf("link: a link frame of %d bytes is larger than the %d-byte frame limit (a node link's RPC.maxMessage)", n, s.max)
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
		return false, fmt.Errorf("link: a link frame of %d bytes is larger than the %d-byte frame limit (a node link's RPC.maxMessage)", n, s.max)
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
// wraps ErrBadFrame, or is the socket's error. When nothing is buffered it
// yields once before it reads, spinning or not (see below).
func (s *SocketStream) RecvMsg(m any) error {
	if s.r.Buffered() == 0 {
		// Yield before waiting: what the caller did with the last frame
		// (a service or a blocked caller woken) runs on this P now.
		// Reading first would enter a system call, during which the idle
		// thread the wake-up started would take that goroutine to the
		// other core, waking the core from sleep. Measured on a 2-core VM:
		// a queued plugin service's round trip with spinning went from
		// 65-130 µs to 24-28 µs, and a relay hop between nodes in one
		// process (no spinning) from 53-67 µs to 24-30 µs at p50.
		runtime.Gosched()
	}
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
		return nil, fmt.Errorf("link: the link socket announced a frame of %d bytes, past the %d-byte limit of this side (a node link's RPC.maxMessage): the peer did not keep to it, or does not speak the link protocol (%w)", n, s.max, ErrBadFrame)
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
