// Package rpc is the RPC service: links between nodes.
//
// Any service sends to a service on another node by address,
//
//	c.Send(sdk.At("10.0.0.2:10100", "Echo"), msg)
//
// and the receiving service's code is the same whether its caller is local
// or remote: its reply returns along the route, over the link the request
// came in on. RPC is the node's carrier (sdk.Wire.SetCarrier) for every
// request addressed to another node.
//
// # Links
//
// RPC listens on RPC.bindAddr (a comma-separated list of IPv4 and IPv6
// addresses, default 127.0.0.1:10100). A link between nodes is one
// long-lived TCP connection per peer (TLS when configured; two when both
// dial at once, below), carrying length-prefixed batches of envelopes both
// ways (link.SocketStream; the handshake is described at socketMagic),
// created on the first send to that peer. Clients (package client) link through the gRPC method
// rpcpb.Link/Stream on the same port: the acceptor tells the two apart by
// the connection's first bytes (or, under TLS, after the handshake, which
// offers ALPN "h2" and "mtlink/1"). Over gRPC, a relay hop cost about
// 54 µs at p50 on a 2-core machine; gRPC's reader and writer goroutines
// and HTTP/2 framing on each node were most of what was not the kernel.
// Silent peers are found by TCP keepalive (probes after 30 s idle, every
// 10 s, three missed end the link) and, while data is in flight, by
// TCP_USER_TIMEOUT (60 s unacknowledged end the link) on Linux. Events sent while it connects wait
// in order, up to RPC.maxPending per peer; beyond that the sender gets an
// ErrQueueFull error event. Requests awaiting answers on a link are bounded
// by RPC.maxInflight per link; past it a request is refused with
// ErrQueueFull at once rather than sent without a way to fail it when the
// link dies. A writer goroutine per link drains its queue
// into one batch per write, so order is kept per link and a busy link pays
// one system call for many events. Either side may send requests on a link,
// whoever dialled it: a dialler advertises its listen addresses in its
// Hello, and the acceptor uses the accepted link for its own sends to them.
//
// Two nodes that dial each other at the same moment (each sends to the
// other before it has accepted the other's link) keep two links: a node
// with a dial of its own to an address does not take an accepted link's
// claim to it. Each then sends its requests on the link it dialled and
// answers each request on the link it came in on, so both links carry
// traffic both ways, every event is delivered once, and the events one
// node sends the other keep their order. Neither link is closed for the
// other: moving a peer's sends from one link to another would let events
// already queued on the first be overtaken by later ones on the second,
// and the link protocol has no exchange by which both nodes could agree
// that the first is drained. When one of the two ends, the node that
// dialled it dials again, as for any lost link.
//
// # Failures
//
// A link that dies is dialled again with a bounded, jittered backoff
// (RPC.reconnectMin to RPC.reconnectMax). Every request in flight on it (sent,
// no reply yet) is returned to its sender as an ErrLinkLost error event as
// soon as the connection ends; requests sent while the peer is unreachable fail
// at once. Link hops are per connection, and the kernel stamps them with the
// node's epoch, so a reply meant for a peer's previous incarnation is refused
// (ErrNodeRestarted or ErrLinkLost), never delivered to the new one. A
// service that sends RPC an rpcpb.Subscribe gets rpcpb.LinkUp and
// rpcpb.LinkDown replies as links come and go, until it sends
// rpcpb.Unsubscribe (from the same route). One route holds at most one
// subscription; a subscriber on another node is forgotten when the link it
// subscribed over closes, and one that can no longer be reached (a stopped
// service, a closed endpoint) at the next link event.
//
// # Stopping
//
// When its node begins to stop, RPC closes its port and answers each request
// that arrives on an open link with an ErrStopped error event, so callers on
// other nodes learn at once that this node takes no more work. The links stay
// up while the node drains: replies to requests taken before, and this
// node's own requests to its peers and their answers, still flow. RPC's Stop
// then closes the links; a request still in flight on one fails with
// ErrLinkLost.
//
// # Multi-hop
//
// A relay service on node B that forwards (Context.Forward) or relays
// (Context.Relay) a request from A to C keeps no state: the route travels in
// the envelope, C's reply pops C's link hop, B's link hop, and lands at A.
// The one record B keeps of a request it passed on is its link's in-flight
// entry (id, route length and top hop, up to RPC.maxInflight per link),
// which routing never reads: it exists so that, when the link to C dies,
// each request that was on it still becomes an ErrLinkLost error event back
// to A instead of a silence. The entry goes when C's answer comes back.
// TestProcessChains runs such chains of 3 and 5 nodes, each its own
// process.
//
// # Security
//
// RPC.tlsCert and RPC.tlsKey enable TLS; RPC.tlsCA makes it mutual (the
// listener requires client certificates signed by that CA, the dialler
// verifies the listener with it). RPC.token is a shared secret every Hello
// must carry, compared in constant time. A refused peer is logged with the
// reason. A peer reaches only registered services (others answer
// ErrNoService), and not those of RPC.private (by default SocketIO and
// WebServer, which open ports and connections and serve files), which
// answer requests from a link with ErrRefused. A request that arrives on a
// link is delivered on this node: a peer cannot make RPC dial a third node. RPC.maxMessage,
// RPC.maxBatch and RPC.handshakeTimeout bound what a peer can make the node
// hold. Each side says its RPC.maxMessage in its Hello, and the other keeps
// its batches within it: events that fit are split over frames as needed,
// and an event too large for a frame alone fails with an ErrBadEvent error
// event to its sender, without harm to the link or the events around it.
//
// The listen addresses in a dialler's Hello are claims, not proofs: an
// authenticated peer could name another node's address to draw this node's
// traffic for it over its own link. So an accepted link becomes the link
// for at most the first four of them, only for an address whose host is
// the one the link came from (or both are loopback), only while this node
// has no link or dial of its own to that address, and never in place of an
// existing link; the claims end with the link. What remains is trust in
// authenticated peers on the same host: with a token or mutual TLS, only
// peers holding them can claim at all. The peer table holds only addresses
// in use (a link, a dial loop or events pending); the rest are pruned.
package rpc
