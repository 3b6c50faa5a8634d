package rpcbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// EchoSpec answers every request with its payload. It is stateless, so it
// is Inline: it answers on the link's reader goroutine, with no queue hop.
var EchoSpec = sdk.Define("Echo", func() sdk.Service {
	return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
		if ev.Kind == sdk.KindRequest {
			c.Reply(ev.Msg)
		}
		return nil
	})
}, sdk.Inline())

// SinkSpec counts the events it gets; a BoolValue request is answered with
// the count so far (an Int64Value). Events from one link arrive in order, so
// the answer to a BoolValue sent last counts everything sent before it. It is
// Inline: it runs on the link's reader goroutine.
func SinkSpec() sdk.Spec {
	var n atomic.Int64
	return sdk.Define("Sink", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind != sdk.KindRequest {
				return nil
			}
			if _, ok := ev.Msg.(*wrapperspb.BoolValue); ok {
				c.Reply(wrapperspb.Int64(n.Load()))
				return nil
			}
			n.Add(1)
			return nil
		})
	}, sdk.Inline())
}

// RelaySpec forwards every request to next ("host:port/Service"). It is
// stateless, so it is Inline, like EchoSpec.
func RelaySpec(next string) sdk.Spec {
	node, svc, _ := strings.Cut(next, "/")
	to := sdk.At(node, svc)
	return sdk.Define("Relay", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind == sdk.KindRequest {
				c.Forward(to, nil)
			}
			return nil
		})
	}, sdk.Inline())
}

// GRPCEcho is the baseline service: a plain gRPC unary echo of a
// BytesValue (Call), and a client stream (Sink) that counts the messages it
// receives and answers their number (an Int64Value) when the client closes
// its side.
var GRPCEcho = grpc.ServiceDesc{
	ServiceName: "mtnode.bench.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, fmt.Errorf("rpcbench: decoding: %w", err)
			}
			return in, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Sink",
		ClientStreams: true,
		Handler: func(_ any, st grpc.ServerStream) error {
			var n int64
			in := new(wrapperspb.BytesValue)
			for {
				if err := st.RecvMsg(in); err != nil {
					if errors.Is(err, io.EOF) {
						return st.SendMsg(wrapperspb.Int64(n))
					}
					return err
				}
				n++
			}
		},
	}},
}

// GRPCEchoMethod is the full method name of GRPCEcho's Call, and
// GRPCSinkMethod of its Sink stream.
const (
	GRPCEchoMethod = "/mtnode.bench.Echo/Call"
	GRPCSinkMethod = "/mtnode.bench.Echo/Sink"
)

// PumpSpec passes every event posted to it (sdk.Handle.Post) on to to by
// Forward. A posted event has an empty route, so the forwarded one is a
// one-way event: nobody to answer, nothing tracked on the link. It is
// Inline, so Post runs it on the poster's goroutine. The service's Handle is
// sent on handle once it has started.
func PumpSpec(to sdk.Addr, handle chan<- sdk.Handle) sdk.Spec {
	return sdk.Define("Pump", func() sdk.Service { return &pump{to: to, handle: handle} }, sdk.Inline())
}

type pump struct {
	to     sdk.Addr
	handle chan<- sdk.Handle
}

func (p *pump) Start(c sdk.Context) error {
	p.handle <- c.Handle()
	return nil
}

func (p *pump) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind == sdk.KindRequest {
		c.Forward(p.to, nil)
	}
	return nil
}
