package timer

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"

	"github.com/mtnode/mtnode/sdk"
)

// entry is one pending alarm or timer. It is kept small (96 bytes) because a
// node may hold millions: the deadline lives in the heap slot, the route in
// the shared requester, and data and cookie alias the request's bytes (events
// are immutable, so sharing them is safe).
type entry struct {
	period int64      // nanoseconds; 0 for an alarm
	reqID  uint64     // id of the request that armed it: ticks carry it back
	id     uint64     // the requester's timer id
	req    *requester // nil once the entry is cancelled or fired (a tombstone)
	data   []byte
	cookie []byte
	prev   *entry // chain of entries whose keys share a hash
	next   *entry
}

func (e *entry) dead() bool { return e.req == nil }

// requester is an interned route: every entry armed along the same route
// shares one, so a route is stored once however many timers it holds.
type requester struct {
	route sdk.Route
	key   string // encoded route, the interning key
	seq   uint64 // identity for key hashes
	refs  int    // live entries holding it
}

// index finds entries by key (requester, kind, id, data) and interns
// requesters. Entries whose keys hash alike are chained, so the map costs one
// word of key and one of value per key rather than a copy of the key.
type index struct {
	seed  maphash.Seed
	heads map[uint64]*entry
	reqs  map[string]*requester
	seq   uint64
	buf   []byte // scratch for route keys
}

func newIndex() index {
	return index{seed: maphash.MakeSeed(), heads: map[uint64]*entry{}, reqs: map[string]*requester{}}
}

// find returns the requester for route, or nil when it holds no entries.
func (x *index) find(route sdk.Route) *requester {
	b := x.buf[:0]
	for _, h := range route {
		b = append(b, byte(h.Kind))
		b = binary.AppendUvarint(b, uint64(len(h.Name)))
		b = append(b, h.Name...)
		b = binary.AppendUvarint(b, h.ID)
		b = binary.AppendUvarint(b, h.Epoch)
	}
	x.buf = b
	return x.reqs[string(b)]
}

// intern returns the requester for route, creating it if needed. A new
// requester has no reference yet: link it to an entry at once, or it stays
// in the table until one is linked and unlinked.
func (x *index) intern(route sdk.Route) *requester {
	if r := x.find(route); r != nil {
		return r
	}
	x.seq++
	r := &requester{route: route, key: string(x.buf), seq: x.seq}
	x.reqs[r.key] = r
	return r
}

// hash returns the hash of the key (r, periodic, id, data).
func (x *index) hash(r *requester, periodic bool, id uint64, data []byte) uint64 {
	k := r.seq<<1 | 1
	if periodic {
		k++
	}
	return maphash.Bytes(x.seed, data) ^ mix(k*0x9e3779b97f4a7c15^id)
}

// mix is the splitmix64 finalizer: it spreads the bits of v.
func mix(v uint64) uint64 {
	v ^= v >> 30
	v *= 0xbf58476d1ce4e5b9
	v ^= v >> 27
	v *= 0x94d049bb133111eb
	v ^= v >> 31
	return v
}

// link adds e (with e.req set) to the index.
func (x *index) link(e *entry) {
	e.req.refs++
	h := x.hash(e.req, e.period != 0, e.id, e.data)
	if head := x.heads[h]; head != nil {
		e.next = head
		head.prev = e
	}
	x.heads[h] = e
}

// unlink removes e from the index, releases its requester and marks it
// dead. The heap slot that points to it becomes a tombstone.
func (x *index) unlink(e *entry) {
	r := e.req
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		h := x.hash(r, e.period != 0, e.id, e.data)
		if e.next != nil {
			x.heads[h] = e.next
		} else {
			delete(x.heads, h)
		}
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	e.prev, e.next, e.req = nil, nil, nil
	e.data, e.cookie = nil, nil
	if r.refs--; r.refs == 0 {
		delete(x.reqs, r.key)
	}
}

// cancel unlinks every live entry of the requester at route with the key
// (periodic, id, data) and returns how many there were.
func (x *index) cancel(route sdk.Route, periodic bool, id uint64, data []byte) int {
	r := x.find(route)
	if r == nil {
		return 0
	}
	e := x.heads[x.hash(r, periodic, id, data)]
	n := 0
	for e != nil {
		next := e.next
		if e.req == r && (e.period != 0) == periodic && e.id == id && bytes.Equal(e.data, data) {
			x.unlink(e)
			n++
		}
		e = next
	}
	return n
}
