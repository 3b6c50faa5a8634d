package telnet_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/plugins/telnet"
	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
)

// fileNode is a node built the way mtnode builds one (internal/boot), with
// a real config file in a temporary folder. Tests may use internal
// packages; the service itself may not.
type fileNode struct {
	*boot.Node
	conf string // the config file's path
}

type fileNodeOpts struct {
	conf  string   // initial content of the config file
	sets  []string // --set flags
	env   map[string]string
	specs []sdk.Spec
	// lazy: do not ask the console where it listens (that would start
	// Telnet); the address returned is "".
	lazy bool
}

// startFileNode starts a node whose config file holds o.conf (Start= and
// Telnet.bindAddr are added when missing) and waits until the console
// listens. It returns the node and the console's address.
func startFileNode(t *testing.T, o fileNodeOpts) (*fileNode, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conf", "mtnode-test.conf")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := o.conf
	if !strings.Contains(conf, "Telnet.bindAddr=") {
		conf += "Telnet.bindAddr=127.0.0.1:0\n"
	}
	if !strings.Contains(conf, "Start=") {
		conf += "Start=Telnet\n"
	}
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := boot.Open(boot.Options{
		Exe:      filepath.Join(filepath.Dir(path), "..", "bin", "mtnode-test"),
		ConfPath: path,
		Sets:     o.sets,
		Name:     "test",
		Services: append([]sdk.Spec{telnet.Spec}, o.specs...),
		LogOut:   io.Discard,
		Env: func(k string) (string, bool) {
			v, ok := o.env[k]
			return v, ok
		},
	})
	if err != nil {
		t.Fatalf("boot.Open: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if err := n.Start(ctx, nil, nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	fn := &fileNode{Node: n, conf: path}
	if o.lazy {
		return fn, ""
	}
	return fn, fn.consoleAddr(t)
}

// consoleAddr asks the Telnet service where it listens.
func (n *fileNode) consoleAddr(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	ev, err := n.Request(ctx, sdk.To(telnet.Name), &telnetpb.GetStatus{})
	if err != nil {
		t.Fatalf("GetStatus: %v", err)
	}
	return ev.Msg.(*telnetpb.Status).GetAddrs()[0]
}

// file returns the config file's content.
func (n *fileNode) file(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(n.conf)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkFor polls cond until it holds or waitTime passes.
func checkFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTime)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", waitTime, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
