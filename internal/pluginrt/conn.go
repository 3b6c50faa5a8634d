package pluginrt

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// Stream is one side of the Link RPC: the gRPC client stream on the host,
// the server stream in the plugin. SendMsg is given *pluginpb.Frame control
// frames and batches the Conn encoded itself, and RecvMsg a frame the Conn
// decodes itself, which only link.Codec handles: the stream must use it.
type Stream interface {
	SendMsg(m any) error
	RecvMsg(m any) error
}

// Link flow-control defaults.
const (
	// DefaultWindow is the number of events a side may send before the
	// peer returns credit.
	DefaultWindow = 16384
	// DefaultQueueLimit bounds the events a Conn holds while waiting for
	// credit; past it Send fails with sdk.ErrQueueFull.
	DefaultQueueLimit = 65536
	// maxBatchBytes bounds the payload bytes gathered into one frame, well
	// under MaxMessageSize.
	maxBatchBytes = 4 << 20
	// StreamWindow is the HTTP/2 flow-control window of the link's
	// connection and stream, so that a whole batch is in flight at once.
	StreamWindow = 8 << 20
	// MaxMessageSize is the largest frame both sides accept.
	MaxMessageSize = 64 << 20
)

// ConnConfig configures a Conn.
type ConnConfig struct {
	// Name names the link in errors ("plugin mt-demo").
	Name string
	// Credit is the number of events the peer lets us send before it
	// returns credit (what its Hello or Ready said).
	Credit uint32
	// Window is the credit we granted the peer; we return credit once a
	// quarter of it has been handed on. Zero means DefaultWindow.
	Window uint32
	// QueueLimit bounds the outbound queue (zero: DefaultQueueLimit).
	QueueLimit int
	// Deliver receives each inbound event, in order, on the reader
	// goroutine. It must not block for long.
	Deliver func(ev *sdk.Event)
	// Delivered, when set, is called on the reader goroutine after the
	// events of each inbound frame went to Deliver, before the reader
	// waits for the next: a Deliver that gathers events (core.Inbox)
	// queues them there.
	Delivered func()
	// Control receives inbound frames that carry no batch (Ready,
	// Defines), on the reader goroutine. May be nil.
	Control func(f *pluginpb.Frame)
	// Failed is called for an event the Conn accepted but could not write
	// (it does not marshal). May be nil.
	Failed func(ev *sdk.Event, err error)
	// CloseSend, when set, is called by the writer after Close, once the
	// queue is flushed (the host's client stream half-close).
	CloseSend func() error
}

// Conn carries events over one Link stream: a writer goroutine gathers
// everything queued into one Batch per write, within the credit the peer
// granted; the reader hands each batch's events to Deliver and returns
// credit. Send never blocks. Over the event socket, an event sent when the
// link has been idle for link.DirectGap is written by Send itself, as a frame
// of its own, with one non-blocking write; what the socket does not take
// at once is finished by the writer.
type Conn struct {
	cfg    ConnConfig
	stream Stream

	mu      sync.Mutex
	queue   []*sdk.Event
	spare   []*sdk.Event
	ctrl    []*pluginpb.Frame
	credit  uint32 // events we may still send
	grant   uint32 // credit earned by the peer, not yet returned
	closing bool
	dead    error // set when the stream failed
	// busy: a goroutine is writing to the stream, the writer or a Send
	// writing its event directly; left: a direct write left part of its
	// frame, which the writer sends before anything else.
	busy, left bool
	// writing: the events of the write in progress while busy, which are
	// taken from queue but not written yet (see Queued).
	writing int
	// started: Run has started the writer. Before, Send only queues: the
	// frames queued with SendControl (the plugin's Ready) go first.
	started   bool
	lastWrite int64 // Nanotime the last write ended, under mu
	wake      chan struct{}
	done      chan struct{}
	doneOnce  sync.Once

	fw     frameWriter // the stream's writer's (whoever holds busy)
	direct tryStream   // nil: the stream cannot write without waiting
}

