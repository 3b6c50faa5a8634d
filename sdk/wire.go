package sdk

// Wire is the node's boundary for services that carry events between nodes
// (the RPC service). It is the one documented door into routing: such a
// service sees links and envelopes, never the router's insides. Methods are
// safe for concurrent use.
type Wire interface {
	// Epoch returns this node incarnation's epoch.
	Epoch() uint64
	// AttachLink registers a link to a peer and returns its id. Replies and
	// error events whose route pops this link are passed to send (from any
	// goroutine; send takes ownership of the event and must not block for
	// long; an error fails the event back to its sender).
	AttachLink(name string, send func(ev *Event) error) (id uint64)
	// DetachLink forgets a link. Replies that later pop it fail with
	// ErrLinkLost.
	DetachLink(id uint64)
	// Inbound delivers an event received on link id. A request gets the
	// link pushed onto its route, so its reply returns over the same link.
	// Inbound owns ev and its route's backing array: it pushes the hop in
	// place when the route has room, so the route must not share that
	// room with another event's (a route from FromEnvelope never does).
	Inbound(link uint64, ev *Event)
	// Fail returns ev (a request the link accepted but could not deliver) to
	// its sender as an error event with code.
	Fail(ev *Event, code Code, msg string)
	// SetCarrier makes carry receive every request addressed to another node
	// (Event.DstNode not ""); nil removes it. An error from carry fails the
	// event back to its sender.
	SetCarrier(carry func(ev *Event) error)
	// SetSelfAddrs records the addresses that mean this node, so a request
	// addressed to one of them is delivered locally.
	SetSelfAddrs(addrs []string)
}

// WireContext is implemented by contexts of services the node grants Wire
// (services linked into the node).
type WireContext interface {
	Wire() Wire
}
