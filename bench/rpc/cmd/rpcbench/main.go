// Command rpcbench runs one side of an RPC benchmark; scripts/bench-rpc.sh
// starts its servers and drivers as separate processes on loopback.
//
// Servers (print "ready ADDR", run until killed):
//
//	rpcbench node -addr A            a node: RPC on A, Echo, Sink
//	rpcbench relay -addr A -backend B/S   a node whose Inline Relay forwards to service S on node B
//	rpcbench httprpc -addr H -backend B   a node: HttpRpc on H, Echo at node B
//	rpcbench grpc-echo -addr A       plain gRPC unary echo (baseline)
//	rpcbench http-grpc -addr H -backend A  net/http, one gRPC unary call per request (baseline)
//	rpcbench http-hello -addr H      net/http hello (baseline)
//
// Drivers (print one result line):
//
//	rpcbench node-oneway -peer A -n N     one-way events from a node over one node link
//	rpcbench grpc-stream -peer G -n N     the same payloads on one gRPC client stream (baseline)
//	rpcbench oneway -peer A -n N          one-way events over one link (client API)
//	rpcbench rtt -peer A -n N -c C         round trips from a node, C outstanding
//	rpcbench grpc-rtt -peer A -n N -c C    plain gRPC unary calls, C concurrent callers
//	rpcbench lat -peer A/S -n N            one request at a time from a node to service S on node A: latency quantiles
//
// Every node role takes -spin D, its RPC.linkSpin (default 0, as the daemon's).
//
// Rates count only successful events: rtt prints its failures (failed=)
// and leaves them out of rate=.
//
// Helpers:
//
//	rpcbench wait-http -addr URL -timeout D   poll URL until it answers 200 OK
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	rpcbench "github.com/mtnode/mtnode/bench/rpc"
	"github.com/mtnode/mtnode/client"
	"github.com/mtnode/mtnode/examples/demo/httprpc"
	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rpcbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: rpcbench ROLE [flags] (see the package doc)")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	backend := fs.String("backend", "", "backend address")
	peer := fs.String("peer", "", "peer address")
	n := fs.Int("n", 1_000_000, "events or requests")
	conc := fs.Int("c", 100, "outstanding requests or concurrent callers")
	size := fs.Int("size", 16, "payload bytes")
	window := fs.Int("window", 16384, "node-oneway: events posted between flow-control markers")
	timeout := fs.Duration("timeout", 10*time.Second, "wait-http: how long to poll")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	spin := fs.Duration("spin", 0, "RPC.linkSpin of the node this role runs")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	linkSpin = *spin
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	payload := wrapperspb.Bytes(make([]byte, *size))
	switch args[0] {
	case "node":
		return serveNode(ctx, map[string]string{"RPC.bindAddr": *addr}, nil)
	case "relay":
		node, svc, ok := strings.Cut(*backend, "/")
		if !ok {
			return errors.New("relay: -backend must be ADDR/SERVICE")
		}
		return serveNode(ctx, map[string]string{"RPC.bindAddr": *addr}, nil, rpcbench.RelaySpec(node+"/"+svc))
	case "lat":
		return latency(ctx, *peer, *n, payload)
	case "httprpc":
		return serveNode(ctx, map[string]string{"RPC.bindAddr": "", "HttpRpc.bindAddr": *addr, "HttpRpc.backend": *backend}, []string{webserver.Name, httprpc.Name})
	case "grpc-echo":
		return serveGRPC(ctx, *addr)
	case "http-grpc":
		return serveHTTPGRPC(ctx, *addr, *backend)
	case "http-hello":
		return serveHTTP(ctx, *addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("Hello, World!"))
		}))
	case "oneway":
		return oneway(ctx, *peer, *n, payload)
	case "node-oneway":
		return nodeOneway(ctx, *peer, *n, *window, payload)
	case "grpc-stream":
		return grpcStream(ctx, *peer, *n, payload)
	case "wait-http":
		return waitHTTP(ctx, *addr, *timeout)
	case "rtt":
		return rtt(ctx, *peer, *n, *conc, payload)
	case "grpc-rtt":
		return grpcRTT(ctx, *peer, *n, *conc, payload)
	}
	return fmt.Errorf("unknown role %q", args[0])
}

// linkSpin is the RPC.linkSpin of the nodes this process runs (-spin).
var linkSpin time.Duration