// tryStream is a Stream that can write a frame on the caller's goroutine
// without waiting for the peer (SocketStream): what the socket does not
// take at once is kept, and Flush writes it.
type tryStream interface {
	TrySendMsg(m any) (left bool, err error)
	Flush() error
}

// ErrConnClosed is returned by Send after the link closed.
var ErrConnClosed = errors.New("pluginrt: link closed")

// NewConn returns a Conn over s. Call Run to start it.
func NewConn(s Stream, cfg ConnConfig) *Conn {
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = DefaultQueueLimit
	}
	c := &Conn{cfg: cfg, stream: s, credit: cfg.Credit,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.direct, _ = s.(tryStream)
	return c
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Send queues ev for the peer. It fails with a *sdk.DeliveryError
// (ErrQueueFull, ErrLinkLost) when the event cannot be queued; ownership of
// ev passes to the Conn only on success. An accepted event is then written,
// handed to ConnConfig.Failed, or returned by Abandoned: never dropped.
func (c *Conn) Send(ev *sdk.Event) error {
	c.mu.Lock()
	if c.dead != nil || c.closing {
		c.mu.Unlock()
		return &sdk.DeliveryError{Code: sdk.CodeLinkLost, Message: c.cfg.Name + ": link closed"}
	}
	if len(c.queue) >= c.cfg.QueueLimit {
		c.mu.Unlock()
		return &sdk.DeliveryError{Code: sdk.CodeQueueFull,
			Message: fmt.Sprintf("%s: %d events wait for the plugin to take them", c.cfg.Name, len(c.queue))}
	}
	first := len(c.queue) == 0
	if first && c.started && c.direct != nil && !c.busy && !c.left && len(c.ctrl) == 0 && c.credit > 0 {
		if now := link.Nanotime(); now-c.lastWrite > int64(link.DirectGap) {
			c.busy, c.writing = true, 1
			c.credit--
			grant := c.grant
			c.grant = 0
			c.mu.Unlock()
			c.writeDirect(ev, grant)
			return nil
		}
	}
	c.queue = append(c.queue, ev)
	c.mu.Unlock()
	if first {
		c.signal()
	}
	return nil
}

// writeDirect writes ev, with the credit grant to return, as a frame of
// its own on the caller's goroutine; the caller set busy. An event that
// does not encode is queued for the writer, which answers it as it does
// any other (Failed), on its own goroutine rather than the sender's.
func (c *Conn) writeDirect(ev *sdk.Event, grant uint32) {
	w := &c.fw
	if w.buf == nil {
		w.reset()
	}
	n, err := w.add(ev)
	if err == nil && n > MaxMessageSize/2 {
		w.drop(n)
		err = c.tooBig(n)
	}
	if err != nil {
		c.mu.Lock()
		c.credit++
		c.grant += grant
		c.queue = append(c.queue, ev)
		c.release()
		return
	}
	left, err := c.direct.TrySendMsg(w.frame(grant))
	c.mu.Lock()
	if err != nil {
		if c.dead == nil {
			c.dead = err
		}
		// Not known to be written: Abandoned answers it.
		c.queue = slices.Insert(c.queue, 0, ev)
		c.spare = nil
	}
	c.left = left
	c.release()
}

// release ends a direct write: it clears busy, unlocks c.mu (held by the
// caller) and wakes the writer, which did not write while busy was set.
func (c *Conn) release() {
	c.busy, c.writing = false, 0
	c.lastWrite = link.Nanotime()
	c.mu.Unlock()
	c.signal()
}

// SendControl queues a frame without events (Hello, Ready, Defines); it is
// written before any queued event.
func (c *Conn) SendControl(f *pluginpb.Frame) error {
	c.mu.Lock()
	if c.dead != nil || c.closing {
		c.mu.Unlock()
		return ErrConnClosed
	}
	c.ctrl = append(c.ctrl, f)
	c.mu.Unlock()
	c.signal()
	return nil
}

// Queued returns the number of events not written yet: queued, or taken
// by a write still in progress.
func (c *Conn) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) + c.writing
}

