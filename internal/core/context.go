package core

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/sdk"
)

// svcContext is the sdk.Context of one service goroutine. Each loop owns
// one and reuses it for every event (the Context is valid only during Handle).
type svcContext struct {
	s       *service
	ev      *sdk.Event
	batches uint64 // batches handled by this loop (handler-time sampling)
	calls   uint64 // handler calls in the current batch

	// sent counts events sent since the last flush into service.sent: one
	// atomic add per batch rather than one per event.
	sent uint64

	// nextID and endID are the request ids this context took from the
	// node's counter and has not used yet, [nextID, endID). The counter is
	// shared by every sender, and an add per request made its cache line
	// move between cores; ids need only be unique, not in sending order.
	nextID, endID uint64

	// dst is the local service this goroutine last sent or replied to: a
	// one-entry cache that saves the node's table lookup while the
	// destination runs (a stopped, stopping or failed one is looked up anew).
	dst *service

	// spare holds the unused rest of the chunk of events this context
	// allocated for a burst of sends to chunkDst in the current batch, and
	// burst counts that burst's events. See newEvent.
	spare    []sdk.Event
	chunkDst *service
	burst    int

	// in holds the unused rest of the chunk of events this goroutine made
	// for the items of the current batch (see received).
	in []sdk.Event
}

// evChunks are the chunk lengths newEvent allocates, smallest first. 96·k
// bytes fill a size class up to 512 bytes, past which an object with
// pointers also takes a malloc header. The largest bounds what a kept event
// can pin (see newEvent); chunks of 10 and 21 measured no faster than 5.
var evChunks = [...]int{2, 4, 5}

// newEvent returns a zeroed event for a send or reply to the running local
// service d when d has no single queue (Inline and Workers services; a
// service with one queue is sent items that its goroutine makes the events
// of, see item and received).
//
// The events of a burst to one service are carved out of chunks, one
// allocation for up to 5 of them instead of one each: in profiles of a
// handler sending a burst, the event's allocation was its largest cost,
// more than the queue's lock. The first event of a burst is allocated
// alone, so a handler that sends one event per batch (request/reply)
// wastes nothing, and chunks grow with the burst, so at most about half of
// the slots allocated are left unused. A chunk's slots are never reused, so
// a handler may keep its event, as sdk.Event promises. The cost is memory a
// kept event pins: the chunk it lives in, that is up to 4 other events this
// context sent to the same service in the same batch, with their payloads
// and routes, until the kept one is dropped. flush drops the spare slots at
// the end of each batch, so an idle service pins none of the events it sent.
func (c *svcContext) newEvent(d *service) *sdk.Event {
	if d != c.chunkDst {
		c.chunkDst, c.burst, c.spare = d, 0, nil
	}
	c.burst++
	if len(c.spare) == 0 {
		if c.burst == 1 {
			return new(sdk.Event)
		}
		k := evChunks[0]
		for _, n := range evChunks {
			if n <= c.burst {
				k = n
			}
		}
		c.spare = make([]sdk.Event, k)
	}
	ev := &c.spare[0]
	c.spare = c.spare[1:]
	return ev
}

// received returns the event for it, an item made of a local sender's
// parts, with left items in the batch from it on. The events of a batch
// are carved out of chunks of up to five, as newEvent carves a sender's,
// so a kept event pins at most four others this service handled next to
// it; flush drops the spare slots at the end of each batch.
func (c *svcContext) received(it *item, left int) *sdk.Event {
	if len(c.in) == 0 {
		if left == 1 {
			ev := new(sdk.Event)
			it.fill(ev, c.s.name)
			return ev
		}
		c.in = make([]sdk.Event, min(left, evChunks[len(evChunks)-1]))
	}
	ev := &c.in[0]
	c.in = c.in[1:]
	it.fill(ev, c.s.name)
	return ev
}

// idBlock is how many request ids a context takes from the node at a time.
const idBlock = 1024

// newID returns an unused request id.
func (c *svcContext) newID() uint64 {
	if c.nextID == c.endID {
		c.endID = c.s.n.nextReq.Add(idBlock) + 1
		c.nextID = c.endID - idBlock
	}
	id := c.nextID
	c.nextID++
	return id
}

// flush ends a batch (or a Start, or an inline call): it adds the events
// sent since the last flush to the service's counter, and lets go of the
// last event handled and of the spare event slots, so that an idle service
// keeps none of the events it handled or sent alive.
func (c *svcContext) flush() {
	if c.sent != 0 {
		c.s.sent.Add(c.sent)
		c.sent = 0
	}
	c.ev = nil
	c.in = nil
	if c.chunkDst != nil {
		c.chunkDst, c.burst, c.spare = nil, 0, nil
	}
}

func (c *svcContext) Event() *sdk.Event    { return c.ev }
func (c *svcContext) Name() string         { return c.s.name }
func (c *svcContext) NodeName() string     { return c.s.n.cfg.Name }
func (c *svcContext) Config() sdk.Config   { return c.s.conf }
func (c *svcContext) Logger() *slog.Logger { return c.s.log }
func (c *svcContext) Now() time.Time       { return c.s.n.cfg.Clock() }
func (c *svcContext) Handle() sdk.Handle   { return c.s.handle }