// newNode builds and starts a node as the mtnode daemon runs one: with the
// GC floor internal/boot starts (gctune.DefaultFloor, the default of
// Node.gcFloorMiB), so the figures are those of the daemon's links.
func newNode(conf map[string]string, start []string, extra ...sdk.Spec) (*core.Node, error) {
	gctune.Start(gctune.DefaultFloor)
	text := "RPC.linkSpin=" + linkSpin.String() + "\n"
	for k, v := range conf {
		text += k + "=" + v + "\n"
	}
	store, err := config.Open(config.Options{Embedded: text, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		return nil, err
	}
	specs := append([]sdk.Spec{rpc.Spec, rpcbench.EchoSpec, rpcbench.SinkSpec(), webserver.Spec, httprpc.Spec}, extra...)
	n, err := core.New(core.Config{Name: "bench", Services: specs, Start: append([]string{rpc.Name}, start...),
		Conf: func(s string) sdk.Config { return store.Sub(s) }})
	if err != nil {
		return nil, err
	}
	return n, n.Start(context.Background(), nil)
}

func serveNode(ctx context.Context, conf map[string]string, start []string, extra ...sdk.Spec) error {
	n, err := newNode(conf, start, extra...)
	if err != nil {
		return err
	}
	defer n.Stop(context.Background())
	ev, err := n.Request(ctx, sdk.To(rpc.Name), &rpcpb.ListLinks{})
	if err != nil {
		return err
	}
	if httpAddr := conf["HttpRpc.bindAddr"]; httpAddr != "" {
		// Ready once WebServer serves HttpRpc: a request is answered.
		for range 200 {
			if resp, err := http.Get("http://" + httpAddr + "/"); err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		fmt.Println("ready", httpAddr)
	} else if l := ev.Msg.(*rpcpb.Links).GetListen(); len(l) > 0 {
		fmt.Println("ready", l[0])
	}
	<-ctx.Done()
	return nil
}

func listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Println("ready", l.Addr())
	return l, nil
}

func serveGRPC(ctx context.Context, addr string) error {
	l, err := listen(addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	s.RegisterService(&rpcbench.GRPCEcho, struct{}{})
	go func() { <-ctx.Done(); s.Stop() }()
	return s.Serve(l)
}

func serveHTTP(ctx context.Context, addr string, h http.Handler) error {
	l, err := listen(addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func serveHTTPGRPC(ctx context.Context, addr, backend string) error {
	cc, err := grpc.NewClient("passthrough:///"+backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	return serveHTTP(ctx, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := new(wrapperspb.BytesValue)
		if err := cc.Invoke(r.Context(), rpcbench.GRPCEchoMethod, wrapperspb.Bytes([]byte(r.URL.RequestURI())), out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Write(out.GetValue())
	}))
}

// report prints one result line; rate counts the ok events only.
func report(what string, n, ok int, d time.Duration) {
	fmt.Printf("%s n=%d ok=%d time=%s rate=%.0f/s\n", what, n, ok, d.Round(time.Millisecond), float64(ok)/d.Seconds())
}

// nodeOneway sends n one-way events from a node's Pump service to Sink on
// peer, over the node link between the two processes. Every window events
// it sends Sink a marker request (a BoolValue; Sink answers after the events
// before it, as the link keeps order) and waits for the marker before the
// last, so at most two windows wait in the link's queue.
func nodeOneway(ctx context.Context, peer string, n, window int, msg *wrapperspb.BytesValue) error {
	handles := make(chan sdk.Handle, 1)
	sink := sdk.At(peer, "Sink")
	node, err := newNode(map[string]string{"RPC.bindAddr": "", "RPC.maxPending": fmt.Sprint(4*window + 16)},
		[]string{"Pump"}, rpcbench.PumpSpec(sink, handles))
	if err != nil {
		return err
	}
	defer node.Stop(context.Background())
	var pump sdk.Handle
	select {
	case pump = <-handles:
	case <-ctx.Done():
		return ctx.Err()
	}
	count := func() (int64, error) {
		ev, err := node.Request(ctx, sink, wrapperspb.Bool(true))
		if err != nil {
			return 0, fmt.Errorf("asking Sink for its count: %w", err)
		}
		return ev.Msg.(*wrapperspb.Int64Value).GetValue(), nil
	}
	before, err := count() // also opens the link
	if err != nil {
		return err
	}
	markers := make(chan *sdk.Event, n/max(window, 1)+2)
	ep := node.OpenEndpoint(func(ev *sdk.Event) { markers <- ev })
	defer ep.Close()
	wait := func() error {
		select {
		case ev := <-markers:
			if ev.Err != nil {
				return fmt.Errorf("flow-control marker: %w", ev.Err)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t0 := time.Now()
	outstanding := 0
	for sent := 0; sent < n; {
		k := min(window, n-sent)
		for range k {
			if err := pump.Post(msg); err != nil {
				return fmt.Errorf("posting to Pump: %w", err)
			}
		}
		sent += k
		ep.Send(sink, wrapperspb.Bool(true))
		if outstanding++; outstanding > 1 {
			if err := wait(); err != nil {
				return err
			}
			outstanding--
		}
	}
	for ; outstanding > 0; outstanding-- {
		if err := wait(); err != nil {
			return err
		}
	}
	d := time.Since(t0)
	after, err := count()
	if err != nil {
		return err
	}
	got := int(after - before)
	if lost := node.Undeliverable(); lost > 0 || got != n {
		return fmt.Errorf("sink counted %d events, want %d (%d undeliverable on the sender)", got, n, lost)
	}
	report(fmt.Sprintf("node-oneway window=%d", window), n, got, d)
	return nil
}

// grpcStream is node-oneway's baseline: the same payloads, one message
// each, on one gRPC client stream to grpc-echo's Sink.
func grpcStream(ctx context.Context, peer string, n int, msg *wrapperspb.BytesValue) error {
	cc, err := grpc.NewClient("passthrough:///"+peer, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	st, err := cc.NewStream(ctx, &rpcbench.GRPCEcho.Streams[0], rpcbench.GRPCSinkMethod)
	if err != nil {
		return fmt.Errorf("opening the gRPC stream: %w", err)
	}
	t0 := time.Now()
	for range n {
		if err := st.SendMsg(msg); err != nil {
			return fmt.Errorf("gRPC stream send: %w", err)
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	got := new(wrapperspb.Int64Value)
	if err := st.RecvMsg(got); err != nil {
		return fmt.Errorf("gRPC stream count: %w", err)
	}
	d := time.Since(t0)
	if got.GetValue() != int64(n) {
		return fmt.Errorf("gRPC sink counted %d messages, want %d", got.GetValue(), n)
	}
	report("grpc-stream", n, n, d)
	return nil
}

// waitHTTP polls url until it answers 200 OK or timeout passes.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s not ready after %s: %v", url, timeout, last)
		}
	}
}

func oneway(ctx context.Context, peer string, n int, msg *wrapperspb.BytesValue) error {
	c, err := client.Dial(ctx, peer)
	if err != nil {
		return err
	}
	defer c.Close()
	sink := sdk.To("Sink")
	before, err := c.Request(ctx, sink, wrapperspb.Bool(true))
	if err != nil {
		return err
	}
	t0 := time.Now()
	for i := 0; i < n; {
		if err := c.Send(sink, msg); err != nil {
			if !errors.Is(err, sdk.ErrQueueFull) {
				return err
			}
			time.Sleep(20 * time.Microsecond) // the link is full: let it drain
			continue
		}
		i++
	}
	after, err := c.Request(ctx, sink, wrapperspb.Bool(true))
	if err != nil {
		return err
	}
	d := time.Since(t0)
	got := after.(*wrapperspb.Int64Value).GetValue() - before.(*wrapperspb.Int64Value).GetValue()
	if got != int64(n) {
		return fmt.Errorf("sink counted %d events, want %d", got, n)
	}
	report("oneway", n, n, d)
	return nil
}

func rtt(ctx context.Context, peer string, n, conc int, msg *wrapperspb.BytesValue) error {
	node, err := newNode(map[string]string{"RPC.bindAddr": ""}, nil)
	if err != nil {
		return err
	}
	defer node.Stop(context.Background())
	to := sdk.At(peer, "Echo")
	if _, err := node.Request(ctx, to, msg); err != nil {
		return err
	}
	var sent, done, failed atomic.Int64
	finished := make(chan struct{})
	var ep sdk.Endpoint
	ep = node.OpenEndpoint(func(ev *sdk.Event) {
		if ev.Kind == sdk.KindError {
			failed.Add(1)
		}
		if done.Add(1) == int64(n) {
			close(finished)
			return
		}
		if sent.Add(1) <= int64(n) {
			ep.Send(to, msg)
		}
	})
	defer ep.Close()
	t0 := time.Now()
	for range conc {
		if sent.Add(1) <= int64(n) {
			ep.Send(to, msg)
		}
	}
	select {
	case <-finished:
	case <-ctx.Done():
		return ctx.Err()
	}
	report(fmt.Sprintf("rtt c=%d failed=%d", conc, failed.Load()), n, n-int(failed.Load()), time.Since(t0))
	return nil
}

// latency sends n requests, one at a time, from a node to the service at
// to (ADDR/SERVICE) and prints the latency quantiles in µs.
func latency(ctx context.Context, to string, n int, msg *wrapperspb.BytesValue) error {
	addr, svc, ok := strings.Cut(to, "/")
	if !ok {
		return errors.New("lat: -peer must be ADDR/SERVICE")
	}
	node, err := newNode(map[string]string{"RPC.bindAddr": ""}, nil)
	if err != nil {
		return err
	}
	defer node.Stop(context.Background())
	dst := sdk.At(addr, svc)
	for range 100 { // links up, code paths warm
		if _, err := node.Request(ctx, dst, msg); err != nil {
			return err
		}
	}
	lat := make([]time.Duration, n)
	for i := range lat {
		t0 := time.Now()
		if _, err := node.Request(ctx, dst, msg); err != nil {
			return err
		}
		lat[i] = time.Since(t0)
	}
	slices.Sort(lat)
	q := func(num, den int) float64 { return float64(lat[len(lat)*num/den].Nanoseconds()) / 1e3 }
	fmt.Printf("lat n=%d p10=%.1f p25=%.1f p50=%.1f p99=%.1f\n", n, q(1, 10), q(1, 4), q(1, 2), q(99, 100))
	return nil
}

func grpcRTT(ctx context.Context, peer string, n, conc int, msg *wrapperspb.BytesValue) error {
	cc, err := grpc.NewClient("passthrough:///"+peer, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	t0 := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := new(wrapperspb.BytesValue)
			for next.Add(1) <= int64(n) {
				if err := cc.Invoke(ctx, rpcbench.GRPCEchoMethod, msg, out); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	report(fmt.Sprintf("grpc-rtt c=%d", conc), n, n, time.Since(t0))
	return nil
}
