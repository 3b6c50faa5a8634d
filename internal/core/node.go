package core

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/internal/router"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/suggest"
)

// Config configures a Node. The zero value of every field means its default.
type Config struct {
	// Name is the node's name in logs and the console prompt (default "mtnode").
	Name string
	// Services are the services this node can construct, by name.
	Services []sdk.Spec
	// Start lists services constructed and started at boot, in this order.
	Start []string
	// Logger receives the node's logs (default: discard).
	Logger *slog.Logger
	// LogLevel, when set, is the level the console's "log level" changes.
	LogLevel *slog.LevelVar
	// Conf returns a service's config section (default: defaults only, no file).
	Conf func(service string) sdk.Config
	// ConfigEntries and SetConfig back the Admin interface's config view.
	ConfigEntries func() []sdk.ConfigEntry
	SetConfig     func(key, value string) error
	// ResetPlugin backs the Admin interface's ResetPlugin (the plugin
	// host's Reset); nil means the node runs no plugins.
	ResetPlugin func(name string) error
	// QueueLimit is the default queue limit per service (default 65536).
	QueueLimit int
	// ShutdownTimeout bounds the drain of queues at Stop (default 10s).
	ShutdownTimeout time.Duration
	// Clock returns the current time (default time.Now); tests inject one.
	Clock func() time.Time
	// Runtime is this runtime's name in ENDPOINT hops: "" for a node, the
	// plugin's name inside a plugin process.
	Runtime string
	// Epoch identifies this incarnation (default: random). A reply for a
	// previous incarnation's link is refused.
	Epoch uint64
	// NoAdmin withholds sdk.Admin from the services' contexts (plugins).
	NoAdmin bool
	// ExtraServices lists services that live outside the node (plugins) for
	// Stats and the console; nil means none.
	ExtraServices func() []sdk.ServiceInfo
	// Held returns how many events the node has handed to services outside
	// it (plugins) and not yet had back: requests they have not answered,
	// events on their way to them. A stopping node waits for them to come
	// back as it waits for its queues to drain, before it stops its own
	// services, through which the answers leave; nil means none.
	Held func() int
}

// DefaultQueueLimit is the queue limit of a service that sets none.
const DefaultQueueLimit = 65536

// Node is one runtime: its services, their queues and goroutines, and the
// router that connects them to plugins and other nodes. Several nodes can
// live in one process; they share nothing.
type Node struct {
	cfg     Config
	log     *slog.Logger
	router  *router.Router
	specs   map[string]sdk.Spec
	started time.Time
	level   *slog.LevelVar

	mu       sync.Mutex
	table    sync.Map   // running services: name -> *service (writes under mu)
	order    []*service // start order
	stopping atomic.Bool
	stopped  chan struct{}

	endpoints endpointTable
	nextReq   atomic.Uint64

	quiesceOnce sync.Once
	quiescing   atomic.Bool       // set by Quiesce
	asked       []<-chan struct{} // set by Quiesce: closed as each service asked has quiesced
}

// New builds a node. It fails on duplicate service names or a Start entry
// that names no service (the error lists the known ones).
func New(cfg Config) (*Node, error) {
	if cfg.Name == "" {
		cfg.Name = "mtnode"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = DefaultQueueLimit
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Conf == nil {
		cfg.Conf = func(string) sdk.Config { return Defaults{} }
	}
	if cfg.LogLevel == nil {
		cfg.LogLevel = new(slog.LevelVar)
	}
	if cfg.Epoch == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Epoch = binary.LittleEndian.Uint64(b[:]) | 1
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger.With(sdk.KeyNode, cfg.Name),
		specs: make(map[string]sdk.Spec, len(cfg.Services)), started: cfg.Clock(),
		level: cfg.LogLevel, stopped: make(chan struct{}),
	}
	for _, s := range cfg.Services {
		if _, dup := n.specs[s.Name]; dup {
			return nil, fmt.Errorf("core: service %q is registered twice", s.Name)
		}
		n.specs[s.Name] = s
	}
	n.endpoints.init()
	n.router = router.New(n, cfg.Runtime, cfg.Epoch, n.log)
	return n, nil
}

