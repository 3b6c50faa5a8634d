package timer

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHeapPopsInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"four", 4},
		{"five", 5},
		{"many", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.n)))
			var h heap4
			var want []int64
			for range tc.n {
				at := r.Int64N(100) // duplicates on purpose
				want = append(want, at)
				h.Push(item{at: at})
			}
			slices.Sort(want)
			var got []int64
			for h.Len() > 0 {
				got = append(got, h.Pop().at)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestHeapReplaceTopAndFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	var h heap4
	ref := map[uint32]int64{}
	for i := range uint32(500) {
		at := r.Int64N(1 << 20)
		h.Push(item{at: at, idx: i})
		ref[i] = at
	}
	// Move the earliest items later, as periodic timers do.
	for range 200 {
		top := h.Top()
		at := top.at + r.Int64N(1<<10)
		h.ReplaceTop(item{at: at, idx: top.idx})
		ref[top.idx] = at
	}
	// Drop about half.
	dropped := map[uint32]bool{}
	for i := range ref {
		if r.IntN(2) == 0 {
			dropped[i] = true
			delete(ref, i)
		}
	}
	h.Filter(func(it item) bool { return !dropped[it.idx] })
	if got, want := h.Len(), len(ref); got != want {
		t.Fatalf("got %d items after Filter, want %d", got, want)
	}
	prev := int64(-1)
	for h.Len() > 0 {
		it := h.Pop()
		if it.at < prev {
			t.Fatalf("got deadline %d after %d, want ascending", it.at, prev)
		}
		if want, ok := ref[it.idx]; !ok || want != it.at {
			t.Fatalf("got item (%d, slot %d), want deadline %d (present %v)", it.at, it.idx, want, ok)
		}
		prev = it.at
	}
}

func TestHeapFilterShrinks(t *testing.T) {
	var h heap4
	for i := range 10_000 {
		h.Push(item{at: int64(i)})
	}
	h.Filter(func(it item) bool { return it.at < 100 })
	if got := cap(h.items); got > 1000 {
		t.Errorf("got capacity %d after dropping 99%%, want it given back (<= 1000)", got)
	}
	for i := range 100 {
		if got := h.Pop().at; got != int64(i) {
			t.Fatalf("got %d, want %d", got, i)
		}
	}
}

func BenchmarkHeap(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 5))
	var h heap4
	for range 1 << 20 {
		h.Push(item{at: r.Int64N(1 << 40)})
	}
	b.ReportAllocs()
	for b.Loop() {
		it := h.Pop()
		it.at += r.Int64N(1 << 30)
		h.Push(it)
	}
}
