package link

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mtnode/mtnode/sdk"
)

// Outbox is the bounded FIFO of events waiting for a link's writer. Any
// goroutine may Push; one goroutine runs WriteLoop.
//
// When WriteLoop writes to a stream that can write without waiting (a
// DirectSender: SocketStream), a Push to a link that has been idle for
// DirectGap writes its event itself, as a frame of its own, with one
// non-blocking system call: no wake-up of the writer goroutine, which on
// a relay hop is two hand-offs fewer (request and reply). What the socket
// does not take at once, the writer sends first when it next runs; Push
// never waits. A busy link is left to the writer, which batches.
//
// Over gRPC this was tried and measured worse: SendMsg only queues the
// batch for gRPC's own writer goroutine, so no hand-off is saved, and the
// pusher leaves the idle thread the wake-up started to go back to sleep.
type Outbox struct {
	mu    sync.Mutex
	q     []*sdk.Event
	limit int
	err   error // set by Close
	held  bool  // between Hold and Release
	wake  chan struct{}
	full  sdk.DeliveryError // template of the queue-full error

	// Direct writes (WriteLoop sets direct while it runs).
	direct    DirectSender
	busy      bool                // WriteLoop or a direct write has the stream
	left      bool                // a direct write left part of its frame for the writer
	broken    error               // a direct write failed: WriteLoop ends with it
	lastWrite int64               // Nanotime the last write ended
	maxFrame  int                 // Limits.MaxFrame of the WriteLoop that set direct
	enc       sdk.EnvelopeEncoder // a direct write's
}

// DirectSender is a Sender that can also write on the caller's goroutine
// without waiting (SocketStream): TrySendMsg writes what the socket takes
// at once and keeps the rest, which Flush (or the next SendMsg) writes.
type DirectSender interface {
	Sender
	TrySendMsg(m any) (left bool, err error)
	Flush() error
}

// DirectGap is how long a link must have been idle for a send to write
// its event itself rather than wake the writer goroutine (Outbox.Push
// here, pluginrt's Conn.Send on plugin links). A lone event (a request, a
// reply) then costs no goroutine switch, which on a small machine is a
// good part of a round trip; events that follow each other closer than
// this are gathered into batches by the writer, one system call for many.
const DirectGap = 20 * time.Microsecond

// clockBase is where Nanotime counts from.
var clockBase = time.Now()

// Nanotime returns nanoseconds on the monotonic clock alone (time.Since's
// fast path), without the wall clock time.Now reads too: cheap enough for
// a link's per-event bookkeeping.
func Nanotime() int64 { return int64(time.Since(clockBase)) }

// NewOutbox returns an outbox that holds at most limit events.
func NewOutbox(limit int) *Outbox {
	if limit < 1 {
		limit = 1
	}
	return &Outbox{limit: limit, wake: make(chan struct{}, 1),
		full: sdk.DeliveryError{Code: sdk.CodeQueueFull,
			Message: fmt.Sprintf("link: %d events already wait for the link writer (raise RPC.maxPending or slow down)", limit)}}
}

// Push queues ev for the writer. It fails with an ErrQueueFull
// *sdk.DeliveryError when the outbox is at its limit, and with the error
// given to Close once the outbox is closed.
func (o *Outbox) Push(ev *sdk.Event) error {
	o.mu.Lock()
	if o.err != nil {
		err := o.err
		o.mu.Unlock()
		return err
	}
	if len(o.q) >= o.limit {
		o.mu.Unlock()
		full := o.full // a copy: the router fills in the event's details
		return &full
	}
	if len(o.q) == 0 && o.direct != nil && !o.busy && !o.held && !o.left && o.broken == nil {
		if now := Nanotime(); now-o.lastWrite > int64(DirectGap) {
			o.busy = true
			d, maxFrame := o.direct, o.maxFrame // read under the lock: WriteLoop's end clears them
			o.mu.Unlock()
			return o.writeDirect(d, maxFrame, ev)
		}
	}
	o.q = append(o.q, ev)
	wake := len(o.q) == 1 && !o.held || len(o.q) == holdMax
	o.mu.Unlock()
	if wake {
		o.wakeUp()
	}
	return nil
}

