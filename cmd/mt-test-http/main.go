// Command mt-test-http is the seed's test_http: one process with WebServer
// and HelloWeb linked in and an embedded config, so that the HTTP fast path
// can be measured without a plugin hop. HelloWeb runs inline on WebServer's
// connection goroutines.
//
// Usage:
//
//	mt-test-http [--conf FILE] [--set Service.key=value]... [--cpuprofile FILE]
//
// Without --conf the embedded config (default.conf) is used in memory and
// nothing is written; --conf reads the file (created from the embedded
// config when missing). --set overrides any key, e.g.
// --set HelloWeb.bindAddr=127.0.0.1:8188 --set HelloWeb.docRoot=/srv/www.
// Once WebServer has bound, the program prints the bound addresses (port 0
// resolved) as "mt-test-http: HelloWeb on http://ADDR[,ADDR...] (docRoot ...)"
// and runs until SIGINT or SIGTERM, then exits 0. When the bind fails it
// says why and exits 1.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mtnode/mtnode/examples/demo/helloweb"
	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/sdk"
)

//go:embed default.conf
var defaultConf string

func main() {
	err := run(os.Args[1:])
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	fmt.Fprintln(os.Stderr, "mt-test-http:", err)
	var ue *boot.UsageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

// setFlags collects repeated --set flags.
type setFlags []string

func (s *setFlags) String() string     { return fmt.Sprint(*s) }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("mt-test-http", flag.ContinueOnError)
	confPath := fs.String("conf", "", "config file (default: the embedded config, in memory)")
	var sets setFlags
	fs.Var(&sets, "set", "override a config key: Service.key=value (repeatable)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the program stops")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &boot.UsageError{Err: fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	// HelloWeb tells where WebServer bound it (or why it could not); the
	// constructor runs on the node's goroutines, so it hands the instance
	// over on a channel.
	created := make(chan *helloweb.Service, 1)
	hwSpec := sdk.Define(helloweb.Name, func() sdk.Service {
		s := helloweb.NewService()
		select {
		case created <- s:
		default: // a rebuilt instance (after a failed Start): keep the first
		}
		return s
	}, sdk.Inline())
	n, err := boot.Open(boot.Options{
		Exe:      os.Args[0],
		ConfPath: *confPath,
		Sets:     sets,
		Embedded: defaultConf,
		InMemory: *confPath == "",
		Services: []sdk.Spec{webserver.Spec, hwSpec},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx, nil, nil); err != nil {
		_ = n.Stop()
		return err
	}
	addrs, err := waitListening(ctx, created)
	if err != nil {
		_ = n.Stop()
		return err
	}
	if addrs != nil {
		docRoot := n.Store.Sub(helloweb.Name).String("docRoot", "", "folder to serve files from; empty answers GET / with Hello, World! from memory")
		fmt.Printf("mt-test-http: HelloWeb on http://%s (docRoot %q)\n", strings.Join(addrs, ",http://"), docRoot)
	}
	<-ctx.Done()
	stop()
	return n.Stop()
}

// listenWait bounds the wait for WebServer's answer to HelloWeb's Listen.
const listenWait = 30 * time.Second

// waitListening waits until HelloWeb is listening and returns its bound
// addresses; nil without error when ctx ends first (a signal).
func waitListening(ctx context.Context, created <-chan *helloweb.Service) ([]string, error) {
	timeout := time.NewTimer(listenWait)
	defer timeout.Stop()
	var hw *helloweb.Service
	select {
	case hw = <-created:
	case <-ctx.Done():
		return nil, nil
	case <-timeout.C:
		return nil, errors.New("HelloWeb did not start (is it in Start=?)")
	}
	select {
	case <-hw.Ready():
	case <-ctx.Done():
		return nil, nil
	case <-timeout.C:
		return nil, fmt.Errorf("WebServer did not answer HelloWeb's Listen within %s (see the log)", listenWait)
	}
	if err := hw.Err(); err != nil {
		return nil, fmt.Errorf("HelloWeb cannot listen (choose another address with --set HelloWeb.bindAddr=HOST:PORT): %w", err)
	}
	return hw.Addrs(), nil
}