// ErrUnknownStart is returned by Start when Start= names a service that is
// not registered.
var ErrUnknownStart = errors.New("core: unknown service in Start")

// Start is StartWith(ctx, known, nil): the names that known reports are
// checked but not started; the caller starts them.
func (n *Node) Start(ctx context.Context, known func(name string) bool) error {
	return n.StartWith(ctx, known, nil)
}

// StartWith constructs and starts the services of Config.Start in the order
// listed, each once the one before it has finished starting. A name that is
// not registered here is checked against known (for example the plugin
// catalogue) and started at its place in the order by startOther; with
// startOther nil it is skipped, for the caller to start. Every name is
// checked before anything starts: an unknown one fails with ErrUnknownStart,
// naming it and listing the known services. Once ctx ends, no further
// service is started and ctx's error is returned.
func (n *Node) StartWith(ctx context.Context, known func(name string) bool, startOther func(ctx context.Context, name string) error) error {
	for _, name := range n.cfg.Start {
		if _, ok := n.specs[name]; !ok {
			if known != nil && known(name) {
				continue
			}
			return fmt.Errorf("%w: %q is not a known service (known: %s)", ErrUnknownStart, name, strings.Join(n.Known(), ", "))
		}
	}
	for _, name := range n.cfg.Start {
		if err := ctx.Err(); err != nil { // a stop was asked for: start nothing more
			return fmt.Errorf("core: boot stopped before %s started: %w", name, err)
		}
		if _, ok := n.specs[name]; !ok {
			if startOther != nil {
				if err := startOther(ctx, name); err != nil {
					return fmt.Errorf("core: starting %s: %w", name, err)
				}
			}
			continue
		}
		s, err := n.ensure(name)
		if err != nil {
			return err
		}
		select {
		case <-s.startDone:
		case <-ctx.Done():
			return fmt.Errorf("core: starting %s: %w", name, ctx.Err())
		}
		if s.startErr != nil {
			return fmt.Errorf("core: starting %s: %w", name, s.startErr)
		}
	}
	return nil
}

