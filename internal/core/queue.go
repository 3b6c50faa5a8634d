package core

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/sdk"
)

// item is one queued event: a whole event (ev), or the parts of a request
// or reply that a handler sent to a running local service, from which the
// receiving goroutine makes the event (svcContext.received). The second form
// moves the event's allocation from the sender to the receiver: a sender
// then copies 64 bytes into a queue array that the two goroutines reuse,
// in place of allocating and filling 96 bytes of fresh memory, and the
// receiver allocates the events of a batch in chunks. A burst goes at the
// sender's pace, and the receiver, idle part of the time, takes the work:
// BenchmarkOneWay/paired went from 0.91x a channel (0.87-0.94) to 0.98x
// (0.83-1.14), medians of 8 interleaved processes each, AMD EPYC, 2
// cores, go1.26.8. Receiver chunks of 64 events measured 1.04x, but a
// kept event would pin 63 others. Send's own short cut into pushParts
// (svcContext.Send) then took it to 1.27x (1.01-1.42).
type item struct {
	ev    *sdk.Event    // the whole event, or nil
	msg   proto.Message // the parts, when ev is nil
	route sdk.Route
	id    uint64
	kind  sdk.Kind // ev.Kind when ev is set
}

// whole returns it as an event for the service dst, making one from its
// parts if need be.
func (it *item) whole(dst string) *sdk.Event {
	if it.ev != nil {
		return it.ev
	}
	ev := new(sdk.Event)
	it.fill(ev, dst)
	return ev
}

// fill sets the zeroed event ev from the parts of it, for the service dst.
func (it *item) fill(ev *sdk.Event, dst string) {
	ev.Msg, ev.Kind, ev.ID, ev.Route = it.msg, it.kind, it.id, it.route
	if it.kind == sdk.KindRequest {
		ev.Dst = dst
	}
}

// queue is a bounded many-producer, one-consumer event queue, drained in
// batches: the consumer swaps the whole slice out under one lock (the
// original's deque swap, and nats' ipqueue). A one-slot channel wakes the
// consumer, and only when it is parked: a producer that finds waiting set
// (under the lock) clears it and sends the one token, so no stale token
// ever makes the consumer spin through an empty queue.
//
// Requests are admitted up to limit. Replies and error events answer requests
// the service made itself, so they are admitted beyond limit, up to reserve
// more; past that push refuses them too.
type queue struct {
	signal chan struct{}

	// ready is set by a push into an empty queue and cleared when the
	// consumer takes the batch: the consumer reads it without the lock, so
	// it has a cache line of its own, away from the lock the senders take.
	_     [64]byte
	ready atomic.Bool
	_     [64]byte

	mu      sync.Mutex
	items   []item
	limit   int
	reserve int
	high    int                // high-water mark
	waiting bool               // the consumer is parked (or about to) on signal
	closed  *sdk.DeliveryError // non-nil once closed: the error pushes get
}

// queueSpins is how many times an empty queue's consumer yields before it
// parks. A yield or two catches a reply that comes straight back (a round
// trip then needs no park and wake-up); more only keep a consumer that
// outruns its sender taking one or two events per lock, against the
// sender's pushes, where a parked one wakes to a batch. Measured, AMD EPYC
// 2 cores, go1.26.8, `go test -bench 'RoundTrip|OneWay/paired'
// ./internal/core`, 4 interleaved runs each, medians of one-way x-chan
// and of round-trip time over the channel's: 0 yields 0.94 and 1.74; 1:
// 0.93 and 1.24; 2: 0.95 and 1.26; 4: 0.91 and 1.28; 8: 0.57-0.90 and 1.28;
// 16: 0.58 and 1.52. HelloWeb, mt-test-http-rpc, HttpRpc through plugins,
// the node link benchmarks and the Timer's lateness did not move.
const queueSpins = 2

// idleKeep is the capacity in items up to which a parked consumer keeps
// its arrays (256 KiB each), so that a service fed in bursts reuses them
// from one burst to the next; larger ones, grown by a backlog, are let go
// and grown again by the next. Before items, a queue held pointers and
// kept arrays of up to 4·limit of them (2 MiB each at the default limit).
const idleKeep = 4096

