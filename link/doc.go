// Package link is the wire protocol of mtnode's links, shared by the RPC
// service (package rpc), the client API (package client), and the plugin
// host and runtime (packages plugin and pluginrt), whose event stream
// carries the same batches.
//
// # Protocol
//
// A link carries mtpb.Batch messages both ways, in order. Between nodes
// and between a node and its plugins it is a socket (SocketStream: each
// batch behind a 4-byte big-endian length); a client's link is one gRPC
// bidirectional stream, rpcpb.Link/Stream, whose dialler sends its
// rpcpb.Hello in the request metadata under HelloKey and whose acceptor
// answers with its own Hello in the response header, or ends the stream
// with a status that says why it refused. Either way the acceptor checks
// the Hello (DecodeHello and CheckToken: the protocol version, the epoch,
// the shared token, compared in constant time).
//
// After the handshake each side writes batches of envelopes, in order, from
// an Outbox drained by one writer goroutine (WriteLoop), and reads them into
// a Frame, which decodes a batch reusing its envelope storage (both ends use
// Codec, plain protobuf on the wire). Payloads are opaque here: they are
// decoded by the receiving service's runtime.
//
// Parsers of peer input (Frame.Decode, DecodeHello) are fuzzed by
// FuzzEnvelopeDecode, which also checks that Frame.Decode agrees with
// proto.Unmarshal.
package link
