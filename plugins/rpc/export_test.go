package rpc

// The link's handshake framing, for tests that speak the protocol by hand.
var (
	WriteFrame  = writeFrame
	ReadFrame   = readFrame
	SocketMagic = socketMagic
)
