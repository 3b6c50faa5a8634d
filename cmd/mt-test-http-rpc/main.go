// Command mt-test-http-rpc is the seed's test_http_rpc: two nodes in one
// process that talk over real loopback TCP. Node "web" runs HttpRpc; for
// each HTTP request it sends one event through its RPC link to Echo on node
// "echo", and answers with the reply.
//
// Usage:
//
//	mt-test-http-rpc [--conf FILE] [--set Service.key=value]...
//
// The config is embedded (see defaultConf); --conf reads (and completes) a
// file instead, and --set overrides any key. Keys: HttpRpc.* and
// WebServer.* for the web node's HTTP side, RPC.* for its links, EchoNode.* for the echo node's RPC
// service (EchoNode.bindAddr is where it listens). An empty or "local"
// HttpRpc.backend means the echo node of this program.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mtnode/mtnode/examples/demo/echo"
	"github.com/mtnode/mtnode/examples/demo/httprpc"
	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

//go:embed default.conf
var defaultConf string

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mt-test-http-rpc:", err)
		os.Exit(1)
	}
}

// sets collects repeated --set flags.
type sets map[string]string

func (s sets) String() string { return "" }
func (s sets) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || !strings.Contains(k, ".") {
		return fmt.Errorf("--set %q: want Service.key=value", v)
	}
	s[k] = val
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("mt-test-http-rpc", flag.ContinueOnError)
	confPath := fs.String("conf", "", "config file (default: the embedded config, in memory)")
	overrides := sets{}
	fs.Var(overrides, "set", "override a config key: Service.key=value (repeatable)")
	level := fs.String("log", "info", "log level: debug, info, warn, error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the program stops")
	if err := fs.Parse(args); err != nil {
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
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	store, err := config.Open(config.Options{Path: *confPath, Embedded: defaultConf, Overrides: overrides, Logger: logger})
	if err != nil {
		return err
	}
	// The GC floor every binary built on internal/boot starts (mtnode and
	// mt-test-http, this test's baseline, among them), with the same key.
	gcFloor := uint64(max(0, store.Sub("Node").Int("gcFloorMiB", gctune.DefaultFloor>>20,
		"heap growth (MiB) below which the garbage collector does not run: small heaps then collect once per this much allocation rather than once per GOGC% of themselves; 0 = Go's GOGC alone")))
	gctune.Start(gcFloor << 20)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	echoNode, err := core.New(core.Config{Name: "echo", Logger: logger,
		Services: []sdk.Spec{rpc.Spec, echo.Spec},
		Start:    []string{rpc.Name, "Echo"},
		Conf: func(svc string) sdk.Config {
			if svc == rpc.Name {
				return store.Sub("EchoNode")
			}
			return store.Sub(svc)
		}})
	if err != nil {
		return err
	}
	if err := echoNode.Start(ctx, nil); err != nil {
		return err
	}
	defer stopNode(echoNode)
	ev, err := echoNode.Request(ctx, sdk.To(rpc.Name), &rpcpb.ListLinks{})
	if err != nil {
		return fmt.Errorf("asking the echo node for its address: %w", err)
	}
	listen := ev.Msg.(*rpcpb.Links).GetListen()
	if len(listen) == 0 {
		return errors.New("the echo node does not listen: set EchoNode.bindAddr")
	}

	var web *httprpc.Service
	webNode, err := core.New(core.Config{Name: "web", Logger: logger,
		Services: []sdk.Spec{rpc.Spec, webserver.Spec,
			sdk.Define(httprpc.Name, func() sdk.Service { web = httprpc.New(); return web }, sdk.Inline())},
		Start: []string{rpc.Name, webserver.Name, httprpc.Name},
		Conf: func(svc string) sdk.Config {
			if svc == httprpc.Name {
				return backendDefault{store.Sub(svc), listen[0]}
			}
			return store.Sub(svc)
		}})
	if err != nil {
		return err
	}
	if err := webNode.Start(ctx, nil); err != nil {
		return err
	}
	defer stopNode(webNode)
	for _, p := range store.Problems() {
		logger.Warn("config problem", slog.String(sdk.KeyErr, p.Error()))
	}
	select {
	case <-web.Ready():
	case <-time.After(10 * time.Second):
		return errors.New("WebServer did not listen for HttpRpc (see the log; is HttpRpc.bindAddr free?)")
	case <-ctx.Done():
		return nil
	}
	fmt.Printf("mt-test-http-rpc: HttpRpc on http://%s, Echo on node %s\n", strings.Join(web.Addrs(), ","), strings.Join(listen, ","))
	<-ctx.Done()
	return nil
}

func stopNode(n *core.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.Stop(ctx)
}

// backendDefault makes an empty (or "local": the web node has no Echo)
// HttpRpc.backend mean the echo node.
type backendDefault struct {
	sdk.Config
	addr string
}

func (b backendDefault) String(key, def, desc string) string {
	v := b.Config.String(key, def, desc)
	if key == "backend" && (v == "" || v == "local") {
		return b.addr
	}
	return v
}