// writeDirect writes ev to d as a batch of its own on the caller's
// goroutine; the caller set busy. An event that does not encode, or is too
// large for a frame, is queued for the writer, which answers it as it does
// any other (WriteLoop's bad). When the socket fails, ev was not written:
// Push returns the error, so that its caller fails ev, and the writer ends
// the link with it.
func (o *Outbox) writeDirect(d DirectSender, maxFrame int, ev *sdk.Event) error {
	// Encoded straight into a pool buffer, as WriteLoop does: the pool
	// takes back a buffer the event grew past its class.
	buf := bufPool.Get(1 << minClass)
	b := protowire.AppendTag((*buf)[:0], 1, protowire.BytesType) // Batch.envelopes
	b, err := o.enc.Append(b, ev, false)
	if err == nil && maxFrame > 0 && len(b) > maxFrame {
		err = TooLarge(len(b), maxFrame)
	}
	var werr error
	if err == nil {
		*buf = b
		var left bool
		left, werr = d.TrySendMsg(NewEncoded(buf))
		o.mu.Lock()
		o.left = left
		if werr != nil {
			o.broken = werr
		}
	} else {
		bufPool.Put(buf)
		o.mu.Lock()
		if o.err != nil {
			werr = o.err
		} else {
			o.q = append(o.q, ev)
		}
	}
	o.busy = false
	o.lastWrite = Nanotime()
	wake := len(o.q) > 0 || o.left || o.broken != nil
	o.mu.Unlock()
	if wake {
		o.wakeUp()
	}
	if werr != nil {
		if de, ok := werr.(*sdk.DeliveryError); ok {
			return de
		}
		return &sdk.DeliveryError{Code: sdk.CodeLinkLost, Message: werr.Error()}
	}
	return nil
}

// holdMax is how many events a held outbox gathers before it wakes the
// writer all the same, so that a long burst is written while it grows.
const holdMax = 256

// Hold keeps pushes from waking the writer until Release: a link's reader
// holds its outbox while it hands the node one received batch, so the
// replies its Inline services push meanwhile leave in one batch, after one
// wake-up of the writer, rather than one each (each wake-up of a parked
// writer also wakes an idle thread: a futex call). Pushes from other
// goroutines wait no longer than the batch takes, or until holdMax events
// are queued. Hold and Release are for one goroutine at a time.
func (o *Outbox) Hold() {
	o.mu.Lock()
	o.held = true
	o.mu.Unlock()
}

// Release ends Hold, waking the writer if events are queued.
func (o *Outbox) Release() {
	o.mu.Lock()
	o.held = false
	n := len(o.q)
	o.mu.Unlock()
	if n > 0 {
		o.wakeUp()
	}
}

// wakeUp wakes the writer, if it is not awake already.
func (o *Outbox) wakeUp() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Len returns the number of queued events.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q)
}

// Idle reports whether everything pushed has been written: nothing is
// queued, no write is under way and no direct write left part of a frame.
func (o *Outbox) Idle() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q) == 0 && !o.busy && !o.left
}

// Close refuses further pushes with err and returns the events that were
// still queued, which the caller now owns.
func (o *Outbox) Close(err error) []*sdk.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
	q := o.q
	o.q = nil
	return q
}

// take returns the queued events and gives the outbox done (the slice the
// writer finished with) to fill next, so the two slices alternate. It
// marks the stream busy; ok is false when a direct write has it, and the
// writer waits for the wake-up that write ends with. left reports a frame
// a direct write left unfinished; broken, the error it failed with.
func (o *Outbox) take(done []*sdk.Event) (q []*sdk.Event, left bool, broken error, ok bool) {
	clear(done)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy {
		return nil, false, nil, false
	}
	q = o.q
	o.q = done[:0]
	left, broken = o.left, o.broken
	o.left = false
	o.busy = true
	return q, left, broken, true
}

// wrote ends a write of WriteLoop.
func (o *Outbox) wrote() {
	o.mu.Lock()
	o.busy = false
	o.lastWrite = Nanotime()
	o.mu.Unlock()
}

// setDirect turns direct writes to s on (nil: off), for frames of at most
// maxFrame bytes (0: no limit).
func (o *Outbox) setDirect(s DirectSender, maxFrame int) {
	o.mu.Lock()
	o.direct, o.maxFrame = s, maxFrame
	o.mu.Unlock()
}

// Sender writes one message on a stream: grpc.ClientStream and
// grpc.ServerStream are Senders. WriteLoop hands it batches already in wire
// form, which only Codec marshals, so the stream must use Codec.
type Sender interface {
	SendMsg(m any) error
}

// Limits bound what a writer puts in one batch.
type Limits struct {
	MaxBatch int // envelopes per batch (default 1024)
	MaxBytes int // encoded bytes per batch (default 4 MiB; one event may go past it)
	// MaxFrame is the hard limit of a batch, in encoded bytes: the most the
	// receiver accepts (0: none). A batch never goes past it, and an event
	// too large for it alone is passed to WriteLoop's bad (an error event
	// to its sender) instead of ending the link.
	MaxFrame int
}