// Close asks the writer to flush what is queued and half-close the stream
// (when CloseSend is set). Run returns once the peer ends its side.
func (c *Conn) Close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.signal()
}

// Run runs the writer on a goroutine it owns and the reader on the calling
// goroutine. It returns when the stream ends, after the writer has stopped;
// the error is the reader's (io.EOF for a clean end).
func (c *Conn) Run() error {
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	err := c.readLoop()
	c.mu.Lock()
	if c.dead == nil {
		c.dead = err
	}
	c.mu.Unlock()
	c.doneOnce.Do(func() { close(c.done) })
	wg.Wait()
	return err
}

// Abandoned returns the events the Conn accepted but never wrote: those
// still queued when Run returned, and those taken for a write that failed.
// The owner of the Conn must call it once Run has returned and fail each
// event (router.Router.Fail: an error event to a request's sender, a
// counted and logged drop for the rest), or they are lost without a word.
// Send refuses events once Run has returned, so the list is complete. It
// empties the queue.
func (c *Conn) Abandoned() []*sdk.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

func (c *Conn) readLoop() error {
	in := new(inFrame)
	alloc := new(sdk.EventAlloc) // events in blocks, payload types looked up once per run of a type
	for {
		if err := c.stream.RecvMsg(in); err != nil {
			return err
		}
		envs, credit := in.batch.Envelopes(), in.batch.Credit()
		if f := in.full; f != nil {
			b := f.GetBatch()
			if b == nil {
				if c.cfg.Control != nil {
					c.cfg.Control(f)
				}
				continue
			}
			envs, credit = b.Envelopes, b.Credit
		}
		if credit > 0 {
			c.mu.Lock()
			c.credit += credit
			c.mu.Unlock()
			c.signal()
		}
		if f := in.full; f != nil && (f.Hello != nil || f.Ready != nil || len(f.Defines) > 0) {
			if c.cfg.Control != nil {
				c.cfg.Control(f)
			}
		}
		n := 0
		for _, env := range envs {
			n++
			ev, err := alloc.FromEnvelope(env)
			if err != nil {
				// A malformed envelope has no trustworthy route to answer;
				// hand the peer's code path an error event it can count.
				de, _ := err.(*sdk.DeliveryError)
				ev = &sdk.Event{Kind: sdk.KindError, ID: env.GetId(), Err: de}
			}
			c.cfg.Deliver(ev)
		}
		if n > 0 && c.cfg.Delivered != nil {
			c.cfg.Delivered()
		}
		if n > 0 {
			c.mu.Lock()
			c.grant += uint32(n)
			wake := c.grant >= c.cfg.Window/4
			c.mu.Unlock()
			if wake {
				c.signal()
			}
		}
	}
}

func (c *Conn) writeLoop() {
	var batch []*sdk.Event
	for {
		c.mu.Lock()
		for {
			if c.dead != nil {
				c.mu.Unlock()
				return
			}
			if c.busy {
				// A Send is writing directly; it signals when done.
			} else if c.left || len(c.ctrl) > 0 || (len(c.queue) > 0 && c.credit > 0) || c.grant >= c.cfg.Window/4 {
				break
			} else if c.closing && len(c.queue) == 0 {
				c.closing = false // close once
				c.dead = ErrConnClosed
				c.mu.Unlock()
				if c.cfg.CloseSend != nil {
					_ = c.cfg.CloseSend()
				}
				return
			}
			c.mu.Unlock()
			select {
			case <-c.wake:
			case <-c.done:
			}
			c.mu.Lock()
		}
		ctrl := c.ctrl
		c.ctrl = nil
		n := min(len(c.queue), int(c.credit))
		batch = append(batch[:0], c.queue[:n]...)
		// Keep the unsent tail; swap buffers so appends do not reallocate.
		if n == len(c.queue) {
			c.queue, c.spare = c.spare[:0], c.queue[:0]
		} else {
			// Credit ran out first: the tail moves to the spare array,
			// and the emptied queue array becomes the spare (cleared, so
			// that it pins no event), rather than both being dropped and
			// the queue growing again from nothing under a producer that
			// keeps ahead of the peer's credit.
			rest := append(c.spare[:0], c.queue[n:]...)
			clear(c.queue)
			c.queue, c.spare = rest, c.queue[:0]
		}
		c.credit -= uint32(n)
		grant := c.grant
		c.grant = 0
		left := c.left
		c.busy, c.left, c.writing = true, false, n
		c.mu.Unlock()

		err := c.writeOut(left, ctrl, batch, grant)
		c.mu.Lock()
		c.busy, c.writing = false, 0
		c.lastWrite = link.Nanotime()
		c.mu.Unlock()
		if err != nil {
			return
		}
		clear(batch)
	}
}

