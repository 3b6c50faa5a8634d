package rpcbench

import (
	"context"
	"fmt"
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

// GRPCEcho is the baseline: a plain gRPC unary echo of a BytesValue.
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
}

// GRPCEchoMethod is the full method name of GRPCEcho's Call.
const GRPCEchoMethod = "/mtnode.bench.Echo/Call"
