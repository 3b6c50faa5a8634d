package sdk

import (
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/mtnode/mtnode/proto/mtpb"
)

// Kind says whether an event is a request, a reply or an error event.
type Kind uint8

// Event kinds.
const (
	KindRequest Kind = iota // a new request; Reply answers it
	KindReply               // an answer, routed back along the request's route
	KindError               // a delivery or handling failure; Err says what
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindReply:
		return "reply"
	case KindError:
		return "error"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// HopKind says what a route hop points at.
type HopKind uint8

// Hop kinds, matching mtpb.Hop_Kind.
const (
	HopService  HopKind = 1 // a service, by name
	HopLink     HopKind = 2 // a node-to-node link, by id on the node that pushed it
	HopEndpoint HopKind = 3 // a waiting caller outside any service, by id
)

// Hop is one return address on a route.
type Hop struct {
	Kind  HopKind
	Name  string // service name (HopService) or runtime name (HopEndpoint; "" = the node)
	ID    uint64 // link or endpoint id
	Epoch uint64 // epoch of the node incarnation that pushed the hop
}

func (h Hop) String() string {
	switch h.Kind {
	case HopService:
		return h.Name
	case HopLink:
		return fmt.Sprintf("link#%d", h.ID)
	case HopEndpoint:
		if h.Name == "" {
			return fmt.Sprintf("endpoint#%d", h.ID)
		}
		return fmt.Sprintf("%s/endpoint#%d", h.Name, h.ID)
	}
	return "hop?"
}

// Route is a stack of return addresses; the last element is the top.
// Routes are shared between events: treat them as read-only, and use Push and
// Pop, which never modify the receiver's backing array.
type Route []Hop

// MaxRoute is the longest route an event may carry. A longer one is refused
// with ErrRouteTooLong: it means events are looping.
const MaxRoute = 64

// Push returns r with h on top. It never writes into r's backing array.
func (r Route) Push(h Hop) Route {
	out := make(Route, len(r)+1, len(r)+2)
	copy(out, r)
	out[len(r)] = h
	return out
}

// Pop returns the top hop and the rest of the route. ok is false for an empty
// route.
func (r Route) Pop() (top Hop, rest Route, ok bool) {
	if len(r) == 0 {
		return Hop{}, nil, false
	}
	n := len(r) - 1
	return r[n], r[:n:n], true
}

// Addr names a destination service, on this node or another.
type Addr struct {
	Node    string // "host:port" of another node; "" or "local" means this node
	Service string
}

// To addresses a service on this node.
func To(service string) Addr { return Addr{Service: service} }

// At addresses a service on the node listening at node ("host:port").
// "" and "local" mean this node.
func At(node, service string) Addr {
	if node == "local" {
		node = ""
	}
	return Addr{Node: node, Service: service}
}

func (a Addr) String() string {
	if a.Node == "" {
		return a.Service
	}
	return a.Node + "/" + a.Service
}

// Event is one message in flight: a protobuf payload and its envelope.
//
// The runtime hands each event to exactly one handler. A handler may keep the
// *Event after Handle returns (for example to answer it later with
// Context.ReplyTo) but must not modify it. A kept event keeps its payload
// and route alive, and may keep alive up to four other events handled by
// the same service just before or after it (they share one allocation);
// keep only what you need of an event you hold for long.
type Event struct {
	Msg   proto.Message  // the payload; nil on error events whose payload was not kept
	Kind  Kind           // request, reply or error
	ID    uint64         // request id chosen by the sender; replies and errors carry it back
	Dst   string         // the service a request is addressed to
	Route Route          // return path
	Err   *DeliveryError // set on error events

	// The address of the node a request still travels to (see DstNode),
	// and the payload of an event that arrived across a boundary and is
	// not decoded yet. Both are rare, and pointers keep an in-process event
	// in the 96-byte size class rather than the 112-byte one: every
	// service-to-service send allocates one.
	dstNode *string
	wire    *wirePayload
}

// DstNode returns the address of the node a request is still travelling to,
// or "" when it is addressed to the node it is on.
func (e *Event) DstNode() string {
	if e.dstNode == nil {
		return ""
	}
	return *e.dstNode
}

// SetDstNode sets the address DstNode returns; "" marks the request as
// arrived. It points e at another string rather than writing through the
// old pointer, so a copy of the event made before keeps its own address.
func (e *Event) SetDstNode(node string) {
	if node == "" {
		e.dstNode = nil
		return
	}
	// Nothing writes through an event's dstNode, so events may share one:
	// the last address set is reused while it matches. A sender forwards to
	// a handful of nodes, mostly to the same one in a row, and allocating a
	// string per Forward to another node cost its goroutine 8% of its time.
	if p := lastDstNode.Load(); p != nil && *p == node {
		e.dstNode = p
		return
	}
	p := new(string) // not &node, which would move node to the heap on every call
	*p = node
	lastDstNode.Store(p)
	e.dstNode = p
}

// lastDstNode is the address SetDstNode last allocated, shared by the events
// it sets that address on.
var lastDstNode atomic.Pointer[string]

// wirePayload is a payload as it arrived from a link: its type name and
// bytes, and the type itself when the link reader's EventAlloc already
// looked it up.
type wirePayload struct {
	typ string
	raw []byte
	mt  protoreflect.MessageType
	gt  reflect.Type // mt's generated struct type, when fastNew found one
}

// wireEvent is an event that arrived from a link, allocated with its wire
// payload and destination node (Event.wire and Event.dstNode point into it).
type wireEvent struct {
	ev      Event
	wp      wirePayload
	dstNode string
}

// wireRequest is a wireEvent for a request that arrived without a route:
// its route is hop[:0:1], room for the hop the receiving node pushes.
type wireRequest struct {
	wireEvent
	hop [1]Hop
}

// Type returns the full protobuf name of the payload (for example
// "mtnode.timer.v1.SetAlarm"), or "" when there is none.
func (e *Event) Type() string {
	if e.Msg != nil {
		return string(e.Msg.ProtoReflect().Descriptor().FullName())
	}
	if e.wire != nil {
		return e.wire.typ
	}
	return ""
}

// Decoded reports whether Msg holds the payload. An event that crossed a
// boundary is decoded by the receiving runtime before its handler sees it.
func (e *Event) Decoded() bool { return e.Msg != nil || e.wire == nil }

// Decode decodes a payload that arrived as bytes, using the protobuf registry
// of this process. A type this process does not know gives an
// ErrUnknownEvent *DeliveryError; bytes that do not parse give ErrBadEvent.
func (e *Event) Decode() error {
	if e.Msg != nil || e.wire == nil {
		return nil
	}
	typ := e.wire.typ
	mt := e.wire.mt
	var err error
	if mt == nil {
		mt, err = protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typ))
	}
	if err != nil {
		return &DeliveryError{Code: CodeUnknownEvent, EventType: typ, Dst: e.Dst,
			Message: fmt.Sprintf("event type %q is not registered in this process (link its generated package into the receiver)", typ)}
	}
	var m proto.Message
	if gt := e.wire.gt; gt != nil {
		m = reflect.New(gt).Interface().(proto.Message)
	} else {
		m = mt.New().Interface()
	}
	// Merge into the new message: Unmarshal would first Reset it, which
	// costs a few percent of a link reader's time for nothing.
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(e.wire.raw, m); err != nil {
		return &DeliveryError{Code: CodeBadEvent, EventType: typ, Dst: e.Dst,
			Message: fmt.Sprintf("payload of %s does not parse: %v", typ, err)}
	}
	e.Msg, e.wire = m, nil
	return nil
}

