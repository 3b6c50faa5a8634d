package core

import (
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/sdk"
)

// endpointTable maps endpoint ids to reply functions. It is sharded so that
// many connections opening and closing endpoints do not contend on one lock.
type endpointTable struct {
	next   atomic.Uint64
	shards [16]struct {
		mu sync.RWMutex
		m  map[uint64]func(*sdk.Event)
	}
}

func (t *endpointTable) init() {
	for i := range t.shards {
		t.shards[i].m = map[uint64]func(*sdk.Event){}
	}
}

func (t *endpointTable) add(fn func(*sdk.Event)) uint64 {
	id := t.next.Add(1)
	sh := &t.shards[id%uint64(len(t.shards))]
	sh.mu.Lock()
	sh.m[id] = fn
	sh.mu.Unlock()
	return id
}

func (t *endpointTable) remove(id uint64) {
	sh := &t.shards[id%uint64(len(t.shards))]
	sh.mu.Lock()
	delete(sh.m, id)
	sh.mu.Unlock()
}

func (t *endpointTable) deliver(id uint64, ev *sdk.Event) bool {
	sh := &t.shards[id%uint64(len(t.shards))]
	sh.mu.RLock()
	fn := sh.m[id]
	sh.mu.RUnlock()
	if fn == nil {
		return false
	}
	if !ev.Decoded() {
		if err := ev.Decode(); err != nil {
			de, _ := err.(*sdk.DeliveryError)
			ev = &sdk.Event{Kind: sdk.KindError, ID: ev.ID, Err: de}
		}
	}
	fn(ev)
	return true
}

func (t *endpointTable) closeAll() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// endpoint is an sdk.Endpoint: a route of one ENDPOINT hop.
type endpoint struct {
	n     *Node
	owner *service // nil for the node's own endpoints
	id    uint64
	route sdk.Route
}

func (n *Node) openEndpoint(fn func(*sdk.Event), owner *service) *endpoint {
	id := n.endpoints.add(fn)
	return &endpoint{n: n, owner: owner, id: id,
		route: sdk.Route{{Kind: sdk.HopEndpoint, Name: n.cfg.Runtime, ID: id}}}
}

func (e *endpoint) Send(to sdk.Addr, msg proto.Message) uint64 {
	id := e.n.nextReq.Add(1)
	if e.owner != nil {
		e.owner.sent.Add(1)
	}
	ev := &sdk.Event{Msg: msg, Kind: sdk.KindRequest, ID: id, Dst: to.Service, Route: e.route}
	ev.SetDstNode(to.Node)
	e.n.router.Deliver(ev)
	return id
}

func (e *endpoint) Close() { e.n.endpoints.remove(e.id) }
