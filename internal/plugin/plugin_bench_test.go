package plugin

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// asDaemon starts the collector tuning a node process runs with
// (Node.gcFloorMiB, default 64 MiB; see internal/gctune), as boot does. It
// is process-wide, so the baselines in this process run under it too; each
// plugin process starts its own.
func asDaemon() { gctune.Start(gctune.DefaultFloor) }

// reportP50 reports the median of ds as metric unit (in ms or µs), and
// returns it.
func reportP50(b *testing.B, ds []time.Duration, unit time.Duration, name string) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	p50 := float64(ds[len(ds)/2]) / float64(unit)
	b.ReportMetric(p50, name)
	return p50
}

// grpcLink makes the test plugin ignore the event socket, as a plugin
// built before it does: its link runs over the gRPC stream.
func grpcLink(b *testing.B) { b.Setenv("MTTEST_GRPC_LINK", "1") }

// bareClient starts the test plugin with go-plugin alone and dispenses the
// Plugin stub: the baseline of a cold start.
func bareClient(b *testing.B, env ...string) (*goplugin.Client, pluginpb.PluginClient) {
	b.Helper()
	cmd := exec.Command(testProgram(b, "testplugin"))
	cmd.Env = env
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: pluginrt.Handshake(), Plugins: pluginrt.PluginSet(nil), Cmd: cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Off}),
	})
	rpc, err := c.Client()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := rpc.Dispense(pluginrt.PluginName)
	if err != nil {
		b.Fatal(err)
	}
	return c, raw.(pluginpb.PluginClient)
}

// BenchmarkColdStart: first event to a plugin that is not running, until
// its reply is back; baseline: go-plugin's bare client start and dispense,
// then one message echoed over a bare Link stream, so that both measure
// until a first answer is back.
func BenchmarkColdStart(b *testing.B) {
	asDaemon()
	if testing.Short() {
		b.Skip("slow: launches a process per iteration")
	}
	testProgram(b, "testplugin") // built before anything is timed
	b.Run("baseline=go-plugin", func(b *testing.B) {
		b.ReportAllocs()
		env := rawEnvelope(b, 1)
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			c, pc := bareClient(b, "MTTEST_RAW=1")
			s, err := pc.Link(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Send(&pluginpb.Frame{Batch: &mtpb.Batch{Envelopes: []*mtpb.Envelope{env}, Credit: 1}}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
			c.Kill()
		}
		reportP50(b, ds, time.Millisecond, "p50-ms")
	})
	coldStarts := func(b *testing.B) {
		b.ReportAllocs()
		e := newEnv(b, []string{"testplugin"})
		p := e.plugin(b, "testplugin")
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := e.call(b, "TEcho", "x"); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
			p.mu.Lock()
			p.retireLocked()
			p.mu.Unlock()
			waitFor(b, "the plugin to stop", func() bool { return e.status(b, "testplugin").State == "idle" })
		}
		reportP50(b, ds, time.Millisecond, "p50-ms")
	}
	b.Run("mtnode", coldStarts)
	b.Run("mtnode-grpc-link", func(b *testing.B) {
		grpcLink(b)
		coldStarts(b)
	})
}