// Send is send with the route of a Send, and a short cut of its own for
// the common case of a handler sending a burst: a request for the local
// service with one queue it sent to last, while that one runs, goes
// straight into the queue from here. send's ten words of arguments spill
// to the stack, and in BenchmarkOneWay the calls down to the queue were a
// quarter of the sender's time, as much as the payload's allocation.
func (c *svcContext) Send(to sdk.Addr, msg proto.Message) uint64 {
	d := c.dst
	if d == nil || to.Node != "" || len(d.queues) != 1 || d.name != to.Service || d.state.Load() != stateRunning {
		return c.send(to, msg, c.s.self, 0)
	}
	id := c.newID()
	c.sent++
	if err := d.queues[0].pushParts(msg, c.s.self, id, sdk.KindRequest); err != nil {
		c.refuse(d, &item{msg: msg, route: c.s.self, id: id, kind: sdk.KindRequest}, err)
	}
	return id
}

// refuse counts the refusal of it by the local service d's queue with err,
// and answers it with an error event.
func (c *svcContext) refuse(d *service, it *item, err error) {
	d.refused(err)
	c.s.n.router.Refuse(it.whole(d.name), err)
}

func (c *svcContext) Notify(to sdk.Addr, msg proto.Message) { c.send(to, msg, nil, 0) }

func (c *svcContext) Relay(to sdk.Addr, msg proto.Message) uint64 {
	if c.ev == nil {
		return c.Send(to, msg)
	}
	return c.send(to, msg, c.ev.Route.Push(c.s.self[0]), c.ev.ID)
}

// send is service.send with a short cut: a request for a running local
// service goes straight into its queue, past the router (which would find
// the same service, after a table lookup).
func (c *svcContext) send(to sdk.Addr, msg proto.Message, route sdk.Route, id uint64) uint64 {
	s := c.s
	if id == 0 {
		id = c.newID()
	}
	if to.Node != "" || len(route) > sdk.MaxRoute {
		return s.send(to, msg, route, id)
	}
	c.sent++
	if d := c.local(to.Service); d != nil {
		if len(d.queues) == 1 {
			if err := d.queues[0].pushParts(msg, route, id, sdk.KindRequest); err != nil {
				c.refuse(d, &item{msg: msg, route: route, id: id, kind: sdk.KindRequest}, err)
			}
			return id
		}
		ev := c.newEvent(d)
		ev.Msg, ev.Kind, ev.ID, ev.Dst, ev.Route = msg, sdk.KindRequest, id, to.Service, route
		if err := d.deliver(ev); err != nil {
			s.n.router.Refuse(ev, err)
		}
		return id
	}
	s.n.router.Deliver(&sdk.Event{Msg: msg, Kind: sdk.KindRequest, ID: id, Dst: to.Service, Route: route})
	return id
}

// local returns the running local service name, or nil when it is not
// constructed, not running or not local: the router then takes the event.
func (c *svcContext) local(name string) *service {
	if d := c.dst; d != nil && d.name == name && d.state.Load() == stateRunning {
		return d
	}
	d := c.s.n.lookup(name)
	if d == nil || d.state.Load() != stateRunning {
		return nil
	}
	c.dst = d
	return d
}

func (c *svcContext) Forward(to sdk.Addr, msg proto.Message) {
	if c.ev == nil {
		c.s.log.Warn("forward outside of an event handler ignored")
		return
	}
	ev := *c.ev
	ev.Kind = sdk.KindRequest
	ev.Dst = to.Service
	ev.SetDstNode(to.Node)
	if msg != nil {
		ev.Msg = msg
	}
	c.sent++
	c.s.n.router.Deliver(&ev)
}

func (c *svcContext) Reply(msg proto.Message) {
	if c.ev == nil {
		c.s.log.Warn("reply outside of an event handler ignored")
		return
	}
	c.replyTo(c.ev, msg)
}

func (c *svcContext) ReplyTo(ev *sdk.Event, msg proto.Message) { c.replyTo(ev, msg) }

// replyTo is service.replyTo with send's short cut, for a reply whose next
// hop is a running local service.
func (c *svcContext) replyTo(ev *sdk.Event, msg proto.Message) {
	n := len(ev.Route) - 1
	if n < 0 || ev.Route[n].Kind != sdk.HopService {
		c.s.replyTo(ev, msg)
		return
	}
	d := c.local(ev.Route[n].Name)
	if d == nil {
		c.s.replyTo(ev, msg)
		return
	}
	c.sent++
	if len(d.queues) == 1 {
		if err := d.queues[0].pushParts(msg, ev.Route[:n:n], ev.ID, sdk.KindReply); err != nil {
			c.refuse(d, &item{msg: msg, route: ev.Route[:n:n], id: ev.ID, kind: sdk.KindReply}, err)
		}
		return
	}
	rep := c.newEvent(d)
	rep.Msg, rep.Kind, rep.ID, rep.Route = msg, sdk.KindReply, ev.ID, ev.Route[:n:n]
	if err := d.deliver(rep); err != nil {
		c.s.n.router.Refuse(rep, err)
	}
}
func (c *svcContext) Fail(ev *sdk.Event, err error) { c.s.fail(ev, err) }