// writeOut writes, in order, what a direct write left, the control
// frames and the batch; on failure it has recorded the error (fail).
func (c *Conn) writeOut(left bool, ctrl []*pluginpb.Frame, batch []*sdk.Event, grant uint32) error {
	if left {
		if err := c.direct.Flush(); err != nil {
			c.fail(err, batch)
			return err
		}
	}
	for _, f := range ctrl {
		if err := c.stream.SendMsg(f); err != nil {
			c.fail(err, batch)
			return err
		}
	}
	if len(batch) == 0 && grant == 0 {
		return nil
	}
	if unsent, err := c.writeBatch(batch, grant); err != nil {
		c.fail(err, unsent)
		return err
	}
	return nil
}

// writeBatch writes events as frames of at most about maxBatchBytes, each
// event encoded straight into the frame (sdk.EnvelopeEncoder). On a
// failed write it returns the events not known to be written (those of the
// failed frame and after it). It may overwrite evs.
func (c *Conn) writeBatch(evs []*sdk.Event, grant uint32) (unsent []*sdk.Event, err error) {
	w := &c.fw
	if w.buf == nil {
		w.reset()
	}
	from := 0 // evs[from:] are not written yet
	failed := func(err error) ([]*sdk.Event, error) {
		// Events handed to Failed already are answered; skip them.
		for _, ev := range evs[from:] {
			if ev != nil {
				unsent = append(unsent, ev)
			}
		}
		return unsent, err
	}
	for i, ev := range evs {
		n, err := w.add(ev)
		if err == nil && n > MaxMessageSize/2 {
			w.drop(n)
			err = c.tooBig(n)
		}
		if err != nil {
			evs[i] = nil
			if c.cfg.Failed != nil {
				c.cfg.Failed(ev, err)
			}
			continue
		}
		if w.size() >= maxBatchBytes {
			// SendMsg takes the frame's buffer over, even when it fails.
			if err := c.stream.SendMsg(w.frame(grant)); err != nil {
				return failed(err)
			}
			grant = 0
			from = i + 1
		}
	}
	if !w.empty() || grant > 0 {
		if err := c.stream.SendMsg(w.frame(grant)); err != nil {
			return failed(err)
		}
	}
	return nil, nil
}

func (c *Conn) tooBig(n int) error {
	return &sdk.DeliveryError{Code: sdk.CodeBadEvent,
		Message: fmt.Sprintf("%s: event of %d bytes is larger than a link frame may be", c.cfg.Name, n)}
}

// fail records that the stream failed and puts unsent, the events taken
// for the failed write, back at the head of the queue for Abandoned.
func (c *Conn) fail(err error, unsent []*sdk.Event) {
	c.mu.Lock()
	if c.dead == nil {
		c.dead = err
	}
	if len(unsent) > 0 {
		c.queue = slices.Concat(unsent, c.queue)
		c.spare = nil
	}
	c.mu.Unlock()
}
