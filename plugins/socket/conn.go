package socket

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/proto/socketpb"
	"github.com/mtnode/mtnode/sdk"
)

// conn is one TCP connection: a reader goroutine that turns bytes into Data
// events within the credit window, and a writer goroutine that drains the
// out buffer.
//
// Events to the owner are sent holding emitMu (see emit), never mu: an
// owner registered Inline runs its handler inside that send, for as long
// as it likes, and the service goroutine (Write, Ack, Close) must not wait
// for it. The two locks are never held together.
type conn struct {
	s      *Service
	id     uint64
	nc     net.Conn
	owner  *sdk.Event // the Listen or Connect: events go back along its route
	window int64

	emitMu sync.Mutex
	done   bool // Closed was sent; guarded by emitMu

	mu         sync.Mutex
	credit0    *sync.Cond // the reader waits here for credit
	unacked    int64
	out        []byte // queued, not yet handed to the writer
	spare      []byte
	queued     int64 // bytes queued and not yet written
	wrote      bool  // bytes written since the last Drained
	closeAfter bool
	closing    bool   // no more reading or writing
	reason     string // why it is closing, when decided before the reader saw it
	wake       chan struct{}
}

// newConn registers a connection; nil when the service is stopping (nc is
// closed then).
func (s *Service) newConn(nc net.Conn, owner *sdk.Event, window int64) *conn {
	c := &conn{s: s, id: s.nextID.Add(1), nc: nc, owner: owner, window: window, wake: make(chan struct{}, 1)}
	c.credit0 = sync.NewCond(&c.mu)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		nc.Close()
		return nil
	}
	s.conns[c.id] = c
	s.wg.Add(2)
	return c
}

// run starts the reader and writer goroutines.
func (c *conn) run() {
	go c.reader()
	go c.writer()
}

func (c *conn) reader() {
	defer c.s.wg.Done()
	buf := make([]byte, c.s.readBufSize)
	reason := ""
	paused := false
	for {
		c.mu.Lock()
		for c.unacked >= c.window && !c.closing {
			if !paused {
				paused = true
				unacked := c.unacked
				c.mu.Unlock()
				c.emit(&socketpb.ReadPaused{ConnId: c.id, Unacked: unacked})
				c.mu.Lock()
				continue // credit may have come meanwhile
			}
			c.credit0.Wait()
		}
		paused = false
		room := c.window - c.unacked
		closing := c.closing
		c.mu.Unlock()
		if closing {
			break
		}
		n, err := c.nc.Read(buf[:min(int64(len(buf)), room)])
		if n > 0 {
			data := make([]byte, n)
			copy(data, buf[:n])
			c.mu.Lock()
			c.unacked += int64(n)
			c.mu.Unlock()
			if why := c.offer(&socketpb.Data{ConnId: c.id, Data: data}); why != "" {
				reason = why
				break
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				reason = "eof"
			} else {
				reason = err.Error()
			}
			break
		}
	}
	c.finish(reason)
}

// emit sends msg to the owner, unless Closed was sent: Closed is always
// the last event.
func (c *conn) emit(msg proto.Message) {
	c.emitMu.Lock()
	if !c.done {
		c.s.h.ReplyTo(c.owner, msg)
	}
	c.emitMu.Unlock()
}

// Backoff bounds for offering an event the owner's queue refused.
const (
	offerRetryMin = time.Millisecond
	offerRetryMax = 100 * time.Millisecond
)

