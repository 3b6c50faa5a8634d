// Package core is the service runtime: a Node owns its services, their
// bounded queues and goroutines, their lifecycle and counters, and the router
// that connects them to plugins and other nodes.
//
// # Model
//
// A service is constructed on the first event addressed to it (or at boot,
// for Start=). Its first call is always Start (the start event), then Handle
// for each event in arrival order, then Stop when the node stops. A queued
// service has one goroutine draining one bounded queue in batches; a
// Workers service has N goroutines with events sharded by key; an Inline
// service runs on its senders' goroutines.
//
// # Queue policy
//
// A request to a full queue is refused: the sender gets an ErrQueueFull
// error event and the receiver's queue_full counter moves. Replies and error
// events may use a reserve of the same size again, because they answer
// requests the service made itself; past that they are refused and counted
// (DroppedReplies), then dropped and logged, unless the sender used
// sdk.Handle.TryReplyTo, which returns the refusal so that the sender can
// hold the data and offer it again (SocketIO does). No send ever blocks a
// service goroutine.
//
// # Memory
//
// A handler's send or reply to a running local service with one queue
// queues the parts of the event (payload, id, route), and the receiving
// goroutine makes the event when it takes its batch: the sender copies 64
// bytes into an array the two reuse, and the receiver allocates events in
// chunks of up to five (see item and svcContext.received). Sends to Inline
// and Workers services are allocated by the sender, in chunks of up to
// five events of one burst (svcContext.newEvent). Either way an event a
// receiver keeps pins the others of its chunk until it is dropped. A
// service's goroutine lets go of the events it handled and the rest of its
// chunks at the end of each batch, and a parked one keeps no queue array
// of more than 4096 items (256 KiB).
//
// # Failures
//
// A handler that returns an error or panics is logged with the event type
// (and the stack, for a panic), counted, and the sender gets an error event;
// the service goes on. A Start that fails fails every event queued for the
// service with ErrStartFailed, and the next event tries again with a new
// instance.
//
// # Stopping
//
// Node.Stop refuses new outside work: Node.Send, Node.Request and new
// services at once, and each running service that implements sdk.Quiescer
// (the ones with listeners, connections or node links) is asked, in reverse
// start order and ahead of its queued events, to take no more. The node then
// waits for the queues to drain (up to Config.ShutdownTimeout) and stops the
// services in reverse start order: each service's queue is closed (later
// senders get ErrStopped), drained, its Stop called on its own goroutine,
// and its owned goroutines cancelled and waited for. The Stops share a
// second ShutdownTimeout, so Stop takes at most twice ShutdownTimeout.
//
// Several nodes can run in one process; they share no state.
package core