func (c *svcContext) Go(fn func(ctx context.Context)) { c.s.goOwned(fn) }

// Admin implements sdk.AdminContext, unless the node withholds it.
func (c *svcContext) Admin() sdk.Admin {
	if c.s.n.cfg.NoAdmin {
		return nil
	}
	return adminView{c.s.n}
}

func (s *service) send(to sdk.Addr, msg proto.Message, route sdk.Route, id uint64) uint64 {
	if id == 0 {
		id = s.n.nextReq.Add(1)
	}
	s.sent.Add(1)
	ev := &sdk.Event{Msg: msg, Kind: sdk.KindRequest, ID: id, Dst: to.Service, Route: route}
	ev.SetDstNode(to.Node)
	s.n.router.Deliver(ev)
	return id
}

func (s *service) replyTo(ev *sdk.Event, msg proto.Message) {
	if len(ev.Route) == 0 {
		s.n.router.Undeliverable.Add(1)
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "reply to an event with no route dropped",
			slog.Uint64(sdk.KeyReq, ev.ID), slog.String(sdk.KeyEvent, ev.Type()))
		return
	}
	s.sent.Add(1)
	s.n.router.Deliver(&sdk.Event{Msg: msg, Kind: sdk.KindReply, ID: ev.ID, Route: ev.Route})
}

func (s *service) fail(ev *sdk.Event, err error) {
	de, ok := err.(*sdk.DeliveryError)
	if !ok {
		de = &sdk.DeliveryError{Code: sdk.CodeOf(err), Message: err.Error()}
	}
	if ev.Kind != sdk.KindRequest {
		// Answering a reply or error with a failure: send it on along the
		// remaining route as an error event.
		if len(ev.Route) == 0 {
			s.n.router.Undeliverable.Add(1)
			return
		}
		s.n.router.Deliver(&sdk.Event{Kind: sdk.KindError, ID: ev.ID, Route: ev.Route, Err: de})
		return
	}
	s.n.router.Fail(ev, de.Code, de.Message, s.n.cfg.Name)
}

// goOwned starts a goroutine owned by the service; stop cancels its context
// and waits for it.
func (s *service) goOwned(fn func(ctx context.Context)) {
	s.owned.Add(1)
	go func() {
		defer s.owned.Done()
		defer func() {
			if p := recover(); p != nil {
				s.panics.Add(1)
				s.log.LogAttrs(context.Background(), slog.LevelError, "owned goroutine panicked", slog.Any("panic", p))
			}
		}()
		fn(s.life)
	}()
}

// svcHandle is the goroutine-safe sdk.Handle of a service.
type svcHandle struct{ s *service }

func (h *svcHandle) Name() string         { return h.s.name }
func (h *svcHandle) Config() sdk.Config   { return h.s.conf }
func (h *svcHandle) Logger() *slog.Logger { return h.s.log }

func (h *svcHandle) Post(msg proto.Message) error {
	if len(h.s.queues) == 0 {
		// Inline: there is no queue; run the handler here.
		return h.s.deliver(&sdk.Event{Msg: msg, Kind: sdk.KindRequest, Dst: h.s.name})
	}
	return h.s.deliver(&sdk.Event{Msg: msg, Kind: sdk.KindRequest, Dst: h.s.name, ID: h.s.n.nextReq.Add(1)})
}

func (h *svcHandle) Send(to sdk.Addr, msg proto.Message) uint64 {
	return h.s.send(to, msg, h.s.self, 0)
}

func (h *svcHandle) Notify(to sdk.Addr, msg proto.Message) { h.s.send(to, msg, nil, 0) }

func (h *svcHandle) ReplyTo(ev *sdk.Event, msg proto.Message) { h.s.replyTo(ev, msg) }

func (h *svcHandle) TryReplyTo(ev *sdk.Event, msg proto.Message) error {
	if len(ev.Route) == 0 {
		return &sdk.DeliveryError{Code: sdk.CodeUnspecified, Message: "the event has no route to reply along (it was sent one-way)"}
	}
	h.s.sent.Add(1)
	return h.s.n.router.Reply(&sdk.Event{Msg: msg, Kind: sdk.KindReply, ID: ev.ID, Route: ev.Route})
}

func (h *svcHandle) Fail(ev *sdk.Event, err error) { h.s.fail(ev, err) }

func (h *svcHandle) Endpoint(fn func(*sdk.Event)) sdk.Endpoint {
	return h.s.n.openEndpoint(fn, h.s)
}

// Interface guards.
var (
	_ sdk.Context      = (*svcContext)(nil)
	_ sdk.AdminContext = (*svcContext)(nil)
	_ sdk.Handle       = (*svcHandle)(nil)
)
