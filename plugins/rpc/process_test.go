package rpc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/sdk"
)

// helperEnv makes the test binary run a node instead of the tests: the
// value is its RPC.bindAddr. It prints "ready ADDR" and runs until its stdin
// closes. helperConfEnv adds config lines (Service.key=value, one a line),
// such as Relay.next.
const (
	helperEnv     = "MTNODE_RPC_TEST_NODE"
	helperConfEnv = "MTNODE_RPC_TEST_CONF"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		if err := helperNode(addr, os.Getenv(helperConfEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperNode(addr, conf string) error {
	store, err := config.Open(config.Options{Embedded: "RPC.bindAddr=" + addr + "\n" + conf,
		Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		return err
	}
	n, err := core.New(core.Config{Name: "helper", Services: []sdk.Spec{rpc.Spec, echoSpec, holdSpec, relaySpec},
		Start: []string{rpc.Name}, Conf: func(s string) sdk.Config { return store.Sub(s) }})
	if err != nil {
		return err
	}
	if err := n.Start(context.Background(), nil); err != nil {
		return err
	}
	ev, err := n.Request(context.Background(), sdk.To(rpc.Name), &rpcpbListLinks)
	if err != nil {
		return err
	}
	fmt.Printf("ready %s\n", listenOf(ev))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return n.Stop(context.Background())
}

// proc is a node running in another process.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startProc(t *testing.T, addr string, conf ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+addr, helperConfEnv+"="+strings.Join(conf, "\n")+"\n")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdin: stdin}
	t.Cleanup(p.kill)
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if a, ok := strings.CutPrefix(s.Text(), "ready "); ok {
				line <- a
			}
		}
		close(line)
	}()
	select {
	case a, ok := <-line:
		if !ok {
			t.Fatal("helper node exited before it was ready")
		}
		p.addr = a
	case <-time.After(10 * time.Second):
		t.Fatal("helper node not ready in 10s")
	}
	return p
}

// kill ends the process with SIGKILL and reaps it.
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// TestPeerKilledMidLoad kills a peer process while requests are in flight:
// each gets ErrLinkLost within a second, and traffic resumes when the peer
// comes back, without restarting the sender.
func TestPeerKilledMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	a := startNode(t, nodeOpts{name: "a", conf: map[string]string{"RPC.reconnectMax": "200ms"}})
	b := startProc(t, "127.0.0.1:0")
	const held = 1000
	var lost, other atomic.Int64
	all := make(chan struct{})
	ep := a.OpenEndpoint(func(ev *sdk.Event) {
		if errors.Is(ev.Err, sdk.ErrLinkLost) {
			lost.Add(1)
		} else {
			other.Add(1)
		}
		if lost.Load()+other.Load() == held {
			close(all)
		}
	})
	defer ep.Close()
	for range held {
		ep.Send(sdk.At(b.addr, "Hold"), wrapperspb.String("x"))
	}
	eventually(t, 5*time.Second, "requests held on b", func() bool {
		links := listLinks(t, a).GetLinks()
		return len(links) == 1 && links[0].GetInFlight() == held
	})
	// Echo traffic runs while the peer dies.
	ctx, stopLoad := context.WithCancel(context.Background())
	var ok atomic.Int64
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if _, err := a.Request(rctx, sdk.At(b.addr, "Echo"), wrapperspb.String("load")); err == nil {
				ok.Add(1)
			}
			cancel()
		}
	}()
	eventually(t, 5*time.Second, "echo load running", func() bool { return ok.Load() >= 10 })
	killed := time.Now()
	b.kill()
	select {
	case <-all:
	case <-time.After(time.Until(killed.Add(time.Second))):
		t.Fatalf("within a second of kill -9: %d ErrLinkLost, %d other, want %d", lost.Load(), other.Load(), held)
	}
	stopLoad()
	<-loadDone
	if lost.Load() != held {
		t.Errorf("got %d ErrLinkLost, %d other, want %d ErrLinkLost", lost.Load(), other.Load(), held)
	}

	b2 := startProc(t, b.addr)
	eventually(t, 10*time.Second, "traffic resumes after the peer restarts", func() bool {
		_, err := request(t, a, sdk.At(b2.addr, "Echo"), wrapperspb.String("back"))
		return err == nil
	})
}
