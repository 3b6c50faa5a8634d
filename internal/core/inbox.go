package core

import "github.com/mtnode/mtnode/sdk"

// Inbox gathers the requests a link reader hands in, so that a run of
// events for one local service is queued under one lock, with at most one
// wake-up of the service (see gather).
// A reader that decodes a frame of many events delivers each with Deliver
// and calls Flush at the end of the frame.
//
// An Inbox belongs to one goroutine. What it has not queued yet it holds
// until the next Flush, the next event for another service, or outMax
// gathered: the reader must Flush before it blocks.
type Inbox struct {
	n   *Node
	run gather
}

// NewInbox returns an Inbox that queues into n's services.
func (n *Node) NewInbox() *Inbox { return &Inbox{n: n} }

// Deliver takes the request ev when it is for a running local service with
// one queue, and reports whether it did. It leaves anything else (replies,
// error events, events for other nodes, services that are not running yet,
// plugins, workers, inline services) to the caller, which routes it as
// usual, after a Flush so that the order holds.
func (b *Inbox) Deliver(ev *sdk.Event) bool {
	if ev.Kind != sdk.KindRequest || ev.DstNode() != "" || len(ev.Route) > sdk.MaxRoute {
		return false
	}
	d := b.run.dst
	if d == nil || d.name != ev.Dst || d.state.Load() != stateRunning {
		d = b.n.lookup(ev.Dst)
		if d == nil || len(d.queues) != 1 || d.state.Load() != stateRunning {
			return false
		}
	}
	b.run.to(d)
	b.run.add(ev)
	return true
}

// Flush queues what Deliver gathered. Events the service refuses (queue
// full, stopped) are answered with error events and counted, as a lone
// delivery's would be.
func (b *Inbox) Flush() { b.run.flush() }
