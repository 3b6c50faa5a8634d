// Package gctune keeps the garbage collector of a process with a small
// heap from running too often.
//
// Go starts a collection each time the heap has grown by GOGC percent (100
// by default) of what the last one found live. A node or plugin process
// holds a few MB live and allocates an event or two per message, so it
// collects every few MB: hundreds of times a second under load, a good
// part of its CPU. The tuner sets the growth between collections to
// max(GOGC% of the live heap, Floor): a small heap collects once per Floor
// bytes allocated, and a heap bigger than Floor behaves exactly as GOGC
// says. Memory the tuner can cost is thus bounded by Floor, unlike a larger
// GOGC, which multiplies it. GOMEMLIMIT, when set, still caps the heap.
//
// The percentage is a property of the process, not of a node: Start is for
// main packages (through boot and the plugin runtime), and the first call
// in a process is the one that counts.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
)

// DefaultFloor is the heap growth between collections below which the
// tuner does not let a collection start: 64 MiB.
const DefaultFloor = 64 << 20

// EnvFloor is the environment variable a node sets for its plugin
// processes: the floor in bytes (FloorFromEnv).
const EnvFloor = "MTNODE_GC_FLOOR"

// FloorFromEnv returns the floor EnvFloor holds, or DefaultFloor when it is
// unset or not a number of bytes.
func FloorFromEnv() uint64 {
	if n, err := strconv.ParseUint(os.Getenv(EnvFloor), 10, 64); err == nil {
		return n
	}
	return DefaultFloor
}

// heapMinimum is the runtime's minimum heap goal at GOGC=100
// (defaultHeapMinimum, 4 MiB); at GOGC=p it is p/100 times that.
const heapMinimum = 4 << 20

// maxPercent bounds the percentage the tuner sets (a heap of a few hundred
// KB live would otherwise ask for tens of thousands).
const maxPercent = 50000

var once sync.Once

// Start runs the tuner for the rest of the process's life, with floor in
// bytes. It does nothing when floor is 0 or the GOGC environment variable
// is "off"; GOGC's value, when set, is the percentage applied to heaps
// bigger than floor. Only the first call in a process has an effect.
func Start(floor uint64) {
	once.Do(func() {
		if floor == 0 {
			return
		}
		base := 100
		if v := os.Getenv("GOGC"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return // "off", or a value Go itself ignores
			}
			base = n
		}
		t := &tuner{floor: floor, base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
		t.tune()
		t.arm()
	})
}

type tuner struct {
	floor   uint64
	base    int
	current int // percentage last set
	sample  []metrics.Sample
}

// sentinel is allocated unreachable; its finalizer runs after each
// collection that found it, and allocates the next.
type sentinel struct{ _ [32]byte } // not a tiny allocation: finalizers on those may never run

func (t *tuner) arm() {
	runtime.SetFinalizer(new(sentinel), func(*sentinel) {
		t.tune()
		t.arm()
	})
}

// tune sets the percentage for the next cycle from the live heap the last
// one found.
func (t *tuner) tune() {
	metrics.Read(t.sample)
	live := uint64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	p := Percent(live, t.floor, t.base)
	// Small changes are not worth a call: the runtime takes a lock.
	if p != t.current && (p > t.current+t.current/8 || p < t.current-t.current/8 || p == t.base) {
		debug.SetGCPercent(p)
		t.current = p
	}
}

// Percent returns the GOGC percentage that makes a heap of live bytes grow
// by max(base% of live, floor) before the next collection.
func Percent(live, floor uint64, base int) int {
	// The runtime never sets a heap goal below its minimum heap, and
	// scales that minimum with the percentage: worked out from a live
	// heap smaller than it (or from 0, before the first collection), the
	// percentage would give the process gigabytes before it collects.
	live = max(live, heapMinimum)
	p := floor * 100 / live
	if p > maxPercent {
		p = maxPercent
	}
	return max(int(p), base)
}