func newQueue(limit int) *queue {
	return &queue{signal: make(chan struct{}, 1), limit: limit, reserve: limit}
}

// push appends ev. It returns a *sdk.DeliveryError with CodeQueueFull when
// the queue is at its limit (its reserve for replies), or the close error.
func (q *queue) push(ev *sdk.Event) error {
	q.mu.Lock()
	n, err := q.grow(ev.Kind)
	if err != nil {
		return err
	}
	q.items[n] = item{ev: ev, kind: ev.Kind}
	q.added(n)
	return nil
}

// pushParts appends the event made of msg, route, id and kind (see item),
// as push does. It is the one call a handler's Send to a local service
// makes into the queue, so it does the common case (room in the array,
// under the limit, open) itself, and fills the item in place: the item is
// a cache line, and building it on the sender's stack and copying it down
// the calls took a third of what moving the allocation to the receiver
// saved.
func (q *queue) pushParts(msg proto.Message, route sdk.Route, id uint64, kind sdk.Kind) error {
	q.mu.Lock()
	n := len(q.items)
	if n == cap(q.items) || n >= q.limit || q.closed != nil {
		return q.pushPartsSlow(msg, route, id, kind)
	}
	q.items = q.items[:n+1]
	it := &q.items[n]
	it.ev, it.msg, it.route, it.id, it.kind = nil, msg, route, id, kind
	q.added(n)
	return nil
}

// pushPartsSlow is pushParts when the array is full, the queue is at its
// limit or closed. Call it with q.mu held; it unlocks it.
func (q *queue) pushPartsSlow(msg proto.Message, route sdk.Route, id uint64, kind sdk.Kind) error {
	n, err := q.grow(kind)
	if err != nil {
		return err
	}
	it := &q.items[n]
	it.ev, it.msg, it.route, it.id, it.kind = nil, msg, route, id, kind
	q.added(n)
	return nil
}

// grow makes room for one more item, of kind, and returns its index. Call
// it with q.mu held; when it returns an error (the queue is full or
// closed) it has unlocked q.mu.
func (q *queue) grow(kind sdk.Kind) (int, error) {
	if q.closed != nil {
		q.mu.Unlock()
		return 0, q.closed
	}
	n := len(q.items)
	if !q.admits(n, kind) {
		q.mu.Unlock()
		return 0, errQueueFull
	}
	if n == cap(q.items) {
		q.items = slices.Grow(q.items, 1)
	}
	q.items = q.items[:n+1]
	return n, nil
}

// added ends a push of the item at index n: it unlocks q.mu and wakes the
// consumer if it is parked. Only a push into an empty queue can find it
// parked (first): the consumer parks only on an empty queue, and the first
// push clears waiting.
func (q *queue) added(n int) {
	if n >= q.high {
		q.high = n + 1
	}
	if n == 0 {
		q.first()
		return
	}
	q.mu.Unlock()
}

// first ends a push into an empty queue: it sets ready, unlocks q.mu and
// sends the consumer its token if it is parked.
func (q *queue) first() {
	q.ready.Store(true)
	wake := q.waiting
	q.waiting = false
	q.mu.Unlock()
	if wake {
		q.signal <- struct{}{} // never blocks: one token per wait
	}
}

// pushFront puts ev ahead of everything queued, past any limit: for the
// node's own control events, which must not wait behind a backlog. It
// returns the close error when the queue is closed.
func (q *queue) pushFront(ev *sdk.Event) error {
	q.mu.Lock()
	if q.closed != nil {
		q.mu.Unlock()
		return q.closed
	}
	q.items = slices.Insert(q.items, 0, item{ev: ev, kind: ev.Kind})
	q.ready.Store(true)
	wake := q.waiting
	q.waiting = false
	q.mu.Unlock()
	if wake {
		q.signal <- struct{}{}
	}
	return nil
}

// admits reports whether a queue holding n events takes one of kind: a
// request up to limit, a reply or error event up to limit+reserve. Call it
// with q.mu held.
func (q *queue) admits(n int, kind sdk.Kind) bool {
	return n < q.limit || (kind != sdk.KindRequest && n < q.limit+q.reserve)
}

