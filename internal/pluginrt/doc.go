// Package pluginrt is the runtime of a plugin process and the link
// protocol both ends of a plugin link speak.
//
// # The plugin process
//
// sdk/plugin.Serve calls Serve, which runs go-plugin's handshake (gRPC protocol,
// Handshake's magic cookie and protocol version) and serves the Plugin
// service of proto/pluginpb:
//
//   - Manifest lists the services and the event types they take. The host
//     calls it once per binary and caches the answer.
//   - Link is one bidirectional stream. The host's first frame carries
//     Hello (the plugin's name, its services' config values, the services
//     to start now, the credit granted, and the event socket it offers).
//     The plugin builds a core.Node with Runtime = the plugin's name and
//     NoAdmin, starts what Hello names, answers Ready, then both sides
//     exchange batches of envelopes.
//
// # The event socket
//
// When Hello names an event socket, the plugin connects to it
// (DialEventSocket), writes Hello's token first, and the rest of the link
// (Ready, Defines, batches) goes over the socket instead of the stream:
// each frame is a 4-byte big-endian length followed by the bytes
// link.Codec would have given gRPC, read and written by link.SocketStream. The
// Link stream stays open, silent, for the link's lifetime. A gRPC stream
// adds a transport reader goroutine, a loopy writer goroutine and HTTP/2
// framing to every frame; on a 2-core machine its round trip was about
// six times a plain Unix socket's. When the socket cannot be reached, the
// plugin stays on the stream, as does a plugin of an older SDK (it does
// not know the field), and a host that offers no socket gets the stream.
//
// Conn runs unchanged over either: it needs only the Stream interface.
// Bytes that are not a frame (a length past MaxMessageSize, a body that
// does not decode, a frame cut short) end the link with an error wrapping
// ErrBadFrame, as a crash of the peer does; a length is never trusted with
// memory ahead of the bytes that arrive. FuzzSocketFrames feeds the frame
// reader arbitrary bytes.
//
// Inside the process, services reach each other through the node's own
// router, with no trip to the host. Anything else (a service the process
// does not hold, a reply whose route continues on the host, a request for
// another node) goes up the link: the host link is the router's upstream
// and carrier.
//
// # Routes across the link
//
// A request crossing the link keeps its whole route; the receiving side
// pushes one ENDPOINT hop naming the sending runtime (UpHop). A reply pops
// that hop on the receiving side, which sends it back over the link with
// the sender's route intact, and the sender's router pops on from there.
// No per-request state is needed to route; the host still tracks the
// requests in flight so that a crash can fail exactly those.
//
// # Flow control
//
// Conn carries events in batches: Send appends to a bounded queue, and one
// writer goroutine gathers everything queued into one frame per write,
// within the credit the peer granted. The reader hands each event to the
// router and returns credit once a quarter of the window has been handed
// on. A full queue fails the event with sdk.ErrQueueFull; nothing blocks a
// service goroutine.
//
// # Lifetime
//
// The process exits when the host ends the link (or its socket or stream
// reaches its end: the host died), when go-plugin is told to stop, or when
// its parent process changes; on Linux the host also sets a parent-death
// signal. Config getters return the values
// the host sent; a key the host did not send returns its default and is
// sent to the host as a Define, which writes it into the node's config
// file with its description.
package pluginrt
