package h1

import (
	"errors"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	initialReadBuf = 4 << 10
	flushThreshold = 64 << 10 // flush early once this much output waits
)

const (
	stateActive int32 = iota
	stateIdle
)

// conn is one client connection. Its goroutine (serve) reads, parses and
// dispatches requests. Output ordering:
//
//   - While nqueued == 0 the serve goroutine owns wbuf and the socket's
//     write side and uses them without locking (the fast path).
//   - A detached writer, and every writer after it, waits in the queue
//     head..tail (guarded by mu). Whoever completes the head writer (the
//     serve goroutine or a Finish caller) appends the finished prefix of the
//     queue to wbuf and writes it, holding mu. Only the serve goroutine adds
//     to the queue, so when it reads nqueued == 0 nothing else writes.
//   - A Finish caller never waits for the client: it writes what the socket
//     takes at once, and when more is left (a client that reads slowly or
//     not at all, a large file) it starts a flusher goroutine (flushOut),
//     which owns wbuf and the socket's write side while flushing is set and
//     writes without holding mu. The flusher counts as one queued response,
//     so nqueued stays above zero until it is done. Finish callers are
//     often goroutines that deliver replies for many connections (a
//     plugin's link): one slow client must not hold up the others.
type conn struct {
	srv  *Server
	nc   net.Conn
	rc   syscall.RawConn // nc's, for reads that hold no buffer while idle
	rbuf []byte          // len(rbuf) == cap(rbuf); data is rbuf[r:w]; nil while idle
	r, w int
	wbuf []byte
	// rhold and whold hold rbuf and wbuf when they came from the server's
	// buffer pool; an idle connection gives them back.
	rhold, whold *bufHolder
	readFn       func(fd uintptr) bool // c.rawRead, bound once
	rn           int
	rerr         error
	writeFn      func(fd uintptr) bool // c.rawWrite, bound once
	wn           int
	werr         error
	req          Request
	chk          chunkDecoder
	cur          *ResponseWriter // writer reused for inline answers

	now      time.Time // refreshed after each read
	reqStart time.Time // arrival of the current request's first byte
	rdl, wdl time.Time // deadlines currently set on nc
	sent100  bool
	state    atomic.Int32
	nqueued  atomic.Int32

	mu       sync.Mutex
	head     *ResponseWriter
	tail     *ResponseWriter
	waiting  bool
	flushing bool // a flusher goroutine owns the output (flushOut)
	closing  bool // the flusher closes the connection once it has written all
	drained  chan struct{}
	dead     bool // no more output: the connection is closing or broken
}

func (s *Server) newConn(nc net.Conn) *conn {
	c, ok := s.connPool.Get().(*conn)
	if !ok {
		c = &conn{drained: make(chan struct{}, 1)}
		c.readFn = c.rawRead
		c.writeFn = c.rawWrite
	}
	c.srv = s
	c.nc = nc
	c.rc = nil
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	c.req.RemoteAddr = nc.RemoteAddr()
	c.now = time.Now()
	return c
}

// serve is the connection's goroutine.
func (c *conn) serve() {
	defer c.end()
	cfg := &c.srv.cfg
	for {
		buf := c.rbuf[c.r:c.w]
		if len(buf) > 0 && c.reqStart.IsZero() {
			c.reqStart = c.now
		}
		headLen, err := parseHead(&c.req, buf, cfg.lim)
		if err == errNeedMore {
			if err := c.fill(0); err != nil {
				c.refuseIf(err)
				return
			}
			continue
		}
		if err != nil {
			c.refuseIf(err)
			return
		}
		end := headLen
		switch {
		case c.req.chunked:
			n, err := c.chk.decode(buf[headLen:], cfg.maxBody, cfg.lim)
			if err == errNeedMore {
				c.dropDecoded(headLen)
				if err := c.moreBody(0); err != nil {
					c.refuseIf(err)
					return
				}
				continue
			}
			if err != nil {
				c.refuseIf(err)
				return
			}
			end += n
			c.req.Body = c.chk.body
		case c.req.contentLength > 0:
			cl := c.req.contentLength
			if cl > cfg.maxBody {
				c.refuseIf(errBodyTooLarge)
				return
			}
			if int64(len(buf)-headLen) < cl {
				if err := c.moreBody(headLen + int(cl)); err != nil {
					c.refuseIf(err)
					return
				}
				continue
			}
			c.req.Body = buf[headLen : headLen+int(cl)]
			end += int(cl)
		}
		keep := c.dispatch()
		c.r += end
		c.chk.reset()
		c.sent100 = false
		c.reqStart = time.Time{}
		if !keep {
			return
		}
		// wbuf is ours to look at only while nothing is queued.
		if c.nqueued.Load() == 0 && len(c.wbuf) > flushThreshold {
			if err := c.flush(); err != nil {
				return
			}
		}
	}
}

