package timer

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"

	"github.com/mtnode/mtnode/sdk"
)

// entry is one pending alarm or timer. Entries live in the index's slab and
// are addressed by a uint32 slot (0 means none), so a million pending
// alarms are a few hundred large chunks for the garbage collector to scan,
// not a million small objects to mark. The deadline lives in the heap slot,
// the route in the shared requester, and data and cookie alias the
// request's bytes (events are immutable, so sharing them is safe).
type entry struct {
	period int64      // nanoseconds; 0 for an alarm
	reqID  uint64     // id of the request that armed it: ticks carry it back
	id     uint64     // the requester's timer id
	req    *requester // nil once the entry is cancelled or fired (a tombstone)
	data   []byte
	cookie []byte
	prev   uint32 // chain of entries whose keys share a hash (slots, 0: none)
	next   uint32
}

func (e *entry) dead() bool { return e.req == nil }

// Slab geometry: entries are stored in fixed-size chunks, so the slab grows
// without moving (or invalidating) the entries it holds.
const (
	chunkShift = 8
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1
)

// slab stores entries by slot. Slot 0 is reserved so that 0 can mean "no
// entry" in hash chains. A slot is freed only when the heap no longer refers
// to it (a fired alarm, or a tombstone leaving the heap), so a heap slot
// never points to a reused entry.
type slab struct {
	chunks []*[chunkSize]entry
	n      uint32   // slots handed out so far, slot 0 included
	free   []uint32 // freed slots, reused first
}

// alloc returns a free slot holding a zero entry.
func (s *slab) alloc() uint32 {
	if k := len(s.free); k > 0 {
		i := s.free[k-1]
		s.free = s.free[:k-1]
		return i
	}
	if s.n == 0 {
		s.n = 1 // slot 0 is never handed out
	}
	i := s.n
	if int(i>>chunkShift) == len(s.chunks) {
		s.chunks = append(s.chunks, new([chunkSize]entry))
	}
	s.n++
	return i
}

// at returns the entry in slot i.
func (s *slab) at(i uint32) *entry { return &s.chunks[i>>chunkShift][i&chunkMask] }

// release returns slot i, which must be dead, to the free list.
func (s *slab) release(i uint32) {
	*s.at(i) = entry{}
	s.free = append(s.free, i)
}

// reset drops every entry and gives the memory back.
func (s *slab) reset() { *s = slab{} }

// requester is an interned route: every entry armed along the same route
// shares one, so a route is stored once however many timers it holds.
type requester struct {
	route sdk.Route
	key   string // encoded route, the interning key
	seq   uint64 // identity for key hashes
	refs  int    // live entries holding it
}

// index stores the entries, finds them by key (requester, kind, id, data)
// and interns requesters. Entries whose keys hash alike are chained by slot,
// so the map, which holds no pointers, costs one word of key and half a word
// of value per key rather than a copy of the key.
type index struct {
	slab
	seed  maphash.Seed
	heads map[uint64]uint32
	reqs  map[string]*requester
	seq   uint64
	buf   []byte // scratch for route keys
}

func newIndex() index {
	return index{seed: maphash.MakeSeed(), heads: map[uint64]uint32{}, reqs: map[string]*requester{}}
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

// add stores e (with e.req set) in a new slot, links it and returns the
// slot.
func (x *index) add(e entry) uint32 {
	i := x.alloc()
	p := x.at(i)
	*p = e
	p.prev, p.next = 0, 0
	x.link(i)
	return i
}

// link adds the entry in slot i (with req set) to the index.
func (x *index) link(i uint32) {
	e := x.at(i)
	e.req.refs++
	h := x.hash(e.req, e.period != 0, e.id, e.data)
	if head := x.heads[h]; head != 0 {
		e.next = head
		x.at(head).prev = i
	}
	x.heads[h] = i
}

// unlink removes the entry in slot i from the index, releases its requester
// and marks it dead. The slot stays allocated: the heap slot that refers to
// it becomes a tombstone, and whoever drops that heap slot frees it.
func (x *index) unlink(i uint32) {
	e := x.at(i)
	r := e.req
	if e.prev != 0 {
		x.at(e.prev).next = e.next
	} else {
		h := x.hash(r, e.period != 0, e.id, e.data)
		if e.next != 0 {
			x.heads[h] = e.next
		} else {
			delete(x.heads, h)
		}
	}
	if e.next != 0 {
		x.at(e.next).prev = e.prev
	}
	e.prev, e.next, e.req = 0, 0, nil
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
	i := x.heads[x.hash(r, periodic, id, data)]
	n := 0
	for i != 0 {
		e := x.at(i)
		next := e.next
		if e.req == r && (e.period != 0) == periodic && e.id == id && bytes.Equal(e.data, data) {
			x.unlink(i)
			n++
		}
		i = next
	}
	return n
}