// offer hands msg (Accepted, Connected, Data) to the owner. A refusal
// because a queue is full (the owner's, past its limit and reserve, or a
// link's on the way) loses nothing: the caller's goroutine keeps the event
// and does no more work for this connection (the reader reads no more, which
// pushes back on the peer; an accept loop accepts no more) while offer tries
// again with backoff, until the owner takes it or the connection closes. Any
// other refusal means the owner cannot be reached: offer returns the reason
// to close the connection with.
func (c *conn) offer(msg proto.Message) (closeReason string) {
	wait := offerRetryMin
	for held := false; ; held = true {
		c.emitMu.Lock()
		var err error
		if !c.done {
			err = c.s.h.TryReplyTo(c.owner, msg)
		}
		c.emitMu.Unlock()
		if err == nil {
			if held {
				c.s.h.Logger().Info("socketio: the owner took the held event; connection resumed", "conn", c.id)
			}
			return ""
		}
		if !errors.Is(err, sdk.ErrQueueFull) {
			return "owner unreachable: " + err.Error()
		}
		if !held {
			c.s.h.Logger().Warn("socketio: owner's queue is full; holding the event and pausing the connection until the owner takes it",
				"conn", c.id, sdk.KeyEvent, string(proto.MessageName(msg)))
		}
		time.Sleep(wait)
		wait = min(2*wait, offerRetryMax)
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			return "" // the reason is already set
		}
	}
}

// finish unregisters, sends Closed (once) and closes the socket.
func (c *conn) finish(reason string) {
	c.mu.Lock()
	if c.reason != "" {
		reason = c.reason
	}
	c.closing = true
	c.mu.Unlock()
	// Unregister before Closed goes out, so that an owner's Write or Close
	// sent after it sees Closed is told the connection is gone, not that
	// it is closing.
	c.s.mu.Lock()
	delete(c.s.conns, c.id)
	c.s.mu.Unlock()
	c.emitMu.Lock()
	if !c.done {
		c.done = true
		c.s.h.ReplyTo(c.owner, &socketpb.Closed{ConnId: c.id, Reason: reason})
	}
	c.emitMu.Unlock()
	c.nc.Close()
	c.signal()
}

func (c *conn) writer() {
	defer c.s.wg.Done()
	for range c.wake {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return
		}
		buf := c.out
		c.out, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		if len(buf) > 0 {
			if _, err := c.nc.Write(buf); err != nil {
				c.abort("write: " + err.Error())
				return
			}
		}
		c.mu.Lock()
		c.queued -= int64(len(buf))
		c.wrote = c.wrote || len(buf) > 0
		if c.spare == nil && cap(buf) <= 1<<20 {
			c.spare = buf[:0]
		}
		if len(c.out) > 0 {
			c.mu.Unlock()
			c.signal()
			continue
		}
		drained := c.wrote
		c.wrote = false
		closeNow := c.closeAfter
		c.mu.Unlock()
		if drained {
			c.emit(&socketpb.Drained{ConnId: c.id})
		}
		if closeNow {
			c.abort("closed")
			return
		}
	}
}

// queue appends data to the out buffer (and asks for a close after it).
func (c *conn) queue(data []byte, closeAfter bool) error {
	c.mu.Lock()
	if c.closing || c.closeAfter {
		c.mu.Unlock()
		return fmt.Errorf("socketio: connection %d is closing", c.id)
	}
	if c.queued+int64(len(data)) > c.s.maxOut {
		queued := c.queued
		c.mu.Unlock()
		c.abort("write buffer overflow")
		return fmt.Errorf("socketio: write of %d bytes to connection %d would pass SocketIO.maxOutBufferSize (%d bytes, %d queued); the connection is closed",
			len(data), c.id, c.s.maxOut, queued)
	}
	c.out = append(c.out, data...)
	c.queued += int64(len(data))
	c.closeAfter = closeAfter
	c.mu.Unlock()
	c.signal()
	return nil
}

// credit returns n bytes of read window.
func (c *conn) credit(n int64) {
	c.mu.Lock()
	c.unacked = max(c.unacked-n, 0)
	c.credit0.Signal()
	c.mu.Unlock()
}

// abort closes the connection now; the reader then sends Closed with
// reason (unless another reason came first).
func (c *conn) abort(reason string) {
	c.mu.Lock()
	if c.reason == "" {
		c.reason = reason
	}
	c.closing = true
	c.credit0.Broadcast()
	c.mu.Unlock()
	c.nc.Close()
	c.signal()
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
