package timer

import (
	"container/heap"
	"strings"

	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// Bounds of a List reply.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// onList answers List with the earliest pending entries. It walks the heap
// best-first (a parent is never later than its children), so it touches
// about limit entries plus the tombstones among them, not the whole heap.
func (s *Service) onList(c sdk.Context, m *timerpb.List) error {
	limit := int(m.GetLimit())
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	reply := &timerpb.ListReply{Total: uint64(s.live)}
	items := s.heap.items
	f := &frontier{items: items}
	if len(items) > 0 {
		f.idx = append(f.idx, 0)
	}
	for f.Len() > 0 && len(reply.Entries) < limit {
		i := heap.Pop(f).(int)
		for c := 4*i + 1; c < min(4*i+5, len(items)); c++ {
			heap.Push(f, c)
		}
		it := items[i]
		e := s.idx.at(it.idx)
		if e.dead() {
			continue
		}
		p := &timerpb.Pending{
			Requester:        requesterName(e.req.route),
			Id:               e.id,
			Data:             e.data,
			DeadlineUnixNano: s.epochUnix + it.at,
			Periodic:         e.period != 0,
			Period:           float64(e.period) / 1e9,
		}
		reply.Entries = append(reply.Entries, p)
	}
	c.Reply(reply)
	return nil
}

// requesterName renders a route from the original sender to the nearest
// hop.
func requesterName(r sdk.Route) string {
	names := make([]string, len(r))
	for i, h := range r {
		names[i] = h.String()
	}
	return strings.Join(names, " > ")
}

// frontier holds the heap indexes still to visit in a best-first walk,
// ordered by their items' deadlines (a container/heap.Interface).
type frontier struct {
	idx   []int
	items []item
}

func (f *frontier) Len() int           { return len(f.idx) }
func (f *frontier) Less(i, j int) bool { return f.items[f.idx[i]].at < f.items[f.idx[j]].at }
func (f *frontier) Swap(i, j int)      { f.idx[i], f.idx[j] = f.idx[j], f.idx[i] }
func (f *frontier) Push(x any)         { f.idx = append(f.idx, x.(int)) }
func (f *frontier) Pop() any {
	x := f.idx[len(f.idx)-1]
	f.idx = f.idx[:len(f.idx)-1]
	return x
}