// dropDecoded removes from the read buffer the chunks of the request's
// body decoded so far, whose data chk holds: the buffer then keeps the head
// and the chunk being read, so that the chunks' framing never counts
// against the body's limit (a body of 1-byte chunks is six times its size
// on the wire).
func (c *conn) dropDecoded(headLen int) {
	if n := c.chk.pos; n > 0 {
		from := c.r + headLen
		c.w = from + copy(c.rbuf[from:], c.rbuf[from+n:c.w])
		c.chk.pos = 0
	}
}

// moreBody sends "100 Continue" when the client waits for it, then reads
// more of the body.
func (c *conn) moreBody(need int) error {
	if c.req.expect && !c.sent100 {
		c.sent100 = true
		if err := c.waitQueue(); err != nil {
			return err
		}
		c.wbuf = append(c.wbuf, "HTTP/1.1 100 Continue\r\n\r\n"...)
	}
	return c.fill(need)
}

// waitQueue waits until no detached response is outstanding and no
// flusher is writing.
func (c *conn) waitQueue() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.head != nil || c.flushing {
		c.waiting = true
		c.mu.Unlock()
		select {
		case <-c.drained:
		case <-c.srv.closed:
			c.mu.Lock()
			return ErrServerClosed
		}
		c.mu.Lock()
	}
	return nil
}

