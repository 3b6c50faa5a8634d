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
// # Goroutines
//
// Accept loops and connection attempts run on goroutines started with
// Context.Go. Each connection has a reader and a writer goroutine, owned by
// the service: Stop closes every socket and waits for them.
package socket
