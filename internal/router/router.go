package router

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/mtnode/mtnode/sdk"
)

// Local is the runtime the router belongs to: its services and endpoints.
// Methods are called from any goroutine.
type Local interface {
	// Enqueue delivers ev to the local service ev.Dst (for requests) or to
	// the named service (replies and errors, after the route was popped).
	// It returns sdk.ErrNoService when no such service is registered here,
	// or a *sdk.DeliveryError (queue full, stopped, ...).
	Enqueue(service string, ev *sdk.Event) error
	// Endpoint delivers a reply or error event to endpoint id. It reports
	// false when the endpoint is closed or unknown.
	Endpoint(id uint64, ev *sdk.Event) bool
	// Suggest returns a similar known service name for error messages, or "".
	Suggest(service string) string
}

// Link carries events to another runtime: a plugin process, the host (from
// inside a plugin), or another node. Send takes ownership of ev and must not
// block for long; it returns an error (with a sdk code) when the link cannot
// take the event, and the router then fails the event back to its sender.
type Link interface {
	Send(ev *sdk.Event) error
	// Name is used in error messages and logs ("plugin mt-demo", "node 10.0.0.2:10100").
	Name() string
}

// Carrier takes requests addressed to other nodes (ev.DstNode() != "").
type Carrier interface {
	Carry(ev *sdk.Event) error
}

// Router routes events for one runtime. Create it with New.
type Router struct {
	local   Local
	runtime string // this runtime's name in ENDPOINT hops ("" for the node)
	epoch   uint64
	log     *slog.Logger

	mu       sync.RWMutex
	services map[string]Link // services that live behind a link (plugins)
	runtimes map[string]Link // ENDPOINT hop runtime name -> link
	links    map[uint64]Link // LINK hop id -> node link
	upstream Link            // where unknown services go (a plugin's host)
	carrier  Carrier         // requests for other nodes
	selfAddr map[string]bool // node addresses that mean this node

	nextLink atomic.Uint64

	// Counters.
	Undeliverable atomic.Uint64 // replies and errors that found no receiver
	DroppedFull   atomic.Uint64 // of those, the replies and errors a full queue refused
	Failed        atomic.Uint64 // requests turned into error events
}

// New returns a router for local. runtime is this runtime's name in ENDPOINT
// hops ("" for a node); epoch is the node incarnation stamped on LINK hops.
func New(local Local, runtime string, epoch uint64, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{
		local: local, runtime: runtime, epoch: epoch, log: log,
		services: map[string]Link{}, runtimes: map[string]Link{},
		links: map[uint64]Link{}, selfAddr: map[string]bool{},
	}
}

// Epoch returns the node incarnation this router stamps on LINK hops.
func (r *Router) Epoch() uint64 { return r.epoch }

// Runtime returns this runtime's ENDPOINT name.
func (r *Router) Runtime() string { return r.runtime }

// Deliver routes ev. It never blocks on a receiver: a failure becomes an
// error event to the sender (or, for replies and errors, a counted and
// logged undeliverable event).
func (r *Router) Deliver(ev *sdk.Event) {
	if ev.Kind == sdk.KindRequest && len(ev.Route) > sdk.MaxRoute {
		r.fail(ev, sdk.CodeRouteTooLong, fmt.Sprintf("route has %d hops, more than %d: events are looping", len(ev.Route), sdk.MaxRoute), "")
		return
	}
	if ev.Kind == sdk.KindRequest {
		r.request(ev)
		return
	}
	if err := r.Reply(ev); err != nil {
		r.drop(ev, sdk.CodeOf(err), err.Error())
	}
}

// Reply hands the reply or error event ev to the next hop of its route: a
// local service's queue, an endpoint, or a plugin or node link. Unlike
// Deliver it does not count and log a failure but returns it (a
// *sdk.DeliveryError: sdk.ErrQueueFull when the next hop's queue is past its
// reserve), so that a caller holding data that must not be lost can keep ev,
// slow down and try again. ev's route is popped either way: a retry sends a
// fresh event with the original route.
func (r *Router) Reply(ev *sdk.Event) error {
	top, rest, ok := ev.Route.Pop()
	if !ok {
		return undeliverable(sdk.CodeUnspecified, "empty route")
	}
	ev.Route = rest
	switch top.Kind {
	case sdk.HopService:
		return r.replyToService(top.Name, ev)
	case sdk.HopEndpoint:
		if top.Name == r.runtime {
			if !r.local.Endpoint(top.ID, ev) {
				return undeliverable(sdk.CodeUnspecified, "endpoint closed")
			}
			return nil
		}
		r.mu.RLock()
		l := r.runtimes[top.Name]
		if l == nil {
			l = r.upstream
		}
		r.mu.RUnlock()
		if l == nil {
			return undeliverable(sdk.CodeUnspecified, "no runtime "+top.Name)
		}
		return linkErr(l.Send(ev))
	case sdk.HopLink:
		if top.Epoch != r.epoch {
			// Not ours: a hop pushed by a previous incarnation of this node.
			return undeliverable(sdk.CodeNodeRestarted, "reply addressed to a previous incarnation of this node")
		}
		r.mu.RLock()
		l := r.links[top.ID]
		r.mu.RUnlock()
		if l == nil {
			return undeliverable(sdk.CodeLinkLost, fmt.Sprintf("link %d is gone", top.ID))
		}
		return linkErr(l.Send(ev))
	default:
		return undeliverable(sdk.CodeUnspecified, "malformed hop")
	}
}

