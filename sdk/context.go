package sdk

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"
)

// Context is what a handler uses to talk to the rest of the node. It is
// valid only during the Handle (or Start) call it was passed to, and only on
// that goroutine; for goroutines the service owns, use Handle.
//
// Sending never blocks and never fails synchronously: a failure to deliver
// comes back later as an error event.
type Context interface {
	// Event returns the event being handled (nil during Start).
	Event() *Event
	// Name returns this service's name.
	Name() string
	// NodeName returns the name of the node this service runs on.
	NodeName() string

	// Send starts a new request to the service at to. The reply (or an error
	// event) comes back to this service's queue with the returned id.
	Send(to Addr, msg proto.Message) (id uint64)
	// Notify sends msg to to as a one-way event: it carries no route, so
	// it cannot be answered, and nothing on its way keeps track of it. A
	// request from Send to a plugin or another node is remembered until
	// its answer comes, so that a crash or a lost link answers it with an
	// error (and a stopping node waits for the answers its plugins owe),
	// up to a limit past which requests are refused: send what wants no
	// answer with Notify. A notification that cannot be delivered (a full
	// queue, no such service) reaches nobody; it is counted where it fails.
	Notify(to Addr, msg proto.Message)
	// Relay sends msg to to with this service pushed onto the current
	// event's route: the reply comes back here still carrying the original
	// route, so Reply from there passes it on to the original sender.
	Relay(to Addr, msg proto.Message) (id uint64)
	// Forward hands the current event, unchanged and with its route, to to:
	// the reply skips this service. msg replaces the payload when non-nil.
	Forward(to Addr, msg proto.Message)
	// Reply answers the current event along its route.
	Reply(msg proto.Message)
	// ReplyTo answers ev, an event this service received earlier (a stored
	// request). It may be called more than once for the same ev (periodic
	// answers such as timer ticks). It reads ev's id and route and does not
	// keep ev.
	ReplyTo(ev *Event, msg proto.Message)
	// Fail answers ev with an error event carrying err's code (see CodeOf).
	Fail(ev *Event, err error)

	// Config returns this service's config section.
	Config() Config
	// Logger returns the service's logger (with service=<name>).
	Logger() *slog.Logger
	// Now returns the node clock's time (injectable in tests).
	Now() time.Time

	// Go starts a goroutine owned by the service. Its ctx is cancelled when
	// the service stops, and the service's stop waits for it to return.
	Go(fn func(ctx context.Context))
	// Handle returns a goroutine-safe handle on this service, for goroutines
	// it owns.
	Handle() Handle
}

// Handle is a goroutine-safe view of a running service, for goroutines the
// service owns (accept loops, connection readers, clocks). Its methods never
// block on another service.
type Handle interface {
	// Name returns the service's name.
	Name() string
	// Post queues msg in the service's own queue as a request from the
	// service itself (its route is empty). It returns ErrQueueFull or
	// ErrStopped when the event could not be queued.
	Post(msg proto.Message) error
	// Send starts a request as the service: the reply comes to its queue.
	Send(to Addr, msg proto.Message) (id uint64)
	// Notify sends msg to to as a one-way event, as Context.Notify does.
	Notify(to Addr, msg proto.Message)
	// ReplyTo answers ev, as Context.ReplyTo does.
	ReplyTo(ev *Event, msg proto.Message)
	// TryReplyTo answers ev as ReplyTo does, but when the next hop refuses
	// the reply it returns the error (a *DeliveryError; ErrQueueFull when
	// the receiver's queue is past its limit and reserve) instead of
	// dropping, counting and logging it. The caller still holds the
	// payload and must decide: wait and try again (a producer of data that
	// must not be lost, such as SocketIO's Data), or give up. A nil error
	// means the next hop took it: a local queue, or a link's send queue.
	TryReplyTo(ev *Event, msg proto.Message) error
	// Fail answers ev with an error event, as Context.Fail does.
	Fail(ev *Event, err error)
	// Endpoint opens a reply target outside the service's queue: events sent
	// through it have the endpoint as their route, and their replies and
	// error events are passed to fn on whichever goroutine delivers them. fn
	// must be quick and must not block. Close the endpoint when done.
	Endpoint(fn func(ev *Event)) Endpoint
	// Config returns the service's config section.
	Config() Config
	// Logger returns the service's logger.
	Logger() *slog.Logger
}

// ReplyToLive answers ev through h as ReplyTo does: a reply that a full
// queue refuses is dropped and counted, as any reply is. It returns an error
// only when ev's sender can no longer be reached (its endpoint, node link or
// plugin is gone, or it has stopped), so that a service answering a stored
// request again and again (timer ticks, subscriptions) can forget it.
func ReplyToLive(h Handle, ev *Event, msg proto.Message) error {
	err := h.TryReplyTo(ev, msg)
	if errors.Is(err, ErrQueueFull) {
		h.ReplyTo(ev, msg)
		return nil
	}
	return err
}

// Endpoint is a reply target for code outside a service's queue (an HTTP
// connection, a blocking client call).
type Endpoint interface {
	// Send starts a request whose reply goes to the endpoint's function.
	Send(to Addr, msg proto.Message) (id uint64)
	// Close releases the endpoint; later replies to it are counted as
	// undeliverable.
	Close()
}

// Admin is the node's operator interface: introspection and control for the
// console and metrics services. A Context whose node grants it (services
// linked into the node) implements AdminContext.
type Admin interface {
	NodeName() string
	Epoch() uint64
	StartedAt() time.Time
	Services() []ServiceInfo
	ConfigEntries() []ConfigEntry
	// SetConfig writes key=value to the config file atomically.
	SetConfig(key, value string) error
	SetLogLevel(l slog.Level)
	LogLevel() slog.Level
	// ResetPlugin clears the crash record of the plugin binary name (its
	// file name in the plugins folder), so that a plugin marked failed by
	// a crash loop is launched again by its next event. It fails when the
	// node runs no plugin host or has no such plugin.
	ResetPlugin(name string) error
}

// AdminContext is implemented by contexts that grant Admin.
type AdminContext interface {
	Admin() Admin
}

// ServiceInfo describes one service for operators.
type ServiceInfo struct {
	Name        string
	Where       string // "node", "plugin <file>", ...
	State       string // "idle", "starting", "running", "stopping", "stopped", "failed"
	Delivery    string // "queue", "inline", "workers=N"
	QueueLen    int
	QueueHigh   int // high-water mark
	QueueLimit  int
	Handled     uint64
	Sent        uint64
	Errors      uint64
	QueueFull   uint64
	Panics      uint64
	HandlerTime time.Duration
}

// ConfigEntry is one effective config value with its source.
type ConfigEntry struct {
	Key, Value, Default, Description, Source string
}
