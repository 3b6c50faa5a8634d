package timer

// item is one heap slot. The deadline sits in the slot itself, so sifting
// compares slots without touching the entries they refer to. The entry is a
// slab slot, not a pointer, so the heap holds no pointers and the garbage
// collector does not scan it.
type item struct {
	at  int64  // deadline, service time in nanoseconds
	idx uint32 // the entry's slot in the index's slab
}

// heap4 is a 4-ary min-heap of items ordered by deadline. A 4-ary heap is
// half as deep as a binary one and its four children share a cache line, so
// pushes and pops touch fewer lines. The zero value is an empty heap.
type heap4 struct {
	items []item
}

// Len returns the number of items, tombstones included.
func (h *heap4) Len() int { return len(h.items) }

// Top returns the earliest item. The heap must not be empty.
func (h *heap4) Top() item { return h.items[0] }

// Push adds it.
func (h *heap4) Push(it item) {
	h.items = append(h.items, it)
	h.up(len(h.items) - 1)
}

// Pop removes and returns the earliest item. The heap must not be empty.
func (h *heap4) Pop() item {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items[last] = item{}
	h.items = h.items[:last]
	if last > 0 {
		h.down(0)
	}
	return top
}

// ReplaceTop replaces the earliest item with it, which is cheaper than Pop
// followed by Push (a periodic timer moving to its next deadline).
func (h *heap4) ReplaceTop(it item) {
	h.items[0] = it
	h.down(0)
}

// Filter keeps the items for which keep returns true and restores the heap
// order in linear time. It also gives back memory when the heap has shrunk
// to a quarter of its capacity.
func (h *heap4) Filter(keep func(item) bool) {
	kept := h.items[:0]
	for _, it := range h.items {
		if keep(it) {
			kept = append(kept, it)
		}
	}
	clear(h.items[len(kept):])
	if cap(kept) > 64 && len(kept) < cap(kept)/4 {
		kept = append(make([]item, 0, 2*len(kept)), kept...)
	}
	h.items = kept
	for i := (len(kept) - 2) / 4; i >= 0 && len(kept) > 1; i-- {
		h.down(i)
	}
}

func (h *heap4) up(i int) {
	it := h.items[i]
	for i > 0 {
		p := (i - 1) / 4
		if h.items[p].at <= it.at {
			break
		}
		h.items[i] = h.items[p]
		i = p
	}
	h.items[i] = it
}

func (h *heap4) down(i int) {
	items := h.items
	n := len(items)
	it := items[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		// Find the smallest of up to four children.
		m := c
		end := min(c+4, n)
		for j := c + 1; j < end; j++ {
			if items[j].at < items[m].at {
				m = j
			}
		}
		if items[m].at >= it.at {
			break
		}
		items[i] = items[m]
		i = m
	}
	items[i] = it
}
