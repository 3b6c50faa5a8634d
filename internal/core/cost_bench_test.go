package core

import (
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// BenchmarkOneWayCosts takes BenchmarkOneWay's ratio apart. Each
// sub-benchmark moves bursts from one goroutine to another through the
// kernel's queue (push, batched pop), paired burst by burst with
// BenchmarkOneWay's baseline (a fresh payload each on a buffered channel),
// and adds one of a Send's costs at a time:
//
//   - add=nothing: the same events again and again, no allocation: the
//     queue alone.
//   - add=payload: a fresh payload each, as the channel baseline
//     allocates; the events are reused.
//   - add=payload+event: a fresh payload and a fresh event each, carved
//     out of chunks as svcContext.newEvent carves them: what a Send to a
//     local service allocates, without its routing.
//
// x-chan is the queue's rate over the channel's in the same run. The step
// from add=payload to add=payload+event is the cost of the event a handler
// may keep (sdk.Event), which a channel of payloads does not have.
func BenchmarkOneWayCosts(b *testing.B) {
	logMachine(b)
	for _, add := range []string{"nothing", "payload", "payload+event"} {
		b.Run("add="+add, func(b *testing.B) {
			paired(b, chanOneWay(b), queueOneWay(b, add))
		})
	}
}

// queueOneWay starts a consumer goroutine popping a queue, and returns a
// function that pushes one burst (allocating what add names) and waits
// until the consumer counted it.
func queueOneWay(b *testing.B, add string) (burst func()) {
	q := newQueue(2 * benchBurst)
	done := make(chan struct{})
	go func() { // consumer
		n := 0
		var batch []*sdk.Event
		for {
			var closed bool
			if batch, closed = q.pop(batch); closed {
				close(done)
				return
			}
			for _, ev := range batch {
				if ev.Msg != nil {
					n++
				}
				if n == benchBurst {
					n = 0
					done <- struct{}{}
				}
			}
		}
	}()
	b.Cleanup(func() {
		q.close(&sdk.DeliveryError{Code: sdk.CodeStopped, Message: "benchmark over"})
		<-done
	})
	// Reused events: the consumer has counted a burst before the next one
	// starts, and keeps none.
	ring := make([]sdk.Event, benchBurst)
	payload := &wrapperspb.UInt64Value{}
	// newEvent carves events for dst; the context belongs to dst only so
	// that flush (which drops the spare slots) has a service to count on.
	dst := &service{}
	c := &svcContext{s: dst}
	push := func(ev *sdk.Event) {
		if err := q.push(ev); err != nil {
			b.Fatal(err)
		}
	}
	switch add {
	case "nothing":
		return func() {
			for i := range ring {
				ring[i].Msg = payload
				push(&ring[i])
			}
			<-done
		}
	case "payload":
		return func() {
			for i := range ring {
				ring[i].Msg = &wrapperspb.UInt64Value{Value: uint64(i)}
				push(&ring[i])
			}
			<-done
		}
	case "payload+event":
		return func() {
			for i := range uint64(benchBurst) {
				ev := c.newEvent(dst)
				ev.Msg, ev.Kind, ev.ID, ev.Dst = &wrapperspb.UInt64Value{Value: i}, sdk.KindRequest, i, "Dst"
				push(ev)
			}
			c.flush()
			<-done
		}
	}
	b.Fatalf("queueOneWay: unknown add=%q", add)
	return nil
}