// LogValue implements slog.LogValuer: events are formatted only when logged,
// and payload contents are never logged.
func (e *Event) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String(KeyEvent, e.Type()),
		slog.String("kind", e.Kind.String()),
		slog.Uint64(KeyReq, e.ID),
		slog.Int(KeyRouteLen, len(e.Route)),
	}
	if e.Dst != "" {
		attrs = append(attrs, slog.String(KeyDst, Addr{Node: e.DstNode(), Service: e.Dst}.String()))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String(KeyErr, e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// Envelope encodes e for a link: the payload is marshalled here, and only here.
func (e *Event) Envelope() (*mtpb.Envelope, error) {
	env := &mtpb.Envelope{
		Kind:    mtpb.Envelope_Kind(e.Kind),
		Dst:     e.Dst,
		DstNode: e.DstNode(),
		Id:      e.ID,
		Type:    e.Type(),
	}
	switch {
	case e.Msg != nil:
		b, err := proto.MarshalOptions{}.Marshal(e.Msg)
		if err != nil {
			return nil, fmt.Errorf("sdk: marshalling %s: %w", env.Type, err)
		}
		env.Payload = b
	case e.wire != nil:
		env.Payload = e.wire.raw
	}
	if len(e.Route) > 0 {
		env.Route = make([]*mtpb.Hop, len(e.Route))
		for i, h := range e.Route {
			env.Route[i] = &mtpb.Hop{Kind: mtpb.Hop_Kind(h.Kind), Name: h.Name, Id: h.ID, Epoch: h.Epoch}
		}
	}
	if e.Err != nil {
		env.Error = &mtpb.Error{Code: mtpb.Code(e.Err.Code), Message: e.Err.Message,
			EventType: e.Err.EventType, Dst: e.Err.Dst, Hop: e.Err.Hop}
	}
	return env, nil
}

// FromEnvelope turns an envelope read from a link into an event whose
// payload is decoded lazily by the receiver. It checks only the envelope's
// shape; it never decodes the payload. A request's route has room for one
// more hop, which no other event shares: Wire.Inbound pushes the link hop
// there without allocating.
func FromEnvelope(env *mtpb.Envelope) (*Event, error) {
	return (*EventAlloc)(nil).FromEnvelope(env)
}

// eventBlock is how many events an EventAlloc allocates at once: a block
// of requests is about 6 KiB, the most an event kept by a handler keeps
// alive with it.
const eventBlock = 32

// EventAlloc makes events from envelopes for one link reader: its events,
// and the routes of its requests, are carved out of blocks allocated
// eventBlock at a time, not one by one. Each allocation on a link reader's
// path costs the more for the memory being new to the cache (the heap grows
// by tens of MiB between collections), and a block is written in order.
// An event keeps the rest of its block alive, so at most a block's worth of
// memory stays with an event a handler keeps.
//
// The zero value is ready for use; an EventAlloc is not safe for
// concurrent use.
type EventAlloc struct {
	reqs []wireRequest
	evs  []wireEvent
	hops []Hop
	// The last payload type looked up, and its name: the events of a
	// batch mostly share a type, and the registry's lookup took 5% of a
	// link reader's time. Decode looks up the types not found here.
	lastTyp string
	lastMT  protoreflect.MessageType
	lastGT  reflect.Type
}

// messageType returns the registered type named typ and its generated
// struct type (see fastNew), or nils.
func (a *EventAlloc) messageType(typ string) (protoreflect.MessageType, reflect.Type) {
	if a == nil {
		return nil, nil
	}
	if typ != a.lastTyp {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typ))
		if err != nil {
			return nil, nil // Decode says what is wrong, if the event is decoded at all
		}
		a.lastTyp, a.lastMT, a.lastGT = typ, mt, fastNew(mt)
	}
	return a.lastMT, a.lastGT
}