// Known returns the names of the services registered on this node, sorted.
func (n *Node) Known() []string {
	out := make([]string, 0, len(n.specs))
	for name := range n.specs {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Has reports whether a service of that name is registered on this node.
func (n *Node) Has(name string) bool { _, ok := n.specs[name]; return ok }

// Router returns the node's router, for the plugin host and node links.
func (n *Node) Router() *router.Router { return n.router }

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Epoch returns this incarnation's epoch.
func (n *Node) Epoch() uint64 { return n.router.Epoch() }

// Logger returns the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

func (n *Node) lookup(name string) *service {
	if v, ok := n.table.Load(name); ok {
		return v.(*service)
	}
	return nil
}

// ensure returns the running service name, constructing it if needed.
func (n *Node) ensure(name string) (*service, error) {
	if s := n.lookup(name); s != nil {
		return s, nil
	}
	spec, ok := n.specs[name]
	if !ok {
		return nil, sdk.ErrNoService
	}
	n.mu.Lock()
	if s := n.lookup(name); s != nil {
		n.mu.Unlock()
		return s, nil
	}
	if n.stopping.Load() {
		n.mu.Unlock()
		return nil, &sdk.DeliveryError{Code: sdk.CodeStopped, Message: "node is stopping"}
	}
	s := newService(n, spec)
	n.table.Store(name, s)
	n.order = append(n.order, s)
	n.mu.Unlock()
	// Launch outside the lock: an Inline service's Start runs right here and
	// may send to services not built yet (or fail and remove itself), which
	// takes the lock again. Other senders that find s wait for startDone.
	s.launch()
	return s, nil
}

// remove drops s from the table (after a failed start) so that the next
// event constructs the service anew.
func (n *Node) remove(s *service) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lookup(s.name) != s {
		return
	}
	n.table.Delete(s.name)
	n.order = slices.DeleteFunc(n.order, func(x *service) bool { return x == s })
}

// Enqueue implements router.Local.
func (n *Node) Enqueue(name string, ev *sdk.Event) error {
	s := n.lookup(name)
	if s == nil {
		// Not running: a name this node has no spec for (a plugin's or a
		// node link's service, which the router tries next) is answered
		// from the spec table, fixed since New, without ensure's second
		// lookup. In plugin BenchmarkOneWay the two lookups were 5% of
		// the host's CPU.
		if _, ok := n.specs[name]; !ok {
			return sdk.ErrNoService
		}
		var err error
		if s, err = n.ensure(name); err != nil {
			return err
		}
	}
	return s.deliver(ev)
}

// Endpoint implements router.Local.
func (n *Node) Endpoint(id uint64, ev *sdk.Event) bool { return n.endpoints.deliver(id, ev) }

// Suggest implements router.Local: the closest known name, for "did you mean".
func (n *Node) Suggest(name string) string {
	return suggest.Closest(name, n.Known(), 2)
}

// Send delivers msg to to from outside any service, with no reply expected:
// failures are logged. For a reply, use Request or Endpoint.
func (n *Node) Send(to sdk.Addr, msg proto.Message) error {
	if n.stopping.Load() {
		return &sdk.DeliveryError{Code: sdk.CodeStopped, Message: "node is stopping"}
	}
	ev := &sdk.Event{Msg: msg, Kind: sdk.KindRequest, ID: n.nextReq.Add(1), Dst: to.Service}
	ev.SetDstNode(to.Node)
	n.router.Deliver(ev)
	return nil
}

// Request sends msg to to and waits for the reply: the blocking client API
// for code outside services (CLI, tests). An error event comes back as its
// *sdk.DeliveryError; ctx's end as an ErrTimeout *sdk.DeliveryError wrapping
// ctx.Err(). Never call it from a handler.
func (n *Node) Request(ctx context.Context, to sdk.Addr, msg proto.Message) (*sdk.Event, error) {
	if n.stopping.Load() {
		return nil, &sdk.DeliveryError{Code: sdk.CodeStopped, Message: "node is stopping"}
	}
	ch := make(chan *sdk.Event, 1)
	ep := n.openEndpoint(func(ev *sdk.Event) {
		select {
		case ch <- ev:
		default: // a second answer to the same request is not expected; keep the first
		}
	}, nil)
	defer ep.Close()
	ep.Send(to, msg)
	select {
	case ev := <-ch:
		if ev.Kind == sdk.KindError {
			return ev, ev.Err
		}
		return ev, nil
	case <-ctx.Done():
		return nil, &sdk.DeliveryError{Code: sdk.CodeTimeout, Dst: to.String(),
			Message: fmt.Sprintf("no answer from %s: %v", to, ctx.Err())}
	}
}

// Endpoint opens a reply target for outside code: events sent through it
// have it as their route, and replies and error events are passed to fn on
// the delivering goroutine.
func (n *Node) OpenEndpoint(fn func(*sdk.Event)) sdk.Endpoint { return n.openEndpoint(fn, nil) }

// Stop stops the node in three steps:
//
//  1. It refuses new outside work: Send, Request and new services at once,
//     and every running sdk.Quiescer (WebServer, RPC, SocketIO...) is asked
//     to take no more, in reverse start order.
//  2. It waits for those to have quiesced and for the queues to drain, for
//     up to ShutdownTimeout.
//  3. It stops the services in reverse start order, with a second
//     ShutdownTimeout of their own for all of their Stops, so that a drain
//     that used all of its time does not leave them an expired deadline.
//
// ctx bounds the whole (cancel it to stop at once). Stop returns the errors
// of services that failed to stop in time, joined.
func (n *Node) Stop(ctx context.Context) error {
	if !n.stopping.CompareAndSwap(false, true) {
		<-n.stopped
		return nil
	}
	defer close(n.stopped)
	drainCtx, cancel := context.WithTimeout(ctx, n.cfg.ShutdownTimeout)
	defer cancel()
	n.Quiesce()
	n.waitDrained(drainCtx, slices.Clone(n.asked))

	stopCtx, cancelStop := context.WithTimeout(ctx, n.cfg.ShutdownTimeout)
	defer cancelStop()
	n.mu.Lock()
	order := slices.Clone(n.order)
	n.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		if err := order[i].stop(stopCtx); err != nil {
			errs = append(errs, err)
		}
	}
	n.endpoints.closeAll()
	return errors.Join(errs...)
}

