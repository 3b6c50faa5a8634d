// Package socket is the SocketIO service: TCP listening and connecting for
// any service, in-process, in a plugin or on another node.
//
// The service that sends socketpb.Listen or socketpb.Connect owns the
// sockets that result. It learns everything about them as replies to that
// request, travelling back along its route: Bound, Accepted, Connected or
// ConnectFailed, Data, ReadPaused, Drained, and Closed (always last, with
// the reason). A failed bind is an error event to the requester; the node
// goes on.
//
// # Writing
//
// socketpb.Write queues bytes on a connection; a writer goroutine per
// connection sends them and reports Drained when its buffer empties. The
// bytes queued and not yet written are bounded by
// SocketIO.maxOutBufferSize (default 8 MiB): a Write that would pass it is
// refused with an error event to its sender, and the connection closes with
// reason "write buffer overflow", so memory never grows without bound.
//
// # Backpressure
//
// Reading is flow-controlled by credit, so that a slow owner is never
// flooded: at most the connection's window (SocketIO.readWindow, default
// 256 KiB) of bytes delivered in Data events may be unacknowledged. When the
// window is full the reader stops reading from the socket, the peer's TCP
// window fills, and the owner gets ReadPaused; socketpb.Ack returns credit
// and reading resumes.
//
// The owner's queue pushes back too. Events to the owner are replies, which
// its queue admits up to its limit and as much again (see sdk.Handle); when
// many connections share one owner that can still run out. Then the
// refused Accepted, Connected or Data event is held, not dropped: that
// connection's reader (or the listener's accept loop) does no more work and
// offers the event again with backoff (1 ms doubling to 100 ms) until the
// owner takes it, and a warning is logged once per hold. Only an owner that
// cannot be reached at all (its link gone) closes the connection, with the
// reason "owner unreachable: ...".
//
// # Goroutines
//
// Accept loops and connection attempts run on goroutines started with
// Context.Go. Each connection has a reader and a writer goroutine, owned by
// the service: Stop closes every socket and waits for them.
//
// # Stopping
//
// When the node begins to stop, SocketIO closes every listener and refuses
// Listen, so no new connection comes in while the node drains; connections
// already open go on, and their owners may still write to them, until Stop
// closes them with the reason "stopping".
package socket
