package sdk

import (
	"context"
	"fmt"
	"regexp"

	"google.golang.org/protobuf/proto"
)

// Service handles events. Handle is called on the service's own goroutine,
// one event at a time, in arrival order (for Inline services: on the
// sender's goroutine, concurrently). The Context is valid only until Handle
// returns.
//
// A returned error (or a panic) is logged and counted, and, when ev is a
// request, the sender gets an error event with the error's code (see CodeOf;
// a plain error is CodeHandlerFailed). The service goes on.
type Service interface {
	Handle(c Context, ev *Event) error
}

// HandlerFunc adapts a plain function to a Service.
type HandlerFunc func(c Context, ev *Event) error

// Handle calls f(c, ev).
func (f HandlerFunc) Handle(c Context, ev *Event) error { return f(c, ev) }

// Starter is implemented by services that have work to do before their
// first event: read config, bind, start owned goroutines. Start is the start
// event: it is always the first call a service gets. A returned error fails
// every event queued for the service with ErrStartFailed; the next event
// constructs the service anew and tries again.
type Starter interface {
	Start(c Context) error
}

// Quiescer is implemented by services that take work from outside the
// node: listeners, client connections, node links. When the node begins to
// stop, before it waits for the queues to drain, it calls Quiesce once on
// every running service that has it, in reverse start order, on the
// service's own goroutine, right after the event it is handling (ahead of
// the events still to handle). From then on
// the service takes no new outside work (it closes its listeners and refuses
// new requests from outside with ErrStopped) but still handles its queued
// events and delivers the answers to the work it took before. Stop follows
// once the queues have drained. A service in a plugin process is asked at
// the same moment as the node's own.
type Quiescer interface {
	Quiesce(c Context)
}

// Stopper is implemented by services that hold resources. Stop is called on
// the service's goroutine once its queue is drained, when the node stops. It
// must cope with a failed or partial Start, and return by ctx's deadline.
// Goroutines started with Context.Go are cancelled and waited for after Stop.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Spec registers a service: its name, its constructor and how its events are
// delivered. Build one with Define.
type Spec struct {
	Name string
	New  func() Service

	inline   bool
	workers  int
	shardKey func(*Event) uint64
	queueLen int
	accepts  []string
}

// Option configures a Spec.
type Option func(*Spec)

var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// Define returns the Spec of a service. It panics on an invalid name or a
// nil constructor: those are programming errors, caught at registration.
// Names start with a letter and hold letters, digits, '_' and '-'.
func Define(name string, newFn func() Service, opts ...Option) Spec {
	if !validName.MatchString(name) {
		panic(fmt.Sprintf("sdk: invalid service name %q (letters, digits, _ and -, starting with a letter)", name))
	}
	if newFn == nil {
		panic(fmt.Sprintf("sdk: nil constructor for service %q", name))
	}
	s := Spec{Name: name, New: newFn}
	for _, o := range opts {
		o(&s)
	}
	if s.inline && s.workers > 0 {
		panic(fmt.Sprintf("sdk: service %q: Inline and Workers exclude each other", name))
	}
	return s
}

// Inline makes the service's handler run on the sender's goroutine, with no
// queue: for stateless, thread-safe services on hot paths. Handle may be
// called concurrently. Start still runs before the first Handle.
func Inline() Option { return func(s *Spec) { s.inline = true } }

// Workers gives the service n goroutines, each with its own queue; events
// are sharded by key(ev) % n, so events with the same key keep their order.
// key must be safe for concurrent use; nil shards by request id.
func Workers(n int, key func(*Event) uint64) Option {
	if n < 1 {
		panic("sdk: Workers needs n >= 1")
	}
	return func(s *Spec) { s.workers, s.shardKey = n, key }
}

// QueueLen sets the default queue limit; the config key
// <Service>.queueLimit overrides it.
func QueueLen(n int) Option {
	if n < 1 {
		panic("sdk: QueueLen needs n >= 1")
	}
	return func(s *Spec) { s.queueLen = n }
}

// Accepts declares the event types the service takes, for the plugin
// manifest and the console. A Mux declares its own; use Accepts for services
// that are not built on a Mux.
func Accepts(msgs ...proto.Message) Option {
	return func(s *Spec) {
		for _, m := range msgs {
			s.accepts = append(s.accepts, string(m.ProtoReflect().Descriptor().FullName()))
		}
	}
}

// IsInline reports whether the service runs on its senders' goroutines.
func (s Spec) IsInline() bool { return s.inline }

// WorkerCount returns the number of worker goroutines (1 unless Workers was given).
func (s Spec) WorkerCount() int {
	if s.workers < 1 {
		return 1
	}
	return s.workers
}

// ShardKey returns the sharding function given to Workers, or nil.
func (s Spec) ShardKey() func(*Event) uint64 { return s.shardKey }

// QueueLimit returns the default queue limit (0: the node's default).
func (s Spec) QueueLimit() int { return s.queueLen }

// EventTypes returns the full names of the event types the service takes:
// those given to Accepts, or, when the service is built on a Mux (its value
// has a Types method), those of the Mux. Building the value calls New, which
// has no side effects by contract.
func (s Spec) EventTypes() []string {
	if len(s.accepts) > 0 {
		return append([]string(nil), s.accepts...)
	}
	if t, ok := s.New().(interface{ Types() []string }); ok {
		return t.Types()
	}
	return nil
}
