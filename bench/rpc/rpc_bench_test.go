package rpcbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/client"
	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// TestMain gives the benchmark process the GC floor the mtnode daemon
// starts (internal/boot), so its nodes run as the daemon's do. It is set for
// the whole process, baselines included, so that no result depends on
// which benchmark happened to run first.
func TestMain(m *testing.M) {
	gctune.Start(gctune.DefaultFloor)
	os.Exit(m.Run())
}

// startNode runs a node with RPC on 127.0.0.1:0, Echo, Sink and extra
// services; it returns its RPC address.
func startNode(b *testing.B, extra ...sdk.Spec) (*core.Node, string) {
	b.Helper()
	store, err := config.Open(config.Options{Embedded: "RPC.bindAddr=127.0.0.1:0\n", Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		b.Fatal(err)
	}
	n, err := core.New(core.Config{Services: append([]sdk.Spec{rpc.Spec, EchoSpec, SinkSpec()}, extra...),
		Start: []string{rpc.Name}, Conf: func(s string) sdk.Config { return store.Sub(s) }})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Stop(context.Background()) })
	ev, err := n.Request(context.Background(), sdk.To(rpc.Name), &rpcpb.ListLinks{})
	if err != nil {
		b.Fatal(err)
	}
	return n, ev.Msg.(*rpcpb.Links).GetListen()[0]
}

func dial(b *testing.B, addr string) *client.Client {
	b.Helper()
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func grpcEcho(b *testing.B) *grpc.ClientConn {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := grpc.NewServer()
	s.RegisterService(&GRPCEcho, struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close(); s.Stop(); <-done })
	return cc
}

func rate(b *testing.B, d time.Duration) {
	b.ReportMetric(float64(b.N)/d.Seconds(), "events/s")
}

// BenchmarkOneWay sends one-way events over one link to an Inline Sink, and,
// as the baseline, the same payloads as unary gRPC calls from 100 callers
// (what a service would do without links).
func BenchmarkOneWay(b *testing.B) {
	msg := wrapperspb.Bytes(make([]byte, 16))
	b.Run("baseline=grpc-unary-c100", func(b *testing.B) {
		cc := grpcEcho(b)
		b.ReportAllocs()
		b.SetParallelism(50)
		t0 := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			out := new(wrapperspb.BytesValue)
			for pb.Next() {
				if err := cc.Invoke(context.Background(), GRPCEchoMethod, msg, out); err != nil {
					b.Error(err)
					return
				}
			}
		})
		rate(b, time.Since(t0))
	})
	b.Run("link=client", func(b *testing.B) {
		_, addr := startNode(b)
		c := dial(b, addr)
		sink := sdk.To("Sink")
		b.ReportAllocs()
		t0 := time.Now()
		for b.Loop() {
			for c.Send(sink, msg) != nil {
				time.Sleep(20 * time.Microsecond) // the link is full: let it drain
			}
		}
		if _, err := c.Request(context.Background(), sink, wrapperspb.Bool(true)); err != nil {
			b.Fatal(err)
		}
		rate(b, time.Since(t0))
	})
}

// BenchmarkRoundTrip: 100 callers each waiting for their answer, over one
// link, against plain gRPC unary calls from 100 callers.
func BenchmarkRoundTrip(b *testing.B) {
	msg := wrapperspb.Bytes(make([]byte, 16))
	b.Run("baseline=grpc-unary/callers=100", func(b *testing.B) {
		cc := grpcEcho(b)
		b.ReportAllocs()
		b.SetParallelism(50)
		t0 := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			out := new(wrapperspb.BytesValue)
			for pb.Next() {
				if err := cc.Invoke(context.Background(), GRPCEchoMethod, msg, out); err != nil {
					b.Error(err)
					return
				}
			}
		})
		rate(b, time.Since(t0))
	})
	b.Run("link=client/callers=100", func(b *testing.B) {
		_, addr := startNode(b)
		c := dial(b, addr)
		b.ReportAllocs()
		b.SetParallelism(50)
		t0 := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Request(context.Background(), sdk.To("Echo"), msg); err != nil {
					b.Error(err)
					return
				}
			}
		})
		rate(b, time.Since(t0))
	})
	b.Run("link=node/outstanding=100", func(b *testing.B) {
		_, addr := startNode(b)
		a, _ := startNode(b)
		to := sdk.At(addr, "Echo")
		if _, err := a.Request(context.Background(), to, msg); err != nil {
			b.Fatal(err)
		}
		n := int64(b.N)
		var sent, done int64 // touched only by the link reader goroutine after the start
		finished := make(chan struct{})
		var ep sdk.Endpoint
		ep = a.OpenEndpoint(func(ev *sdk.Event) {
			done++
			if done == n {
				close(finished)
				return
			}
			if sent < n {
				sent++
				ep.Send(to, msg)
			}
		})
		defer ep.Close()
		b.ReportAllocs()
		b.ResetTimer()
		t0 := time.Now()
		start := min(n, 100)
		sent = start
		for range start {
			ep.Send(to, msg)
		}
		<-finished
		rate(b, time.Since(t0))
	})
}

// BenchmarkRelayHop measures request latency, one request at a time, to
// Echo directly and through 1 and 2 forwarding relays on other nodes; the
// p50 difference per hop is the added latency of a relay hop.
func BenchmarkRelayHop(b *testing.B) {
	msg := wrapperspb.Bytes(make([]byte, 16))
	b.Run("baseline=grpc-unary", func(b *testing.B) {
		cc := grpcEcho(b)
		out := new(wrapperspb.BytesValue)
		lat := make([]time.Duration, 0, 1<<16)
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			if err := cc.Invoke(context.Background(), GRPCEchoMethod, msg, out); err != nil {
				b.Fatal(err)
			}
			if len(lat) < cap(lat) {
				lat = append(lat, time.Since(t0))
			}
		}
		reportLatency(b, lat)
	})
	for _, hops := range []int{0, 1, 2} {
		b.Run(fmt.Sprintf("hops=%d", hops), func(b *testing.B) {
			_, next := startNode(b)
			target := next + "/Echo"
			for range hops {
				_, addr := startNode(b, RelaySpec(target))
				target = addr + "/Relay"
			}
			src, _ := startNode(b)
			node, svc, _ := cut(target)
			to := sdk.At(node, svc)
			ctx := context.Background()
			if _, err := src.Request(ctx, to, msg); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if _, err := src.Request(ctx, to, msg); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
			}
			reportLatency(b, lat)
		})
	}
}

// reportLatency reports quantiles of lat in µs. p10 and p25 beside p50
// show how much of a p50 is the machine: on a shared VM the latency is
// bimodal, quiet trips near p10 and trips behind other load, and p50 can
// sit on either side of the edge between them.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(num, den int) float64 { return float64(lat[len(lat)*num/den].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(1, 10), "p10-µs")
	b.ReportMetric(q(1, 4), "p25-µs")
	b.ReportMetric(q(1, 2), "p50-µs")
	b.ReportMetric(q(99, 100), "p99-µs")
}

func cut(s string) (node, svc string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}
