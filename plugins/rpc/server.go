package rpc

import (
	"errors"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// linkServer accepts links: rpcpb.Link/Stream.
type linkServer struct {
	rpcpb.UnimplementedLinkServer
	s *Service
}

// Stream runs one accepted link, on the gRPC handler goroutine, until it
// ends.
func (ls linkServer) Stream(st grpc.BidiStreamingServer[mtpb.Batch, mtpb.Batch]) error {
	s := ls.s
	remote := "?"
	if p, ok := grpcpeer.FromContext(st.Context()); ok {
		remote = p.Addr.String()
	}
	md, _ := metadata.FromIncomingContext(st.Context())
	h, err := link.CheckHello(md, s.cfg.token)
	if err == nil && h.GetEpoch() == s.wire.Epoch() {
		// This node dialled itself under an address it did not know as its
		// own: show it its own Hello, so it learns the address, and refuse.
		_ = st.SendHeader(link.HelloMD(s.hello()))
		return status.Error(codes.FailedPrecondition, "rpc: a node cannot link to itself")
	}
	if err != nil {
		s.log.LogAttrs(st.Context(), slog.LevelWarn, "link refused",
			slog.String(sdk.KeyPeer, remote), slog.String("reason", err.Error()))
		code := codes.FailedPrecondition
		if errors.Is(err, link.ErrBadToken) {
			code = codes.Unauthenticated
		}
		return status.Error(code, err.Error())
	}
	if s.stopping.Load() || s.quiesced.Load() {
		return status.Error(codes.Unavailable, "rpc: node is stopping")
	}
	if err := st.SendHeader(link.HelloMD(s.hello())); err != nil {
		return err
	}
	key := remote
	if len(h.GetListen()) > 0 {
		key = h.GetListen()[0]
	}
	sess := s.newSession(key, h, false, func() {})
	s.adopt(sess, remote, h.GetListen())
	sess.run(st.Context(), st)
	return nil
}