func undeliverable(code sdk.Code, why string) *sdk.DeliveryError {
	return &sdk.DeliveryError{Code: code, Message: why}
}

// linkErr turns a next hop's error into a *sdk.DeliveryError (nil stays nil).
func linkErr(err error) error {
	if err == nil {
		return nil
	}
	if de, ok := err.(*sdk.DeliveryError); ok {
		return de
	}
	return &sdk.DeliveryError{Code: sdk.CodeOf(err), Message: err.Error()}
}

func (r *Router) request(ev *sdk.Event) {
	if node := ev.DstNode(); node != "" {
		r.mu.RLock()
		self := r.selfAddr[node]
		c := r.carrier
		up := r.upstream
		r.mu.RUnlock()
		if !self {
			if c == nil && up != nil {
				// Inside a plugin: the host's RPC service carries it.
				if err := up.Send(ev); err != nil {
					r.failErr(ev, err, up.Name())
				}
				return
			}
			if c == nil {
				r.fail(ev, sdk.CodeNoService, fmt.Sprintf("router: cannot reach node %s: the RPC service is not running here (add RPC to Start=)", node), "")
				return
			}
			if err := c.Carry(ev); err != nil {
				r.failErr(ev, err, "node "+node)
			}
			return
		}
		ev.SetDstNode("")
	}
	r.toService(ev.Dst, ev)
}

// toService delivers the request ev to a named service wherever it lives;
// a failure becomes an error event to its sender.
func (r *Router) toService(name string, ev *sdk.Event) {
	if hop, err := r.serviceHop(name, ev); err != nil {
		r.failErr(ev, err, hop)
	}
}

// replyToService is toService for a reply or error event: it returns the
// failure instead of answering it.
func (r *Router) replyToService(name string, ev *sdk.Event) error {
	_, err := r.serviceHop(name, ev)
	return linkErr(err)
}

// serviceHop hands ev to the service name: a local one's queue, or the link
// of the plugin (or, inside a plugin, the host) that holds it. On failure it
// returns the hop that refused ("" when there is no such service at all)
// and the error.
func (r *Router) serviceHop(name string, ev *sdk.Event) (hop string, err error) {
	err = r.local.Enqueue(name, ev)
	if err != sdk.ErrNoService {
		return r.runtime, err
	}
	r.mu.RLock()
	l := r.services[name]
	if l == nil {
		l = r.upstream
	}
	r.mu.RUnlock()
	if l == nil {
		msg := fmt.Sprintf("router: no service %q on this node", name)
		if s := r.local.Suggest(name); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return "", undeliverable(sdk.CodeNoService, msg)
	}
	if err := l.Send(ev); err != nil {
		return l.Name(), err // not before: a link may build its name
	}
	return "", nil
}

// Fail turns the request ev into an error event with code and message and
// sends it back along ev's route. For a reply or an error event, which have
// no one to answer, it counts and logs instead. Links call it for events
// they accepted and then could not deliver (a crash, a lost link).
func (r *Router) Fail(ev *sdk.Event, code sdk.Code, msg, hop string) {
	r.fail(ev, code, msg, hop)
}

// Refuse handles an event that the runtime tried to hand to a local service
// itself, past Deliver, and that the service refused with err (queue full,
// stopped): a request becomes an error event to its sender, a reply or an
// error event is counted and logged as undeliverable, as Deliver would have
// done. A reply's route is already popped.
func (r *Router) Refuse(ev *sdk.Event, err error) {
	r.failErr(ev, err, r.runtime)
}

func (r *Router) failErr(ev *sdk.Event, err error, hop string) {
	if de, ok := err.(*sdk.DeliveryError); ok {
		// A copy: the error may be shared (a queue returns one value for
		// every refusal), and failDE fills in this event's details.
		c := *de
		if c.Hop == "" {
			c.Hop = hop
		}
		r.failDE(ev, &c)
		return
	}
	r.fail(ev, sdk.CodeOf(err), err.Error(), hop)
}

func (r *Router) fail(ev *sdk.Event, code sdk.Code, msg, hop string) {
	r.failDE(ev, &sdk.DeliveryError{Code: code, Message: msg, Hop: hop})
}

