package core

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// TestParkedQueueKeepsSmallArrays: a burst grows a queue's two arrays
// (the queue's own and the consumer's spare, which they swap at each pop)
// to the burst's size; once the consumer parks, it keeps neither, and the
// next events are queued and handed over as usual.
func TestParkedQueueKeepsSmallArrays(t *testing.T) {
	const burst = 4 * idleKeep
	q := newQueue(2 * burst)
	push := func(id uint64) {
		t.Helper()
		if err := q.pushParts(wrapperspb.UInt64(id), nil, id, sdk.KindRequest); err != nil {
			t.Fatal(err)
		}
	}
	held := func() int {
		q.mu.Lock()
		defer q.mu.Unlock()
		return cap(q.items)
	}
	// park has the consumer pop with prev as its spare until the queue has
	// it parked, runs while, wakes it with one event and returns what it
	// popped.
	var id uint64
	park := func(prev []item, while func()) []item {
		t.Helper()
		popped := make(chan []item)
		go func() {
			b, _ := q.pop(prev)
			popped <- b
		}()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			q.mu.Lock()
			parked := q.waiting
			q.mu.Unlock()
			if parked {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the consumer did not park within 5s")
			}
		}
		while()
		id++
		push(id)
		select {
		case b := <-popped:
			if len(b) != 1 || b[0].id != id {
				t.Fatalf("after the park: got %d events, want the one pushed", len(b))
			}
			return b
		case <-time.After(5 * time.Second):
			t.Fatal("the parked consumer was not woken within 5s")
			return nil
		}
	}
	fill := func() []item {
		t.Helper()
		for range burst {
			id++
			push(id)
		}
		batch, done := q.pop(nil)
		if done || len(batch) != burst {
			t.Fatalf("pop: got %d events (done %v), want the burst of %d", len(batch), done, burst)
		}
		return batch
	}

	// The consumer parks holding the burst's array as its spare: it lets
	// it go rather than give it back to the queue when it wakes.
	big := fill()
	park(big, func() {})
	if n := held(); n > idleKeep {
		t.Errorf("the consumer kept its spare array of %d items through a park, want at most %d", n, idleKeep)
	}

	// The queue holds the burst's array, given back by the consumer, when
	// the consumer parks: the queue lets it go.
	big = fill()
	id++
	push(id) // queued into the queue's small array
	small, _ := q.pop(big)
	if cap(small) > idleKeep {
		t.Fatalf("pop: got an array of %d items, want the small one", cap(small))
	}
	park(small, func() {
		if n := held(); n > idleKeep {
			t.Errorf("a parked queue holds an array of %d items, want at most %d", n, idleKeep)
		}
	})
}
