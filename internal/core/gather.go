package core

import "github.com/mtnode/mtnode/sdk"

// outMax is how many events a run gathers before they are queued: one
// lock, and at most one wake-up of the receiver, for each outMax events
// instead of one each.
const outMax = 64

// gather is a run of events for one local service with one queue that are
// not queued yet: the requests of a link reader's frame (Inbox). Its owner
// adds events in order and flushes before anything that must come after
// them.
//
// A handler's sends do not gather: each is in its receiver's queue when
// Send returns (TestSendIsQueuedWhenItReturns, TestBurstIsQueuedWhenSendReturns),
// which code that signals another goroutine after sending relies on.
type gather struct {
	dst *service
	out []*sdk.Event
}

// to makes d the service of the run, queueing first what was gathered for
// another.
func (g *gather) to(d *service) {
	if d != g.dst {
		g.flush()
		g.dst = d
	}
}

// add appends ev, an event for g.dst, and queues the run once outMax wait.
func (g *gather) add(ev *sdk.Event) {
	g.out = append(g.out, ev)
	if len(g.out) == outMax {
		g.flush()
	}
}

// flush queues what was gathered, in order (service.queueBatch: refusals
// are counted and answered with error events).
func (g *gather) flush() {
	if len(g.out) == 0 {
		return
	}
	g.dst.queueBatch(g.out)
	clear(g.out)
	g.out = g.out[:0]
}