// rawLink opens a bare Link stream to the test plugin in raw mode.
func rawLink(b *testing.B) pluginpb.Plugin_LinkClient {
	c, pc := bareClient(b, "MTTEST_RAW=1")
	b.Cleanup(c.Kill)
	s, err := pc.Link(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func rawEnvelope(b *testing.B, id uint64) *mtpb.Envelope {
	payload, err := proto.Marshal(wrapperspb.String("0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	return &mtpb.Envelope{Dst: "Raw", Type: "google.protobuf.StringValue", Payload: payload, Id: id,
		Route: []*mtpb.Hop{{Kind: mtpb.Hop_ENDPOINT, Id: 1}}}
}

// BenchmarkRoundTrip: a request from the node to a plugin service and its
// reply, over the event socket and over the gRPC link a plugin of an older
// SDK gets; baseline: one message echoed over a bare gRPC bidi stream to
// the same plugin process kind. x-faster is the baseline's p50 over ours.
func BenchmarkRoundTrip(b *testing.B) {
	asDaemon()
	var base float64 // the baseline's p50, for the ratio
	b.Run("baseline=grpc-bidi", func(b *testing.B) {
		b.ReportAllocs()
		s := rawLink(b)
		env := rawEnvelope(b, 1)
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := s.Send(&pluginpb.Frame{Batch: &mtpb.Batch{Envelopes: []*mtpb.Envelope{env}, Credit: 1}}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		base = reportP50(b, ds, time.Microsecond, "p50-µs")
	})
	// The rows without a spin= suffix run plugin links as the daemon
	// does by default (Node.pluginLinkSpin = DefaultLinkSpin); spin=0
	// turns the spinning off: every frame wakes a sleeping thread.
	spin := func(d time.Duration) envOpt { return func(c *Config) { c.LinkSpin = d } }
	def := spin(DefaultLinkSpin)
	b.Run("mtnode", func(b *testing.B) { roundTripsTo(b, "TEcho", base, def) })
	b.Run("mtnode-inline", func(b *testing.B) { roundTripsTo(b, "TInline", base, def) })
	b.Run("mtnode/spin=0", func(b *testing.B) { roundTripsTo(b, "TEcho", base, spin(0)) })
	b.Run("mtnode-inline/spin=0", func(b *testing.B) { roundTripsTo(b, "TInline", base, spin(0)) })
	b.Run("mtnode-grpc-link", func(b *testing.B) {
		grpcLink(b)
		roundTripsTo(b, "TEcho", base, def)
	})
}

// roundTripsTo times requests from the node to the plugin service svc
// (TEcho, a queued service, or TInline, the same declared Inline, which
// runs on the plugin's link reader as mt-demo's Echo does); base is the
// baseline's p50 for the ratio; opts configure the host.
func roundTripsTo(b *testing.B, svc string, base float64, opts ...envOpt) {
	b.ReportAllocs()
	e := newEnv(b, []string{"testplugin"}, opts...)
	msg := wrapperspb.String("0123456789abcdef")
	ctx := context.Background()
	if _, err := e.node.Request(ctx, sdk.To(svc), msg); err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := e.node.Request(ctx, sdk.To(svc), msg); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	if p50 := reportP50(b, ds, time.Microsecond, "p50-µs"); p50 > 0 && base > 0 {
		b.ReportMetric(base/p50, "x-faster")
	}
}

// BenchmarkOneWay: events from the node to a plugin service, no replies,
// over the event socket and over the gRPC link; baseline: one gRPC stream
// message per event to a bare Link server. x-baseline is our rate over
// the baseline's.
func BenchmarkOneWay(b *testing.B) {
	asDaemon()
	var base float64 // the baseline's rate, for the ratio
	b.Run("baseline=grpc-bidi-per-event", func(b *testing.B) {
		b.ReportAllocs()
		s := rawLink(b)
		env := rawEnvelope(b, 1)
		t0 := time.Now()
		n := 0
		for b.Loop() {
			if err := s.Send(&pluginpb.Frame{Batch: &mtpb.Batch{Envelopes: []*mtpb.Envelope{env}}}); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := s.Send(&pluginpb.Frame{Batch: &mtpb.Batch{Credit: 2}}); err != nil {
			b.Fatal(err)
		}
		f, err := s.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if got := int(f.GetBatch().GetCredit()); got != n {
			b.Fatalf("the server counted %d events, want %d", got, n)
		}
		base = float64(n) / time.Since(t0).Seconds()
		b.ReportMetric(base, "events/s")
	})
	oneWay := func(b *testing.B, opts ...envOpt) {
		b.ReportAllocs()
		e := newEnv(b, []string{"testplugin"}, opts...)
		ctx := context.Background()
		if _, err := e.node.Request(ctx, sdk.To("Sink"), wrapperspb.String("flush")); err != nil {
			b.Fatal(err)
		}
		// Pace the producer end to end, as a gRPC stream's flow control
		// would: every markEvery events a "mark" request follows, and no
		// more than maxMarks may be unanswered. Without it a producer
		// faster than Sink fills Sink's queue, which refuses the excess
		// (error events to the sender), as a local queue would.
		const markEvery, maxMarks = 8192, 3
		acks := make(chan *sdk.Event, maxMarks+1)
		ep := e.node.OpenEndpoint(func(ev *sdk.Event) { acks <- ev })
		defer ep.Close()
		marks := 0
		ack := func() {
			if ev := <-acks; ev.Kind == sdk.KindError {
				b.Fatalf("a mark failed: %v", ev.Err)
			}
			marks--
		}
		mark := wrapperspb.String("mark")
		msg := wrapperspb.String("0123456789abcdef")
		t0 := time.Now()
		n := 0
		for b.Loop() {
			if n%markEvery == markEvery-1 {
				ep.Send(sdk.To("Sink"), mark)
				if marks++; marks > maxMarks {
					ack()
				}
			}
			if err := e.node.Send(sdk.To("Sink"), msg); err != nil {
				b.Fatal(err)
			}
			n++
		}
		for marks > 0 {
			ack()
		}
		ev, err := e.node.Request(ctx, sdk.To("Sink"), wrapperspb.String("flush"))
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(t0)
		if got, _ := strconv.Atoi(ev.Msg.(*wrapperspb.StringValue).Value); got != n {
			b.Fatalf("the plugin counted %d events, want %d", got, n)
		}
		rate := float64(n) / elapsed.Seconds()
		b.ReportMetric(rate, "events/s")
		if base > 0 {
			b.ReportMetric(rate/base, "x-baseline")
		}
	}
	def := func(c *Config) { c.LinkSpin = DefaultLinkSpin } // as the daemon runs
	b.Run("mtnode", func(b *testing.B) { oneWay(b, def) })
	b.Run("mtnode/spin=0", func(b *testing.B) {
		oneWay(b, func(c *Config) { c.LinkSpin = 0 })
	})
	b.Run("mtnode-grpc-link", func(b *testing.B) {
		grpcLink(b)
		oneWay(b, def)
	})
}