// fastNew returns the struct type whose new pointer is a fresh message of
// mt, for a generated message type, or nil (a dynamic type, whose zero
// value is not a message). Decode makes messages with reflect.New of it:
// mt.New goes through the message's reflection wrapper and back, which
// took 17% of a plugin's CPU receiving one-way events, twice reflect.New.
func fastNew(mt protoreflect.MessageType) (gt reflect.Type) {
	defer func() {
		if recover() != nil {
			gt = nil
		}
	}()
	t := reflect.TypeOf(mt.New().Interface())
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	m, ok := reflect.New(t.Elem()).Interface().(proto.Message)
	if !ok || m.ProtoReflect().Descriptor() != mt.Descriptor() {
		return nil
	}
	return t.Elem()
}

func (a *EventAlloc) request() *wireRequest {
	if a == nil {
		return new(wireRequest)
	}
	return carve(&a.reqs)
}

func (a *EventAlloc) event() *wireEvent {
	if a == nil {
		return new(wireEvent)
	}
	return carve(&a.evs)
}

// carve returns the next free slot of *block, allocating a new block of
// eventBlock slots when it is used up. Slots are never handed out twice.
func carve[T any](block *[]T) *T {
	if len(*block) == 0 {
		*block = make([]T, eventBlock)
	}
	p := &(*block)[0]
	*block = (*block)[1:]
	return p
}

