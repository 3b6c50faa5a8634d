package link

import (
	"context"
	"fmt"
	"sync"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

// Outbox is the bounded FIFO of events waiting for a link's writer. Any
// goroutine may Push; one goroutine runs WriteLoop.
type Outbox struct {
	mu    sync.Mutex
	q     []*sdk.Event
	limit int
	err   error // set by Close
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
	first := len(o.q) == 1
	o.mu.Unlock()
	if first {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return nil
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
// grpc.ServerStream are Senders.
type Sender interface {
	SendMsg(m any) error
}

// Limits bound what a writer puts in one batch.
type Limits struct {
	MaxBatch int // envelopes per batch (default 1024)
	MaxBytes int // approximate payload bytes per batch (default 4 MiB)
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

// WriteLoop drains o into batches written to s until ctx ends or a write
// fails. An event that cannot be encoded is passed to bad. On return,
// unsent holds the events taken from the outbox but not written, including
// those of the batch whose write failed (the peer cannot be assumed to have
// them); the caller owns them (and should Close the outbox and handle what
// Close returns), so none is lost without an error event or a count.
func WriteLoop(ctx context.Context, o *Outbox, s Sender, lim Limits, bad func(ev *sdk.Event, err error)) (unsent []*sdk.Event, err error) {
	lim = lim.withDefaults()
	batch := &mtpb.Batch{Envelopes: make([]*mtpb.Envelope, 0, 64)}
	var done, inBatch []*sdk.Event // inBatch: the events behind batch.Envelopes
	for {
		select {
		case <-o.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		evs := o.take(done)
		size := 0
		for i, ev := range evs {
			env, err := ev.Envelope()
			if err != nil {
				bad(ev, err)
				continue
			}
			env.DstNode = "" // the event has reached its node once written
			batch.Envelopes = append(batch.Envelopes, env)
			inBatch = append(inBatch, ev)
			size += len(env.Payload) + len(env.Type) + len(env.Dst) + 24*len(env.Route) + 32
			if len(batch.Envelopes) >= lim.MaxBatch || size >= lim.MaxBytes {
				if err := s.SendMsg(batch); err != nil {
					return append(inBatch, evs[i+1:]...), err
				}
				clear(batch.Envelopes)
				clear(inBatch)
				batch.Envelopes, inBatch, size = batch.Envelopes[:0], inBatch[:0], 0
			}
		}
		if len(batch.Envelopes) > 0 {
			if err := s.SendMsg(batch); err != nil {
				return inBatch, err
			}
			clear(batch.Envelopes)
			clear(inBatch)
			batch.Envelopes, inBatch = batch.Envelopes[:0], inBatch[:0]
		}
		done = evs
	}
}
