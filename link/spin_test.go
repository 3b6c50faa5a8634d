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
// the polls, and each poll moves the test's clock on by pollTime.
type emptyRaw struct {
	polls int
	clock *int64
}

const pollTime = 10 * time.Microsecond

func (e *emptyRaw) tryRead([]byte) (int, bool, error) {
	e.polls++
	*e.clock += int64(pollTime)
	return 0, false, nil
}

// lateConn is a connection whose every read returns one byte, late: it
// moves the test's clock on by lateTime first.
type lateConn struct {
	net.Conn
	clock *int64
}

const lateTime = 100 * time.Microsecond

func (c lateConn) Read(b []byte) (int, error) {
	*c.clock += int64(lateTime)
	b[0] = 1
	return 1, nil
}

// TestSpinBudget: a reader whose spins never find anything (each frame
// comes just after the window, every time) spins on the first reads, from
// its budget, and then spends no more on empty spins than the budget's
// refill: 1/spinShare of the time passing. The clock is the test's, moved
// only by the polls and reads, so the figures do not depend on how busy
// the machine is.
func TestSpinBudget(t *testing.T) {
	var clock int64
	raw := &emptyRaw{clock: &clock}
	const window = int64(time.Millisecond)
	r := &spinReader{c: lateConn{clock: &clock}, raw: raw, spin: window, budget: spinBurst * window,
		clock: func() int64 { return clock }}
	const reads = 200
	buf := make([]byte, 1)
	spins := 0
	for i := range reads {
		before := raw.polls
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
		if raw.polls > before {
			spins++
		} else if i < spinBurst {
			t.Fatalf("read %d did not spin; the first %d should, from the full budget", i+1, spinBurst)
		}
	}
	spun := int64(raw.polls) * int64(pollTime)
	// A spin stops at the first poll past its window: one poll more.
	allowed := spinBurst*window + clock/spinShare + int64(spins)*int64(pollTime)
	if spun > allowed {
		t.Fatalf("%d reads spun for %v in all over %v; the budget allows %v", spins, time.Duration(spun), time.Duration(clock), time.Duration(allowed))
	}
	if spins == reads {
		t.Fatalf("every read spun: the budget did not stop it")
	}
}
