package core

import (
	"sync"

	"github.com/mtnode/mtnode/sdk"
)

// queue is a bounded many-producer, one-consumer event queue, drained in
// batches: the consumer swaps the whole slice out under one lock (the
// original's deque swap, and nats' ipqueue). A one-slot channel signals the
// consumer.
//
// Requests are admitted up to limit. Replies and error events answer requests
// the service made itself, so they are admitted beyond limit, up to reserve
// more; past that push refuses them too.
type queue struct {
	signal chan struct{}

	mu      sync.Mutex
	items   []*sdk.Event
	spare   []*sdk.Event // recycled batch slice
	limit   int
	reserve int
	high    int                // high-water mark
	closed  *sdk.DeliveryError // non-nil once closed: the error pushes get
}

func newQueue(limit int) *queue {
	return &queue{signal: make(chan struct{}, 1), limit: limit, reserve: limit}
}

// push appends ev. It returns a *sdk.DeliveryError with CodeQueueFull when the
// queue is at its limit (its reserve for replies), or the close error.
func (q *queue) push(ev *sdk.Event) error {
	q.mu.Lock()
	if q.closed != nil {
		q.mu.Unlock()
		return q.closed
	}
	n := len(q.items)
	if n >= q.limit && (ev.Kind == sdk.KindRequest || n >= q.limit+q.reserve) {
		q.mu.Unlock()
		return errQueueFull
	}
	q.items = append(q.items, ev)
	if n+1 > q.high {
		q.high = n + 1
	}
	q.mu.Unlock()
	if n == 0 {
		select {
		case q.signal <- struct{}{}:
		default: // already signalled
		}
	}
	return nil
}

var errQueueFull = &sdk.DeliveryError{Code: sdk.CodeQueueFull, Message: "queue is full (raise <Service>.queueLimit, or slow the sender down)"}

// pop waits for events and returns all of them. done is true when the queue
// is closed and empty: the consumer should exit.
func (q *queue) pop() (batch []*sdk.Event, done bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			batch = q.items
			q.items = q.spare[:0]
			q.spare = nil
			q.mu.Unlock()
			return batch, false
		}
		if q.closed != nil {
			q.mu.Unlock()
			return nil, true
		}
		q.mu.Unlock()
		<-q.signal
	}
}

// recycle hands a drained batch back for reuse.
func (q *queue) recycle(batch []*sdk.Event) {
	clear(batch)
	q.mu.Lock()
	if q.spare == nil && cap(batch) <= 4*q.limit {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
}

// close refuses further pushes with err; the consumer drains what is queued
// and then exits.
func (q *queue) close(err *sdk.DeliveryError) {
	q.mu.Lock()
	if q.closed == nil {
		q.closed = err
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take removes and returns everything queued (used to fail events when a
// service could not start).
func (q *queue) take() []*sdk.Event {
	q.mu.Lock()
	b := q.items
	q.items = nil
	q.mu.Unlock()
	return b
}

func (q *queue) stats() (length, high, limit int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.high, q.limit
}
