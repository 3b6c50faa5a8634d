// Package sdk is what a service author imports to write an mtnode service.
//
// A program is a set of services that talk only through events. Each service
// handles its events one at a time on its own goroutine, so its state needs no
// locks. The same service code runs linked into the node, inside an
// out-of-process plugin, or is reached from another node: the sender's code is
// the same in every case, and a reply always returns along the route its
// request took.
//
// # Services
//
// A service is any value with a Handle method ([Service]); [HandlerFunc] turns
// a plain function into one. A [Spec] names the service and says how to build
// it and how its events are delivered:
//
//	var Spec = sdk.Define("Echo", func() sdk.Service { return new(Echo) })
//
// The name is the service's address on the node, its prefix in the config file
// (Echo.queueLimit=...) and its entry in Start=.
//
// # Lifecycle
//
// A service is constructed on the first event addressed to it (or at boot when
// named in Start=). Calls then come in this order, all on the service's own
// goroutine:
//
//  1. New (from the Spec): must have no side effects.
//  2. Start, if the service implements [Starter]: the start event, always the
//     first thing a service sees. Read config, bind sockets, start owned
//     goroutines with [Context.Go].
//  3. Handle, once per event, in arrival order.
//  4. Stop, if the service implements [Stopper], when the node stops. It must
//     cope with a failed or partial Start. Goroutines started with
//     [Context.Go] are cancelled and waited for after Stop returns.
//
// # Events and routes
//
// An event is a protobuf message plus an envelope ([Event]): its kind
// (request, reply or error), a request id, its destination and its route. The
// route is a stack of return addresses:
//
//   - [Context.Send] starts a new request whose route is this service: the
//     reply comes back here.
//   - [Context.Relay] sends on with this service pushed onto the current
//     event's route: the reply comes back here still carrying the original
//     route, and a [Context.Reply] from here passes it on to the original
//     sender.
//   - [Context.Forward] hands the current event to another service with its
//     route unchanged: the reply skips this service.
//   - [Context.Reply] pops the top of the route and delivers there.
//   - [Context.Notify] sends a one-way event: it has no route, so nobody can
//     answer it, and no link or plugin host remembers it as a request
//     awaiting an answer (up to a limit, past which requests are refused).
//     Send notifications that want no answer this way.
//
// Inside one process an event travels as a pointer and is never serialized; it
// is marshalled only when it crosses a process or node boundary.
//
// # Errors
//
// Nothing is lost silently. An event that cannot be delivered or handled (no
// such service, an event type the service does not take, a full queue, a
// crashed plugin, a lost link, a restarted node, a handler error or panic)
// becomes an error event delivered to the sender along the request's route.
// A one-way event has no route: its failure is counted and logged where it
// happens.
// It arrives in the sender's Handle with Kind == KindError and Err set; with a
// [Mux], it goes to the function given to [Mux.OnError]. errors.Is(ev.Err,
// ErrNoService) and the other sentinels work the same for local, plugin and
// remote senders.
//
// # Queues
//
// Every queued service has a bounded queue (<Service>.queueLimit, default
// 65536 events). A request to a full queue is not queued: the sender gets an
// ErrQueueFull error event and the receiver's queue_full counter moves.
// Replies and error events are answers to requests the service made itself,
// so they are admitted beyond the limit, up to a reserve of the same size
// again; past that they are counted as dropped replies and logged at Warn.
// Sending never blocks a service goroutine.
//
// # Delivery kinds
//
// By default a service has one goroutine and one queue. [Workers] gives it N
// goroutines with events sharded by a key (per-key order holds), and [Inline]
// runs its handler on the sender's goroutine (for stateless, thread-safe
// services such as an HTTP hello handler).
package sdk
