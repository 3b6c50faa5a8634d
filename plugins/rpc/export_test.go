package rpc

import "github.com/mtnode/mtnode/proto/rpcpb"

// The link's handshake framing, for tests that speak the protocol by hand.
var (
	WriteFrame  = writeFrame
	ReadFrame   = readFrame
	SocketMagic = socketMagic
)

// NewHeld returns an RPC service whose acceptor calls held with each
// dialler's Hello before it answers it.
func NewHeld(held func(*rpcpb.Hello)) *Service {
	s := New()
	s.helloRead = held
	return s
}