// fill flushes pending output and reads more input, so that at least need
// bytes (and at least one more byte) are buffered from rbuf[r].
func (c *conn) fill(need int) error {
	if err := c.flush(); err != nil {
		return err
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.rbuf == nil {
		c.rhold = c.srv.getBuf()
		c.rbuf = c.rhold.b[:cap(c.rhold.b)]
	}
	have := c.w - c.r
	need = max(need, have+1)
	if c.r+need > len(c.rbuf) {
		if need <= len(c.rbuf) {
			copy(c.rbuf, c.rbuf[c.r:c.w])
		} else {
			if need > c.srv.cfg.maxBuf {
				// Heads are bounded well below maxBuf by the parser, so
				// only a body gets here.
				return errBodyTooLarge
			}
			nb := make([]byte, min(max(2*len(c.rbuf), need), c.srv.cfg.maxBuf))
			copy(nb, c.rbuf[c.r:c.w])
			c.rbuf = nb
			if c.rhold != nil {
				c.srv.putBuf(c.rhold)
				c.rhold = nil
			}
		}
		c.r, c.w = 0, have
	}
	cfg := &c.srv.cfg
	idle := have == 0
	if idle {
		c.state.Store(stateIdle)
		if c.srv.shutdown.Load() {
			return ErrServerClosed
		}
		c.setReadDeadline(c.now.Add(cfg.idleTimeout), cfg.idleTimeout)
		// Let the other runnable goroutines (connections netpoll woke)
		// go first. Under load the client's next request is then
		// usually here by the time this one reads, which saves a read
		// that would find nothing, a park and a netpoll wake-up: per
		// request 1.27 reads instead of 1.96 under wrk -c100 with the
		// server pinned to one core (perf stat), as nginx's edge-
		// triggered loop skips that read. With nothing else runnable it
		// returns at once.
		runtime.Gosched()
	} else {
		c.setReadDeadline(c.reqStart.Add(cfg.readTimeout), cfg.readTimeout)
	}
	n, err := c.read()
	c.state.Store(stateActive)
	c.now = time.Now()
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// read reads into rbuf[w:]. On a socket it reads through the raw
// connection so that, when it would block with nothing buffered, it can
// give its buffers back to the pool first: an idle keep-alive connection
// then holds no buffer at all.
func (c *conn) read() (int, error) {
	if c.rc == nil {
		return c.nc.Read(c.rbuf[c.w:])
	}
	c.rn, c.rerr = 0, nil
	if err := c.rc.Read(c.readFn); err != nil {
		return 0, err
	}
	return c.rn, c.rerr
}

// rawRead is the raw connection's read callback; false means "wait until
// readable and call again".
func (c *conn) rawRead(fd uintptr) bool {
	if c.rbuf == nil {
		c.rhold = c.srv.getBuf()
		c.rbuf = c.rhold.b[:cap(c.rhold.b)]
	}
	for {
		n, err := syscall.Read(int(fd), c.rbuf[c.w:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if c.w == 0 {
				c.releaseBufs()
			}
			return false
		case err != nil:
			c.rerr = err
		case n == 0:
			c.rerr = io.EOF
		default:
			c.rn = n
		}
		return true
	}
}

// releaseBufs gives an idle connection's empty buffers back to the pool.
func (c *conn) releaseBufs() {
	if c.rhold != nil {
		c.srv.putBuf(c.rhold)
		c.rhold = nil
	}
	c.rbuf = nil
	// While responses are queued, wbuf belongs to whoever holds mu.
	if c.nqueued.Load() == 0 && c.whold != nil && len(c.wbuf) == 0 {
		c.whold.b = c.wbuf[:0]
		c.srv.putBuf(c.whold)
		c.whold, c.wbuf = nil, nil
	}
}

// setReadDeadline moves the read deadline to t, skipping the system call
// when the current deadline is already within an eighth of the timeout
// before t (under load the deadline then moves a few times a second, not
// once per request).
func (c *conn) setReadDeadline(t time.Time, timeout time.Duration) {
	if d := t.Sub(c.rdl); d >= 0 && d < timeout/8 {
		return
	}
	c.rdl = t
	c.nc.SetReadDeadline(t)
}

func (c *conn) setWriteDeadline(now time.Time) {
	timeout := c.srv.cfg.writeTimeout
	t := now.Add(timeout)
	if d := t.Sub(c.wdl); d >= 0 && d < timeout/8 {
		return
	}
	c.wdl = t
	c.nc.SetWriteDeadline(t)
}

// flush writes buffered output if the serve goroutine owns it, or if no
// flusher does.
func (c *conn) flush() error {
	if c.nqueued.Load() == 0 {
		return c.writeOut(c.now)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flushing {
		return nil // the flusher writes wbuf
	}
	return c.writeOut(time.Now())
}

// writeOut writes wbuf; the caller owns the output (see conn).
func (c *conn) writeOut(now time.Time) error {
	if len(c.wbuf) == 0 {
		return nil
	}
	if c.dead {
		c.wbuf = c.wbuf[:0]
		return net.ErrClosed
	}
	// The deadline bounds each writeChunk, not the whole buffer: a client
	// that keeps reading is never cut off.
	var err error
	for b := c.wbuf; ; {
		n := min(len(b), writeChunk)
		c.setWriteDeadline(now)
		if _, err = c.nc.Write(b[:n]); err != nil || n == len(b) {
			break
		}
		b, now = b[n:], time.Now()
	}
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.dead = true
	}
	return err
}

// writeChunk is the most bytes written to a client under one write
// deadline (Server's writeTimeout): a client reading at least
// writeChunk/writeTimeout bytes a second keeps its connection.
const writeChunk = 1 << 20

// dispatch runs the handler for c.req and reports whether the connection
// stays open for another request.
func (c *conn) dispatch() bool {
	w := c.cur
	if w == nil {
		w = c.srv.getWriter()
		c.cur = w
	}
	keep := c.req.keepAlive && !c.srv.shutdown.Load()
	w.reset(c, &c.req, !keep)
	w.date = c.srv.dateBytes(c.now)
	w.inServe.Store(true)
	c.invoke(w)
	w.inServe.Store(false)
	if w.detached {
		c.cur = nil
		c.mu.Lock()
		c.enqueueLocked(w)
		c.mu.Unlock()
		return keep
	}
	keep = keep && !w.close
	if c.nqueued.Load() == 0 {
		if c.wbuf == nil {
			c.whold = c.srv.getBuf()
			c.wbuf = c.whold.b[:0]
		}
		c.wbuf = w.appendResponse(c.wbuf, w.date)
		if w.file != nil {
			if err := c.flush(); err != nil {
				w.dropFile()
				return false
			}
			err := c.sendFile(w, c.now)
			w.dropFile()
			if err != nil {
				return false
			}
		}
		return keep && !w.close
	}
	// Earlier responses are still outstanding: queue this one behind them.
	c.cur = nil
	w.out = w.appendResponse(w.out[:0], w.date)
	keep = keep && !w.close
	c.mu.Lock()
	w.done = true
	c.enqueueLocked(w)
	c.mu.Unlock()
	return keep
}

// invoke calls the handler, turning a panic into a 500 that closes the
// connection.
func (c *conn) invoke(w *ResponseWriter) {
	defer func() {
		if p := recover(); p != nil {
			if c.srv.Logger != nil {
				c.srv.Logger.Error("h1: handler panic", "panic", p, "stack", string(debug.Stack()))
			}
			w.reset(c, &c.req, true)
			w.SetStatus(500)
			w.WriteString("internal server error\n")
		}
	}()
	c.srv.Handler.ServeH1(w, &c.req)
}

// enqueueLocked appends w to the response queue and writes out whatever
// became ready. c.mu is held.
func (c *conn) enqueueLocked(w *ResponseWriter) {
	w.queued = true
	if c.tail != nil {
		c.tail.next = w
	} else {
		c.head = w
	}
	c.tail = w
	c.nqueued.Add(1)
	if c.head == w && w.done {
		c.drainLocked(false)
	}
}

// drainLocked moves the finished prefix of the queue into wbuf, in order.
// Called by the serve goroutine (finish unset), it writes when a file or a
// close demands it, and otherwise leaves the bytes in wbuf for its next
// flush. Called by Finish (finish set), it writes only what the socket
// takes without waiting and hands the rest to a flusher (see conn). While
// a flusher runs it does nothing: the flusher takes what is finished.
// c.mu is held.
func (c *conn) drainLocked(finish bool) {
	if c.flushing {
		return
	}
	var now time.Time // for write deadlines, read only when writing
	closing := false
	// nqueued drops only after the last use of wbuf and the socket below:
	// at zero the serve goroutine takes them over without the lock.
	drained := int32(0)
	for c.head != nil && c.head.done {
		w := c.head
		if finish && w.file != nil && !c.dead && !closing {
			break // sendfile waits for the client: the flusher sends it
		}
		c.head = w.next
		if c.head == nil {
			c.tail = nil
		}
		closing = c.put(w, &now, closing)
		drained++
	}
	if finish {
		c.writeNow()
		if len(c.wbuf) > 0 || (c.head != nil && c.head.done) {
			// The client has not taken it all: a flusher waits for it,
			// in place of this goroutine.
			c.flushing, c.closing = true, closing
			c.nqueued.Add(1 - drained)
			go c.flushOut()
			return
		}
	} else if closing && len(c.wbuf) > 0 {
		if now.IsZero() {
			now = time.Now()
		}
		c.writeOut(now)
	}
	if closing {
		// A detached handler asked to close; later responses are dropped
		// and the serve goroutine's read fails.
		c.dead = true
		c.nc.Close()
	}
	c.nqueued.Add(-drained)
	c.signalDrained()
}

// put appends the response of the finished writer w to wbuf, sending its
// file, if any, right after, and recycles w. After a response that closes
// the connection nothing more is written (later bytes would read as part
// of its body): put reports whether the connection closes after w, given
// whether it closed before (closing). now is the time for write deadlines,
// read once when needed. The caller owns the output.
func (c *conn) put(w *ResponseWriter, now *time.Time, closing bool) bool {
	if !c.dead && !closing {
		if c.wbuf == nil {
			c.whold = c.srv.getBuf()
			c.wbuf = c.whold.b[:0]
		}
		c.wbuf = append(c.wbuf, w.out...)
		if w.file != nil {
			if now.IsZero() {
				*now = time.Now()
			}
			if c.writeOut(*now) == nil && c.sendFile(w, *now) != nil {
				c.dead = true
			}
		}
	}
	w.dropFile()
	closing = closing || w.close
	c.srv.putWriter(w)
	return closing
}

// signalDrained wakes a serve goroutine in waitQueue once nothing is
// queued or being flushed. c.mu is held.
func (c *conn) signalDrained() {
	if c.head == nil && !c.flushing && c.waiting {
		c.waiting = false
		select {
		case c.drained <- struct{}{}:
		default:
		}
	}
}

// writeNow writes as much of wbuf as the socket takes without waiting and
// keeps the rest in wbuf. A write error ends the output, as writeOut's
// does. The caller owns the output.
func (c *conn) writeNow() {
	if len(c.wbuf) == 0 {
		return
	}
	if c.dead {
		c.wbuf = c.wbuf[:0]
		return
	}
	if c.rc == nil {
		return // no non-blocking write: the flusher writes it all
	}
	c.wn, c.werr = 0, nil
	err := c.rc.Write(c.writeFn)
	switch {
	case err != nil || (c.werr != nil && c.werr != syscall.EAGAIN):
		c.wbuf = c.wbuf[:0]
		c.dead = true
	case c.wn > 0:
		c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[c.wn:])]
	}
}

// rawWrite is writeNow's callback: one write of wbuf, never a wait.
func (c *conn) rawWrite(fd uintptr) bool {
	for {
		c.wn, c.werr = syscall.Write(int(fd), c.wbuf)
		if c.werr != syscall.EINTR {
			return true // done, or would block: never wait here
		}
	}
}

// flushOut is the flusher: it writes wbuf and the finished prefix of the
// queue, waiting for the client as writeOut does (each writeChunk within
// the write timeout), until nothing finished is left. It holds mu only to
// take writers from the queue, so Finish callers never wait for it.
func (c *conn) flushOut() {
	c.mu.Lock()
	for {
		var first, last *ResponseWriter
		k := int32(0)
		for c.head != nil && c.head.done {
			w := c.head
			c.head = w.next
			if c.head == nil {
				c.tail = nil
			}
			w.next = nil
			if last == nil {
				first = w
			} else {
				last.next = w
			}
			last = w
			k++
		}
		if k == 0 && (len(c.wbuf) == 0 || c.dead) {
			break
		}
		closing := c.closing
		c.mu.Unlock()
		var now time.Time
		for w := first; w != nil; {
			next := w.next
			closing = c.put(w, &now, closing)
			w = next
		}
		c.writeOut(time.Now())
		c.mu.Lock()
		c.closing = closing
		c.nqueued.Add(-k)
	}
	if c.closing && !c.dead {
		c.dead = true
		c.nc.Close()
	}
	c.wbuf = c.wbuf[:0]
	c.flushing, c.closing = false, false
	c.nqueued.Add(-1) // the flusher's own count: the output is the serve goroutine's again
	c.signalDrained()
	c.mu.Unlock()
}

// sendFile sends the large-file body of w after its headers were written.
// Each writeChunk of it gets a write deadline of its own.
func (c *conn) sendFile(w *ResponseWriter, now time.Time) error {
	for off, left := w.fileOff, w.fileLen; left > 0; {
		n := min(left, writeChunk)
		c.setWriteDeadline(now)
		if err := sendFile(c.nc, w.file.f, off, n); err != nil {
			c.dead = true
			return err
		}
		off, left, now = off+n, left-n, time.Now()
	}
	return nil
}

// refuseIf answers a refused request with its status and closes; other
// errors (EOF, timeouts, resets) just end the connection.
func (c *conn) refuseIf(err error) {
	var se *statusError
	if !errors.As(err, &se) {
		return
	}
	if c.waitQueue() != nil {
		return
	}
	w := c.cur
	if w == nil {
		w = c.srv.getWriter()
		c.cur = w
	}
	minor := c.req.Minor
	c.req.reset()
	c.req.Minor = minor
	w.reset(c, &c.req, true)
	w.SetStatus(se.Status)
	w.WriteString(se.Reason)
	w.WriteString("\n")
	c.wbuf = w.appendResponse(c.wbuf, c.srv.dateBytes(c.now))
	if c.flush() == nil {
		c.linger()
	}
}

// linger half-closes the connection and discards what the client is still
// sending (bounded in time and bytes), so that the close does not reset the
// connection before the client has read the error response.
func (c *conn) linger() {
	tc, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || tc.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.CopyN(io.Discard, c.nc, 256<<10)
}

// pokeIfIdle wakes a connection waiting for its next request so that it
// sees the shutdown. Called with srv.mu held.
func (c *conn) pokeIfIdle() {
	if c.state.Load() == stateIdle {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// end runs when serve returns: it waits for detached responses (or for the
// server to close), flushes, closes the socket and recycles the conn.
func (c *conn) end() {
	clean := c.waitQueue() == nil
	c.flush()
	c.nc.Close()
	c.srv.removeConn(c)
	c.srv.wg.Done()
	if !clean {
		return // detached writers may still reference c
	}
	if c.cur != nil {
		c.srv.putWriter(c.cur)
		c.cur = nil
	}
	c.mu.Lock()
	c.dead = false
	c.mu.Unlock()
	c.nc, c.rc = nil, nil
	c.r, c.w = 0, 0
	c.wbuf = c.wbuf[:0]
	c.releaseBufs()
	c.wbuf = nil // an oversized buffer not from the pool goes to the GC
	c.req.reset()
	c.req.RemoteAddr = nil
	c.chk.reset()
	c.sent100 = false
	c.reqStart, c.rdl, c.wdl = time.Time{}, time.Time{}, time.Time{}
	if cap(c.chk.body) > 64<<10 {
		c.chk.body = nil
	}
	select {
	case <-c.drained:
	default:
	}
	c.srv.connPool.Put(c)
}
