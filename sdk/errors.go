package sdk

import (
	"errors"
	"fmt"
)

// Code classifies a delivery failure. Codes travel on the wire (mtpb.Code),
// so a sender sees the same code whether the receiver was local, in a plugin
// or on another node.
type Code int32

// Delivery failure codes; each has a sentinel error below.
const (
	CodeUnspecified   Code = 0
	CodeNoService     Code = 1
	CodeUnknownEvent  Code = 2
	CodeQueueFull     Code = 3
	CodeHandlerFailed Code = 4
	CodePluginCrashed Code = 5
	CodeLinkLost      Code = 6
	CodeNodeRestarted Code = 7
	CodeStopped       Code = 8
	CodeRouteTooLong  Code = 9
	CodeStartFailed   Code = 10
	CodeTimeout       Code = 11
	CodeRefused       Code = 12
	CodeBadEvent      Code = 13
)

// Sentinel errors. Error events carry a *DeliveryError whose Is matches the
// sentinel of its code, so callers write errors.Is(ev.Err, sdk.ErrNoService).
var (
	// ErrNoService: no service of that name is registered on the node, in its
	// plugins or, for a remote address, on that node.
	ErrNoService = errors.New("no such service")
	// ErrUnknownEvent: the receiver does not take events of that type, or the
	// type is not registered in the receiving process.
	ErrUnknownEvent = errors.New("unknown event type")
	// ErrQueueFull: the receiver's queue was at its limit; the event was not
	// queued.
	ErrQueueFull = errors.New("queue full")
	// ErrHandlerFailed: the receiver's handler returned an error or panicked.
	ErrHandlerFailed = errors.New("handler failed")
	// ErrPluginCrashed: the plugin process holding the receiver died before
	// answering.
	ErrPluginCrashed = errors.New("plugin crashed")
	// ErrLinkLost: the link that carried the event closed before the answer
	// came back.
	ErrLinkLost = errors.New("link lost")
	// ErrNodeRestarted: a reply was addressed to a previous incarnation of a
	// node; it was refused rather than misdelivered.
	ErrNodeRestarted = errors.New("node restarted")
	// ErrStopped: the receiver (or the node) is stopping or stopped.
	ErrStopped = errors.New("stopped")
	// ErrRouteTooLong: the route exceeded MaxRoute hops; events are looping.
	ErrRouteTooLong = errors.New("route too long")
	// ErrStartFailed: the receiver's Start returned an error.
	ErrStartFailed = errors.New("service failed to start")
	// ErrTimeout: no answer came in time (blocking client calls).
	ErrTimeout = errors.New("timeout")
	// ErrRefused: the receiver refused the event (authentication, policy).
	ErrRefused = errors.New("refused")
	// ErrBadEvent: the envelope or its payload is malformed.
	ErrBadEvent = errors.New("malformed event")
)

var sentinels = [...]error{
	CodeUnspecified:   nil,
	CodeNoService:     ErrNoService,
	CodeUnknownEvent:  ErrUnknownEvent,
	CodeQueueFull:     ErrQueueFull,
	CodeHandlerFailed: ErrHandlerFailed,
	CodePluginCrashed: ErrPluginCrashed,
	CodeLinkLost:      ErrLinkLost,
	CodeNodeRestarted: ErrNodeRestarted,
	CodeStopped:       ErrStopped,
	CodeRouteTooLong:  ErrRouteTooLong,
	CodeStartFailed:   ErrStartFailed,
	CodeTimeout:       ErrTimeout,
	CodeRefused:       ErrRefused,
	CodeBadEvent:      ErrBadEvent,
}

// Sentinel returns the sentinel error for c, or nil for an unknown code.
func (c Code) Sentinel() error {
	if c < 0 || int(c) >= len(sentinels) {
		return nil
	}
	return sentinels[c]
}

func (c Code) String() string {
	if err := c.Sentinel(); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("code %d", int32(c))
}

// CodeOf returns the code of err: the code of a *DeliveryError in its chain,
// the code whose sentinel it wraps, or CodeHandlerFailed for any other error.
func CodeOf(err error) Code {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Code
	}
	for c, s := range sentinels {
		if s != nil && errors.Is(err, s) {
			return Code(c)
		}
	}
	return CodeHandlerFailed
}

// DeliveryError says why an event was not delivered or not handled. It is
// what error events carry (Event.Err).
type DeliveryError struct {
	Code      Code
	Message   string // what happened and, where it helps, what to do
	EventType string // full protobuf name of the failed event
	Dst       string // where the failed event was going
	Hop       string // where it failed: node, plugin or link
}

func (e *DeliveryError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	if e.Dst != "" && e.EventType != "" {
		return fmt.Sprintf("%s (event %s to %s)", msg, e.EventType, e.Dst)
	}
	if e.Dst != "" {
		return fmt.Sprintf("%s (to %s)", msg, e.Dst)
	}
	return msg
}

// Is reports whether target is the sentinel of e's code.
func (e *DeliveryError) Is(target error) bool {
	s := e.Code.Sentinel()
	return s != nil && s == target
}

// Unwrap returns the sentinel of e's code.
func (e *DeliveryError) Unwrap() error { return e.Code.Sentinel() }

// Errorf builds a *DeliveryError with code c, for handlers that want to fail
// an event with a specific code: return sdk.Errorf(sdk.CodeRefused, "...").
func Errorf(c Code, format string, args ...any) *DeliveryError {
	return &DeliveryError{Code: c, Message: fmt.Sprintf(format, args...)}
}
