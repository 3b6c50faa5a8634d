// Package sdktest runs services in an in-memory node for tests: the same
// runtime as mtnode's, with no config file, no network and no plugins.
//
//	n := sdktest.New(t, greeter.Spec)
//	reply, err := n.Request(sdk.To("Greeter"), wrapperspb.String("Ada"))
package sdktest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/sdk"
)

// Node is an in-memory node running the services under test. It is stopped
// when the test ends.
type Node struct {
	t testing.TB
	n *core.Node
	// Timeout bounds each Request (default 5s).
	Timeout time.Duration
}

// Option configures New.
type Option func(*core.Config)

// WithConfig gives the services a config: values[service] is a map of key
// to value; other keys get their defaults.
func WithConfig(values map[string]map[string]string) Option {
	return func(c *core.Config) {
		c.Conf = func(service string) sdk.Config { return mapConfig{values[service]} }
	}
}

// WithStart starts these services before New returns (others start on their
// first event).
func WithStart(names ...string) Option { return func(c *core.Config) { c.Start = names } }

// WithLogger sends the node's logs to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(c *core.Config) { c.Logger = l } }

// New starts a node holding specs. It fails the test if the node cannot
// start, and stops the node (checking that it stops in time) at cleanup.
func New(t testing.TB, specs []sdk.Spec, opts ...Option) *Node {
	t.Helper()
	cfg := core.Config{Name: "test", Services: specs}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := core.New(cfg)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx, nil); err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("sdktest: stopping the node: %v", err)
		}
	})
	return &Node{t: t, n: n, Timeout: 5 * time.Second}
}

// Request sends msg to to and waits for the reply. An error event comes back
// as its *sdk.DeliveryError.
func (n *Node) Request(to sdk.Addr, msg proto.Message) (proto.Message, error) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), n.Timeout)
	defer cancel()
	ev, err := n.n.Request(ctx, to, msg)
	if err != nil {
		return nil, err
	}
	return ev.Msg, nil
}

// Send delivers msg to to with no reply expected.
func (n *Node) Send(to sdk.Addr, msg proto.Message) error { return n.n.Send(to, msg) }

// Stop stops the node now, as SIGTERM stops a real one (see core.Node.Stop):
// for tests of a service's graceful stop. The stop at cleanup then does
// nothing.
func (n *Node) Stop(ctx context.Context) error { return n.n.Stop(ctx) }

// Stats returns the services' counters.
func (n *Node) Stats() []sdk.ServiceInfo { return n.n.Stats() }
