// Command rpcbench runs one side of an RPC benchmark; scripts/bench-rpc.sh
// starts its servers and drivers as separate processes on loopback.
//
// Servers (print "ready ADDR", run until killed):
//
//	rpcbench node -addr A            a node: RPC on A, Echo, Sink
//	rpcbench httprpc -addr H -backend B   a node: HttpRpc on H, Echo at node B
//	rpcbench grpc-echo -addr A       plain gRPC unary echo (baseline)
//	rpcbench http-grpc -addr H -backend A  net/http, one gRPC unary call per request (baseline)
//	rpcbench http-hello -addr H      net/http hello (baseline)
//
// Drivers (print one result line):
//
//	rpcbench oneway -peer A -n N          one-way events over one link (client API)
//	rpcbench rtt -peer A -n N -c C         round trips from a node, C outstanding
//	rpcbench grpc-rtt -peer A -n N -c C    plain gRPC unary calls, C concurrent callers
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
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	payload := wrapperspb.Bytes(make([]byte, *size))
	switch args[0] {
	case "node":
		return serveNode(ctx, map[string]string{"RPC.bindAddr": *addr}, nil)
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
	case "rtt":
		return rtt(ctx, *peer, *n, *conc, payload)
	case "grpc-rtt":
		return grpcRTT(ctx, *peer, *n, *conc, payload)
	}
	return fmt.Errorf("unknown role %q", args[0])
}

func newNode(conf map[string]string, start []string, extra ...sdk.Spec) (*core.Node, error) {
	var text string
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

func serveNode(ctx context.Context, conf map[string]string, start []string) error {
	n, err := newNode(conf, start)
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

func report(what string, n int, d time.Duration) {
	fmt.Printf("%s n=%d time=%s rate=%.0f/s\n", what, n, d.Round(time.Millisecond), float64(n)/d.Seconds())
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
	report("oneway", n, d)
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
	report(fmt.Sprintf("rtt c=%d failed=%d", conc, failed.Load()), n, time.Since(t0))
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
	report(fmt.Sprintf("grpc-rtt c=%d", conc), n, time.Since(t0))
	return nil
}