// ForPeer returns l with MaxFrame set for a link between a side that
// accepts frames of up to own bytes and a peer that said, in its Hello,
// that it accepts up to peer (0: it did not say, so own is assumed): the
// smaller of the two, since a frame past either end's limit would end the
// link.
func (l Limits) ForPeer(own int, peer uint64) Limits {
	l.MaxFrame = own
	if peer > 0 && peer < uint64(own) {
		l.MaxFrame = int(peer)
	}
	return l
}

// TooLarge is the error of an event that, encoded, is larger than a
// link's frame limit on its own.
func TooLarge(size, limit int) error {
	return fmt.Errorf("link: the event is %d bytes encoded, more than the %d bytes a link frame may hold (the receiver's RPC.maxMessage): send less per event, or raise RPC.maxMessage on both nodes", size, limit)
}

func (l Limits) withDefaults() Limits {
	if l.MaxBatch <= 0 {
		l.MaxBatch = 1024
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 4 << 20
	}
	return l
}

// Encoded is a message already in wire form, in a buffer of BufferPool:
// a batch WriteLoop encoded, or a plugin link's frame. Codec.Marshal hands
// the buffer to gRPC, which returns it to the pool once written, so
// SendMsg(e) takes the buffer over, even when it fails.
type Encoded struct {
	buf *[]byte
}

// NewEncoded wraps buf, a buffer of BufferPool holding one message in wire
// form.
func NewEncoded(buf *[]byte) *Encoded { return &Encoded{buf: buf} }

// WriteLoop drains o into batches written to s until ctx ends or a write
// fails. Each event is encoded straight into the batch's buffer
// (an sdk.EnvelopeEncoder), with no mtpb.Envelope built. An event that
// cannot be encoded is passed to bad. On return, unsent holds the events
// taken from the outbox but not written, including those of the batch whose
// write failed (the peer cannot be assumed to have them); the caller owns
// them (and should Close the outbox and handle what Close returns), so none
// is lost without an error event or a count.
func WriteLoop(ctx context.Context, o *Outbox, s Sender, lim Limits, bad func(ev *sdk.Event, err error)) (unsent []*sdk.Event, err error) {
	lim = lim.withDefaults()
	var done, inBatch []*sdk.Event // inBatch: the events encoded in buf
	var enc sdk.EnvelopeEncoder
	next := 1 << minClass // buffer size to ask for: the last batch's
	buf := bufPool.Get(next)
	b := (*buf)[:0]
	send := func() error { // on success, inBatch is emptied
		*buf = b
		next = max(len(b), 1<<minClass)
		err := s.SendMsg(NewEncoded(buf))
		// SendMsg has taken the buffer over, even when it failed.
		buf = bufPool.Get(next)
		b = (*buf)[:0]
		if err == nil {
			clear(inBatch)
			inBatch = inBatch[:0]
		}
		return err
	}
	// The loop parks on o.wake alone, which a receive does for less than a
	// select with ctx.Done: ctx's end wakes it like a push does.
	stop := context.AfterFunc(ctx, o.wakeUp)
	defer stop()
	ds, _ := s.(DirectSender)
	if ds != nil {
		o.setDirect(ds, lim.MaxFrame)
		defer o.setDirect(nil, 0)
	}
	for {
		<-o.wake
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		evs, left, broken, ok := o.take(done)
		if !ok {
			continue // a direct write has the stream; it wakes us when done
		}
		if broken != nil {
			return evs, broken // a direct write failed: its Push failed its event
		}
		if left && len(evs) == 0 {
			if err := ds.Flush(); err != nil {
				return nil, err
			}
		}
		for i, ev := range evs {
			at := len(b)
			b = protowire.AppendTag(b, 1, protowire.BytesType) // Batch.envelopes
			// DstNode is left out: the event has reached its node once written.
			var err error
			if b, err = enc.Append(b, ev, false); err != nil {
				b = b[:at]
				bad(ev, err)
				continue
			}
			if lim.MaxFrame > 0 && len(b) > lim.MaxFrame {
				size := len(b) - at
				if size > lim.MaxFrame {
					b = b[:at]
					bad(ev, TooLarge(size, lim.MaxFrame))
					continue
				}
				// It fits a frame of its own: the batch so far goes first.
				// A rare case, worth a copy of the event's bytes.
				moved := append([]byte(nil), b[at:]...)
				b = b[:at]
				if err := send(); err != nil {
					return append(append(inBatch, ev), evs[i+1:]...), err
				}
				b = append(b, moved...)
			}
			inBatch = append(inBatch, ev)
			if len(inBatch) >= lim.MaxBatch || len(b) >= lim.MaxBytes {
				if err := send(); err != nil {
					return append(inBatch, evs[i+1:]...), err
				}
			}
		}
		if len(inBatch) > 0 {
			if err := send(); err != nil {
				return inBatch, err
			}
		}
		o.wrote()
		done = evs
	}
}
