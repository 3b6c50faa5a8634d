package link

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/proto/rpcpb"
)

// Protocol is the link protocol version this package speaks.
const Protocol = 1

// HelloKey is the gRPC metadata key that carries a marshalled rpcpb.Hello
// (binary metadata: gRPC base64-encodes it on the wire).
const HelloKey = "mt-hello-bin"

// Limits on a Hello, so a peer cannot make the acceptor hold large strings.
const (
	MaxHelloBytes  = 4096
	maxNodeName    = 256
	maxListenAddrs = 16
	maxAddrLen     = 256
)

// Handshake errors. CheckHello and DecodeHello return them wrapped with the
// detail; callers branch on them to choose the status they answer with.
var (
	// ErrBadHello: the Hello is missing, malformed or from an incompatible
	// protocol version.
	ErrBadHello = errors.New("link: bad hello")
	// ErrBadToken: the Hello's token does not match RPC.token.
	ErrBadToken = errors.New("link: wrong or missing token (set the same RPC.token on both nodes)")
)

// DecodeHello parses a marshalled Hello and checks its shape: a known
// protocol version, a non-zero epoch, and bounded names and addresses.
func DecodeHello(b []byte) (*rpcpb.Hello, error) {
	if len(b) > MaxHelloBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadHello, len(b), MaxHelloBytes)
	}
	h := new(rpcpb.Hello)
	if err := proto.Unmarshal(b, h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHello, err)
	}
	if h.GetProtocol() != Protocol {
		return nil, fmt.Errorf("%w: protocol version %d, this node speaks %d (upgrade the older node)", ErrBadHello, h.GetProtocol(), Protocol)
	}
	if h.GetEpoch() == 0 {
		return nil, fmt.Errorf("%w: epoch 0", ErrBadHello)
	}
	if len(h.GetNode()) > maxNodeName {
		return nil, fmt.Errorf("%w: node name of %d bytes", ErrBadHello, len(h.GetNode()))
	}
	if len(h.GetListen()) > maxListenAddrs {
		return nil, fmt.Errorf("%w: %d listen addresses, more than %d", ErrBadHello, len(h.GetListen()), maxListenAddrs)
	}
	for _, a := range h.GetListen() {
		if len(a) > maxAddrLen {
			return nil, fmt.Errorf("%w: listen address of %d bytes", ErrBadHello, len(a))
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("%w: listen address %q: %v", ErrBadHello, a, err)
		}
	}
	return h, nil
}

// CheckToken compares the Hello's token with want in constant time (both are
// hashed first, so the comparison does not reveal the length either). An
// empty want accepts any token.
func CheckToken(h *rpcpb.Hello, want string) error {
	if want == "" {
		return nil
	}
	a := sha256.Sum256([]byte(h.GetToken()))
	b := sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return ErrBadToken
	}
	return nil
}

// CheckHello decodes the Hello in md and checks it against token.
func CheckHello(md metadata.MD, token string) (*rpcpb.Hello, error) {
	vals := md.Get(HelloKey)
	if len(vals) != 1 {
		return nil, fmt.Errorf("%w: %d %s values, want 1 (is the peer an mtnode link?)", ErrBadHello, len(vals), HelloKey)
	}
	h, err := DecodeHello([]byte(vals[0]))
	if err != nil {
		return nil, err
	}
	if err := CheckToken(h, token); err != nil {
		return nil, err
	}
	return h, nil
}

// HelloMD returns the metadata that carries h.
func HelloMD(h *rpcpb.Hello) metadata.MD {
	b, err := proto.Marshal(h)
	if err != nil {
		// A Hello has only scalar fields: marshalling cannot fail.
		panic(fmt.Sprintf("link: marshalling hello: %v", err))
	}
	return metadata.Pairs(HelloKey, string(b))
}
