package link

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// TestSpinningReaderKeepsFrames: a reader that spins gets every frame
// whole and in order, through the non-blocking reads of its spins and the
// parked reads between bursts: frames small and larger than its buffer,
// back to back and after pauses longer than the window.
func TestSpinningReaderKeepsFrames(t *testing.T) {
	a, b := tcpPair(t)
	r := NewSocketStream(b, 8<<20)
	r.SetSpin(200 * time.Microsecond)
	o := NewOutbox(1 << 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go WriteLoop(ctx, o, NewSocketStream(a, 8<<20), Limits{}, func(ev *sdk.Event, err error) { t.Errorf("bad %v: %v", ev, err) })
	const n = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			size := 16
			if i%50 == 7 {
				size = 200 << 10 // past the 64 KiB read buffer: several reads
			}
			if err := o.Push(&sdk.Event{Msg: wrapperspb.Bytes(make([]byte, size)), ID: uint64(i + 1), Dst: "Sink"}); err != nil {
				t.Errorf("Push: %v", err)
				return
			}
			switch {
			case i%100 == 99:
				time.Sleep(2 * time.Millisecond) // past the window: the reader parks
			case i%10 == 9:
				time.Sleep(50 * time.Microsecond) // within it: a spin catches the next
			}
		}
	}()
	ids := readIDs(t, r, n)
	wg.Wait()
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("frame %d arrived as id %d", i+1, id)
		}
	}
}

// emptyRaw is a socket that never has anything to read at once; it counts
// the spins that poll it.
type emptyRaw struct{ polls, spins int }

func (e *emptyRaw) tryRead([]byte) (int, bool, error) { e.polls++; return 0, false, nil }

// readyConn is a connection whose every read returns one byte at once.
type readyConn struct{ net.Conn }

func (readyConn) Read(b []byte) (int, error) { b[0] = 1; return 1, nil }

// TestSpinBudget: a reader whose spins never find anything (frames come
// just too late, every time) stops spinning on most reads once its budget
// is spent, instead of spinning a window after every frame.
func TestSpinBudget(t *testing.T) {
	raw := &emptyRaw{}
	r := &spinReader{c: readyConn{}, raw: raw, spin: int64(time.Millisecond), budget: spinBurst * int64(time.Millisecond)}
	const reads = 80
	buf := make([]byte, 1)
	spins := 0
	for range reads {
		before := raw.polls
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
		if raw.polls > before {
			spins++
		}
	}
	// spinBurst spins from the full budget, then about one read in
	// spinShare+1 as it refills.
	if spins < spinBurst || spins > spinBurst+reads/spinShare+8 {
		t.Fatalf("%d of %d reads spun; want about %d", spins, reads, spinBurst+reads/(spinShare+1))
	}
}