func (r *Router) failDE(ev *sdk.Event, de *sdk.DeliveryError) {
	if ev.Kind != sdk.KindRequest {
		r.undeliverableCode(ev, de.Code, de.Error())
		return
	}
	if de.EventType == "" {
		de.EventType = ev.Type()
	}
	if de.Dst == "" {
		de.Dst = sdk.Addr{Node: ev.DstNode(), Service: ev.Dst}.String()
	}
	r.Failed.Add(1)
	if len(ev.Route) == 0 {
		// Not undeliverableCode: it would fail the request again, forever.
		r.drop(ev, de.Code, de.Error()+" (and the request has no route to answer)")
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelDebug, "event failed",
		slog.String(sdk.KeyEvent, de.EventType), slog.String(sdk.KeyDst, de.Dst),
		slog.Uint64(sdk.KeyReq, ev.ID), slog.String(sdk.KeyErr, de.Error()))
	r.Deliver(&sdk.Event{Kind: sdk.KindError, ID: ev.ID, Route: ev.Route, Err: de})
}

func (r *Router) undeliverable(ev *sdk.Event, why string) {
	r.undeliverableCode(ev, sdk.CodeUnspecified, why)
}

func (r *Router) undeliverableCode(ev *sdk.Event, code sdk.Code, why string) {
	if ev.Kind == sdk.KindRequest {
		r.fail(ev, code, why, "")
		return
	}
	r.drop(ev, code, why)
}

// drop counts and logs an event that has no one to answer; code says why
// it was refused.
func (r *Router) drop(ev *sdk.Event, code sdk.Code, why string) {
	r.Undeliverable.Add(1)
	if code == sdk.CodeQueueFull && ev.Kind != sdk.KindRequest {
		r.DroppedFull.Add(1)
	}
	attrs := []slog.Attr{slog.String(sdk.KeyEvent, ev.Type()), slog.String("kind", ev.Kind.String()),
		slog.Uint64(sdk.KeyReq, ev.ID), slog.String("why", why)}
	if ev.Err != nil {
		attrs = append(attrs, slog.String(sdk.KeyErr, ev.Err.Error()))
	}
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "undeliverable event dropped", attrs...)
}

// SetService routes service name to l (a plugin's service); nil removes it.
func (r *Router) SetService(name string, l Link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l == nil {
		delete(r.services, name)
		return
	}
	r.services[name] = l
}

// ServiceLink returns the link a service lives behind, or nil.
func (r *Router) ServiceLink(name string) Link {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.services[name]
}

// SetRuntime routes ENDPOINT hops of runtime name to l; nil removes it.
func (r *Router) SetRuntime(name string, l Link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l == nil {
		delete(r.runtimes, name)
		return
	}
	r.runtimes[name] = l
}

// SetUpstream sets where events for services unknown here go (inside a
// plugin: the host).
func (r *Router) SetUpstream(l Link) {
	r.mu.Lock()
	r.upstream = l
	r.mu.Unlock()
}

// SetCarrier sets who carries requests for other nodes; nil removes it.
func (r *Router) SetCarrier(c Carrier) {
	r.mu.Lock()
	r.carrier = c
	r.mu.Unlock()
}

// SetSelfAddrs records node addresses that mean this node, so a request
// addressed to one of them is delivered locally.
func (r *Router) SetSelfAddrs(addrs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.selfAddr = map[string]bool{}
	for _, a := range addrs {
		r.selfAddr[a] = true
	}
}

// AddLink registers a node link and returns its id for LINK hops.
func (r *Router) AddLink(l Link) uint64 {
	id := r.nextLink.Add(1)
	r.mu.Lock()
	r.links[id] = l
	r.mu.Unlock()
	return id
}

// RemoveLink forgets link id; replies that later pop it fail with
// sdk.ErrLinkLost.
func (r *Router) RemoveLink(id uint64) {
	r.mu.Lock()
	delete(r.links, id)
	r.mu.Unlock()
}

// Inbound delivers an event that arrived on node link id: a request gets the
// link pushed onto its route (so its reply goes back over the same link),
// then every event is routed as usual. Inbound owns ev and its route's
// backing array (see sdk.Wire.Inbound).
func (r *Router) Inbound(link uint64, ev *sdk.Event) {
	if ev.Kind == sdk.KindRequest {
		// A route longer than MaxRoute is failed back by Deliver.
		hop := sdk.Hop{Kind: sdk.HopLink, ID: link, Epoch: r.epoch}
		if n := len(ev.Route); n < cap(ev.Route) {
			// sdk.FromEnvelope left room for the hop, which saves the
			// allocation of Push (9% of a link reader's time). Capped, so
			// that nothing can push in place past it.
			ev.Route = append(ev.Route, hop)[: n+1 : n+1]
		} else {
			ev.Route = ev.Route.Push(hop)
		}
	}
	r.Deliver(ev)
}