// route returns a route of n hops with capacity c, which no other route
// shares.
func (a *EventAlloc) route(n, c int) Route {
	if a == nil || c > eventBlock {
		return make(Route, n, c)
	}
	if len(a.hops) < c {
		a.hops = make([]Hop, 4*eventBlock)
	}
	r := a.hops[:n:c]
	a.hops = a.hops[c:]
	return r
}

// FromEnvelope is the package's FromEnvelope, allocating from a; a nil a
// allocates each event on its own.
func (a *EventAlloc) FromEnvelope(env *mtpb.Envelope) (*Event, error) {
	if env == nil {
		return nil, &DeliveryError{Code: CodeBadEvent, Message: "nil envelope"}
	}
	if len(env.Route) > MaxRoute {
		return nil, &DeliveryError{Code: CodeRouteTooLong, EventType: env.Type, Dst: env.Dst,
			Message: fmt.Sprintf("route has %d hops, more than %d", len(env.Route), MaxRoute)}
	}
	if Kind(env.Kind) > KindError {
		return nil, &DeliveryError{Code: CodeBadEvent, EventType: env.Type, Dst: env.Dst,
			Message: fmt.Sprintf("unknown envelope kind %d", env.Kind)}
	}
	var ev *Event
	request := Kind(env.Kind) == KindRequest
	if env.Type != "" || env.DstNode != "" {
		// One allocation (or one slot of a's block) for the event, its wire
		// payload and its node, and for a request without a route the hop
		// the receiving node pushes.
		var we *wireEvent
		if request && len(env.Route) == 0 {
			wr := a.request()
			we = &wr.wireEvent
			we.ev.Route = wr.hop[:0:1]
		} else {
			we = a.event()
		}
		we.dstNode = env.DstNode
		ev = &we.ev
		if env.Type != "" {
			raw := env.Payload
			if raw == nil {
				raw = []byte{} // an empty message is still a payload to decode
			}
			mt, gt := a.messageType(env.Type)
			we.wp = wirePayload{typ: env.Type, raw: raw, mt: mt, gt: gt}
			ev.wire = &we.wp
		}
		if env.DstNode != "" {
			ev.dstNode = &we.dstNode
		}
	} else {
		ev = new(Event)
	}
	ev.Kind, ev.ID, ev.Dst = Kind(env.Kind), env.Id, env.Dst
	if len(env.Route) > 0 {
		n := len(env.Route)
		if request {
			ev.Route = a.route(n, n+1) // room for the receiving node's hop
		} else {
			ev.Route = a.route(n, n)
		}
		for i, h := range env.Route {
			if h == nil || h.Kind < mtpb.Hop_SERVICE || h.Kind > mtpb.Hop_ENDPOINT {
				return nil, &DeliveryError{Code: CodeBadEvent, EventType: env.Type, Dst: env.Dst,
					Message: fmt.Sprintf("route hop %d is malformed", i)}
			}
			ev.Route[i] = Hop{Kind: HopKind(h.Kind), Name: h.Name, ID: h.Id, Epoch: h.Epoch}
		}
	}
	if env.Error != nil {
		ev.Err = &DeliveryError{Code: Code(env.Error.Code), Message: env.Error.Message,
			EventType: env.Error.EventType, Dst: env.Error.Dst, Hop: env.Error.Hop}
	}
	if ev.Kind == KindError && ev.Err == nil {
		return nil, &DeliveryError{Code: CodeBadEvent, Message: "error envelope without an error"}
	}
	if ev.Kind == KindRequest && ev.Dst == "" {
		return nil, &DeliveryError{Code: CodeBadEvent, EventType: env.Type, Message: "request envelope without a destination"}
	}
	return ev, nil
}
