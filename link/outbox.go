package link

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mtnode/mtnode/sdk"
)

// Outbox is the bounded FIFO of events waiting for a link's writer. Any
// goroutine may Push; one goroutine runs WriteLoop.
//
// Push never writes to the stream itself, even on an idle link, unlike
// pluginrt.Conn over its own socket. That was tried (a lone event written
// by the pusher, never blocking: only while gRPC held none of the link's
// buffers, so its write quota was whole) and measured worse on the
// RelayHop benchmark, A/B in one process with the two ways alternating per
// 200 requests: hops=0 p50 66-73 µs against 56-63 µs with the writer,
// hops=1 and 2 no better, and twice the thread context switches. Over gRPC
// the pusher's SendMsg only queues the batch for gRPC's own writer
// goroutine, so no socket hand-off is saved; and the pusher, which carries
// on after waking that goroutine, leaves the idle thread the wake-up
// started to go back to sleep, so the next wake-up costs a futex call.
type Outbox struct {
	mu    sync.Mutex
	q     []*sdk.Event
	limit int
	err   error // set by Close
	held  bool  // between Hold and Release
	wake  chan struct{}
	full  sdk.DeliveryError // template of the queue-full error
}

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
	o.q = append(o.q, ev)
	wake := len(o.q) == 1 && !o.held || len(o.q) == holdMax
	o.mu.Unlock()
	if wake {
		o.wakeUp()
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
// writer finished with) to fill next, so the two slices alternate.
func (o *Outbox) take(done []*sdk.Event) []*sdk.Event {
	clear(done)
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.q
	o.q = done[:0]
	return q
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
// (sdk.Event.AppendEnvelope), with no mtpb.Envelope built. An event that
// cannot be encoded is passed to bad. On return, unsent holds the events
// taken from the outbox but not written, including those of the batch whose
// write failed (the peer cannot be assumed to have them); the caller owns
// them (and should Close the outbox and handle what Close returns), so none
// is lost without an error event or a count.
func WriteLoop(ctx context.Context, o *Outbox, s Sender, lim Limits, bad func(ev *sdk.Event, err error)) (unsent []*sdk.Event, err error) {
	lim = lim.withDefaults()
	var done, inBatch []*sdk.Event // inBatch: the events encoded in buf
	next := 1 << minClass          // buffer size to ask for: the last batch's
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
	for {
		<-o.wake
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		evs := o.take(done)
		for i, ev := range evs {
			at := len(b)
			b = protowire.AppendTag(b, 1, protowire.BytesType) // Batch.envelopes
			// DstNode is left out: the event has reached its node once written.
			var err error
			if b, err = ev.AppendEnvelope(b, false); err != nil {
				b = b[:at]
				bad(ev, err)
				continue
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
		done = evs
	}
}