// pushBatch appends the events of evs that the queue admits, in order,
// under one lock, as push would one at a time. The events it refuses are
// moved to the front of evs and returned, with the error for them (all are
// refused for one reason: the queue is full or closed).
func (q *queue) pushBatch(evs []*sdk.Event) (refused []*sdk.Event, err error) {
	q.mu.Lock()
	if q.closed != nil {
		q.mu.Unlock()
		return evs, q.closed
	}
	n0 := len(q.items)
	k := 0
	for _, ev := range evs {
		if !q.admits(len(q.items), ev.Kind) {
			evs[k] = ev
			k++
			continue
		}
		q.items = append(q.items, item{ev: ev, kind: ev.Kind})
	}
	n := len(q.items)
	if n > q.high {
		q.high = n
	}
	wake := false
	if n0 == 0 && n > 0 {
		q.ready.Store(true)
		wake = q.waiting
		q.waiting = false
	}
	q.mu.Unlock()
	if wake {
		q.signal <- struct{}{}
	}
	if k > 0 {
		return evs[:k], errQueueFull
	}
	return nil, nil
}

var errQueueFull = &sdk.DeliveryError{Code: sdk.CodeQueueFull, Message: "queue is full (raise <Service>.queueLimit, or slow the sender down)"}

// pop hands back the previous batch (nil at first) for reuse, waits for
// events and returns all of them. done is true when the queue is closed and
// empty: the consumer should exit.
//
// While events flow it takes the lock once per batch. Seeing ready unset, it
// knows the queue is empty without the lock, and yields a few times before
// it locks to park: a busy sender's next event usually comes sooner than a
// park and wake-up (futex, an idle P woken) would take, for both sides.
func (q *queue) pop(prev []item) (batch []item, done bool) {
	// Drop the handled events so that the spare slice keeps none alive.
	// While the GC marks, clear takes a bulk write barrier that costs more
	// than the stores of the one or few events a request/reply exchange
	// batches, so small batches are cleared one item at a time (a range
	// loop would be compiled into clear).
	if len(prev) <= 8 {
		for i := 0; i < len(prev); i++ {
			prev[i] = item{}
		}
	} else {
		clear(prev)
	}
	if cap(prev) > 4*q.limit {
		prev = nil
	}
	spun := false
	for {
		if !spun && !q.ready.Load() {
			spun = true
			for i := 0; i < queueSpins && !q.ready.Load(); i++ {
				runtime.Gosched()
			}
		}
		q.mu.Lock()
		if len(q.items) > 0 {
			batch = q.items
			q.items = prev[:0]
			q.ready.Store(false)
			q.mu.Unlock()
			return batch, false
		}
		if q.closed != nil {
			q.mu.Unlock()
			return nil, true
		}
		if !spun {
			q.mu.Unlock()
			continue
		}
		// A parked queue keeps arrays of up to idleKeep items only: a
		// backlog grows them to its size times 64 bytes, twice (the
		// spare and items).
		q.waiting = true
		if cap(q.items) > idleKeep {
			q.items = nil
		}
		q.mu.Unlock()
		if cap(prev) > idleKeep {
			prev = nil
		}
		<-q.signal
	}
}

// close refuses further pushes with err; the consumer drains what is queued
// and then exits.
func (q *queue) close(err *sdk.DeliveryError) {
	q.mu.Lock()
	if q.closed == nil {
		q.closed = err
	}
	wake := q.waiting
	q.waiting = false
	q.mu.Unlock()
	if wake {
		q.signal <- struct{}{}
	}
}

// take removes and returns everything queued, as events for dst (used to
// fail events when a service could not start).
func (q *queue) take(dst string) []*sdk.Event {
	q.mu.Lock()
	b := q.items
	q.items = nil
	q.ready.Store(false)
	q.mu.Unlock()
	evs := make([]*sdk.Event, len(b))
	for i := range b {
		evs[i] = b[i].whole(dst)
	}
	return evs
}

func (q *queue) stats() (length, high, limit int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.high, q.limit
}
