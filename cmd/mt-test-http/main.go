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
// The program prints where it listens and runs until SIGINT or SIGTERM.
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
	"syscall"

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
	n, err := boot.Open(boot.Options{
		Exe:      os.Args[0],
		ConfPath: *confPath,
		Sets:     sets,
		Embedded: defaultConf,
		InMemory: *confPath == "",
		Services: []sdk.Spec{webserver.Spec, helloweb.Spec},
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
	hw := n.Store.Sub(helloweb.Name)
	fmt.Printf("mt-test-http: HelloWeb on %v (docRoot %q); the log line \"helloweb: listening\" gives the bound ports\n",
		hw.Addrs("bindAddr", "127.0.0.1:8080", "addresses HelloWeb serves HTTP on (comma-separated, IPv4 and IPv6)"),
		hw.String("docRoot", "", "folder to serve files from; empty answers GET / with Hello, World! from memory"))
	<-ctx.Done()
	stop()
	return n.Stop()
}
