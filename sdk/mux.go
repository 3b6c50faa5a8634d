package sdk

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Mux routes events to typed handlers by payload type. Its zero value is
// ready to use. Register handlers (with On, OnError, OnOther) while the
// service is being constructed, before it handles events; a Mux is then
// read-only and safe for concurrent use.
//
// A request whose type has no handler fails with ErrUnknownEvent, which the
// sender receives as an error event. A reply with no handler is ignored
// unless OnOther is set. An error event goes to OnError (default: logged at
// Warn by the runtime as an unhandled error).
type Mux struct {
	handlers map[protoreflect.FullName]func(Context, *Event) error
	onError  func(Context, *Event) error
	onOther  func(Context, *Event) error
}

// On registers fn for events whose payload is a T. It panics if T already has
// a handler on m.
func On[T proto.Message](m *Mux, fn func(c Context, msg T) error) {
	var zero T
	name := zero.ProtoReflect().Descriptor().FullName()
	m.set(name, func(c Context, ev *Event) error {
		msg, ok := ev.Msg.(T)
		if !ok {
			return &DeliveryError{Code: CodeBadEvent, EventType: ev.Type(), Dst: ev.Dst,
				Message: fmt.Sprintf("payload is %T, want %T", ev.Msg, zero)}
		}
		return fn(c, msg)
	})
}

func (m *Mux) set(name protoreflect.FullName, h func(Context, *Event) error) {
	if m.handlers == nil {
		m.handlers = make(map[protoreflect.FullName]func(Context, *Event) error)
	}
	if _, dup := m.handlers[name]; dup {
		panic(fmt.Sprintf("sdk: Mux: duplicate handler for %s", name))
	}
	m.handlers[name] = h
}

// OnError registers fn for error events (ev.Kind == KindError; ev.Err says
// what failed, ev.ID which request).
func (m *Mux) OnError(fn func(c Context, ev *Event) error) { m.onError = fn }

// OnOther registers fn for events no other handler takes. With it set, a
// Mux never fails a request with ErrUnknownEvent.
func (m *Mux) OnOther(fn func(c Context, ev *Event) error) { m.onOther = fn }

// Handle implements Service.
func (m *Mux) Handle(c Context, ev *Event) error {
	if ev.Kind == KindError {
		if m.onError != nil {
			return m.onError(c, ev)
		}
		return errUnhandledError
	}
	if ev.Msg != nil {
		if h, ok := m.handlers[ev.Msg.ProtoReflect().Descriptor().FullName()]; ok {
			return h(c, ev)
		}
	}
	if m.onOther != nil {
		return m.onOther(c, ev)
	}
	if ev.Kind == KindReply {
		return nil
	}
	return &DeliveryError{Code: CodeUnknownEvent, EventType: ev.Type(), Dst: ev.Dst,
		Message: fmt.Sprintf("service does not take %s (it takes %v)", ev.Type(), m.Types())}
}

// Types returns the full names of the payload types m has handlers for, sorted.
func (m *Mux) Types() []string {
	out := make([]string, 0, len(m.handlers))
	for n := range m.handlers {
		out = append(out, string(n))
	}
	sort.Strings(out)
	return out
}

// errUnhandledError is returned by a Mux for an error event with no OnError
// handler; the runtime logs such events at Warn instead of failing them.
var errUnhandledError = fmt.Errorf("sdk: unhandled error event")

// IsUnhandledError reports whether err is what a Mux returns for an error
// event it has no handler for. The runtime uses it to log such events.
func IsUnhandledError(err error) bool { return err == errUnhandledError }

// Interface guards.
var _ Service = (*Mux)(nil)
var _ Service = HandlerFunc(nil)
