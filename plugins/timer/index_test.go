package timer

import (
	"testing"

	"github.com/mtnode/mtnode/sdk"
)

func TestIndexCancelMatchesWholeKey(t *testing.T) {
	a := sdk.Route{{Kind: sdk.HopService, Name: "A"}}
	b := sdk.Route{{Kind: sdk.HopService, Name: "B"}}
	remote := sdk.Route{{Kind: sdk.HopService, Name: "A"}, {Kind: sdk.HopLink, ID: 7, Epoch: 9}}
	type arm struct {
		route  sdk.Route
		period int64
		id     uint64
		data   string
	}
	arms := []arm{
		{a, 0, 1, "x"}, {a, 0, 1, "x"}, // the same key twice: two entries
		{a, 0, 1, "y"}, {a, 0, 2, "x"}, {a, 5, 1, "x"}, {b, 0, 1, "x"}, {remote, 0, 1, "x"},
		{a, 0, 1, ""},
	}
	for _, tc := range []struct {
		name     string
		route    sdk.Route
		periodic bool
		id       uint64
		data     string
		want     int
	}{
		{"same key twice", a, false, 1, "x", 2},
		{"other data", a, false, 1, "y", 1},
		{"empty data", a, false, 1, "", 1},
		{"other id", a, false, 2, "x", 1},
		{"timer, not alarm", a, true, 1, "x", 1},
		{"other requester", b, false, 1, "x", 1},
		{"longer route", remote, false, 1, "x", 1},
		{"unknown requester", sdk.Route{{Kind: sdk.HopService, Name: "C"}}, false, 1, "x", 0},
		{"no such id", a, false, 3, "x", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newIndex()
			for _, ar := range arms {
				var data []byte
				if ar.data != "" {
					data = []byte(ar.data)
				}
				x.add(entry{req: x.intern(ar.route), period: ar.period, id: ar.id, data: data})
			}
			var data []byte
			if tc.data != "" {
				data = []byte(tc.data)
			}
			if got := x.cancel(tc.route, tc.periodic, tc.id, data); got != tc.want {
				t.Errorf("got %d cancelled, want %d", got, tc.want)
			}
			if got := x.cancel(tc.route, tc.periodic, tc.id, data); got != 0 {
				t.Errorf("got %d cancelled the second time, want 0", got)
			}
		})
	}
}

func TestIndexReleasesRequesters(t *testing.T) {
	x := newIndex()
	routes := []sdk.Route{
		{{Kind: sdk.HopService, Name: "A"}},
		{{Kind: sdk.HopEndpoint, Name: "plugin", ID: 3}},
	}
	var entries []uint32
	for i := range 100 {
		r := routes[i%len(routes)]
		entries = append(entries, x.add(entry{req: x.intern(r), id: uint64(i % 7)}))
	}
	if got := len(x.reqs); got != len(routes) {
		t.Fatalf("got %d requesters, want %d (one per route)", got, len(routes))
	}
	for _, i := range entries {
		x.unlink(i)
		if !x.at(i).dead() {
			t.Fatalf("entry not dead after unlink")
		}
	}
	if len(x.reqs) != 0 || len(x.heads) != 0 {
		t.Errorf("got %d requesters and %d chains after unlinking all, want 0 and 0", len(x.reqs), len(x.heads))
	}
}

func TestSlabReusesSlots(t *testing.T) {
	var s slab
	seen := map[uint32]bool{}
	var ptrs []*entry
	for i := range 3 * chunkSize {
		n := s.alloc()
		if n == 0 || seen[n] {
			t.Fatalf("alloc %d: got slot %d, want a new non-zero slot", i, n)
		}
		seen[n] = true
		e := s.at(n)
		e.id = uint64(n)
		ptrs = append(ptrs, e)
	}
	// Growing the slab does not move the entries already in it.
	for i, e := range ptrs {
		if e != s.at(uint32(i+1)) || e.id != uint64(i+1) {
			t.Fatalf("slot %d moved or changed after growth", i+1)
		}
	}
	s.at(7).id = 99
	s.release(7)
	if got := s.alloc(); got != 7 {
		t.Fatalf("got slot %d after releasing 7, want 7 reused", got)
	}
	if got := s.at(7).id; got != 0 {
		t.Errorf("got id %d in a reused slot, want a zero entry", got)
	}
}