// Quiesce asks every running service that takes outside work (an
// sdk.Quiescer) to take no more, as Stop's first step does, and returns
// without waiting: for a runtime whose stop is decided elsewhere, such as a
// plugin process whose node has begun to stop. Only the first call asks; a
// service that starts after it quiesces at its start.
func (n *Node) Quiesce() {
	n.quiesceOnce.Do(func() {
		n.quiescing.Store(true) // services that start from now on quiesce at their start
		n.asked = n.quiesce()
	})
}

// quiesce asks every running service that takes outside work to take no
// more, in reverse start order, without waiting for any: a queued service
// quiesces on its own goroutine ahead of its backlog, an Inline one on a
// goroutine of its own. A service still in its Start is left to its stop.
// It returns a channel per service asked, closed once it has quiesced.
func (n *Node) quiesce() []<-chan struct{} {
	n.mu.Lock()
	order := slices.Clone(n.order)
	n.mu.Unlock()
	var asked []<-chan struct{}
	for i := len(order) - 1; i >= 0; i-- {
		s := order[i]
		select {
		case <-s.startDone:
		default:
			continue
		}
		if done := s.quiesce(); done != nil {
			asked = append(asked, done)
		}
	}
	return asked
}

// waitDrained polls until every service asked to quiesce has (quiescing),
// every queue is empty and nothing is held outside the node (Config.Held),
// or ctx ends.
func (n *Node) waitDrained(ctx context.Context, quiescing []<-chan struct{}) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		quiescing = slices.DeleteFunc(quiescing, func(done <-chan struct{}) bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		})
		pending, held := 0, 0
		n.table.Range(func(_, v any) bool {
			pending += v.(*service).pending()
			return true
		})
		if n.cfg.Held != nil {
			held = n.cfg.Held()
		}
		if pending == 0 && held == 0 && len(quiescing) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			n.log.Warn("shutdown timeout reached with events still queued or held by plugins (raise Node.shutdownTimeout if they need longer)",
				"queued", pending, "held", held, "quiescing", len(quiescing))
			return
		case <-t.C:
		}
	}
}

// Stats returns the state and counters of every service that has run.
func (n *Node) Stats() []sdk.ServiceInfo {
	n.mu.Lock()
	order := slices.Clone(n.order)
	n.mu.Unlock()
	seen := map[string]bool{}
	var out []sdk.ServiceInfo
	for _, s := range order {
		seen[s.name] = true
		out = append(out, s.info())
	}
	for _, name := range n.Known() {
		if !seen[name] {
			out = append(out, sdk.ServiceInfo{Name: name, Where: "node", State: "idle", Delivery: delivery(n.specs[name])})
		}
	}
	if n.cfg.ExtraServices != nil {
		out = append(out, n.cfg.ExtraServices()...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DroppedReplies returns the number of replies and error events dropped
// because their receiver's queue was beyond its reserve, or a link's send
// queue was full (see the package doc). They are counted in Undeliverable
// too. A reply refused to sdk.Handle.TryReplyTo is not dropped and not
// counted: its sender holds it and offers it again.
func (n *Node) DroppedReplies() uint64 { return n.router.DroppedFull.Load() }

// Undeliverable returns the number of replies and error events that found no
// receiver.
func (n *Node) Undeliverable() uint64 { return n.router.Undeliverable.Load() }
