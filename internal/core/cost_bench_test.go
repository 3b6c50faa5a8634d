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
//   - add=payload+event: a fresh payload each, pushed as the parts of an
//     event that the consumer makes, in chunks, as a service's goroutine
//     makes the events a local Send queued (svcContext.received): what a
//     Send to a local service costs, without its routing.
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
	// The consumer makes the events of items pushed as parts, as a
	// service's goroutine does (svcContext.received); the context belongs
	// to a service only so that flush has one to count on.
	recv := &svcContext{s: &service{name: "Dst"}}
	go func() { // consumer
		n := 0
		var batch []item
		for {
			var closed bool
			if batch, closed = q.pop(batch); closed {
				close(done)
				return
			}
			for i := range batch {
				ev := batch[i].ev
				if ev == nil {
					ev = recv.received(&batch[i], len(batch)-i)
				}
				if ev.Msg != nil {
					n++
				}
				if n == benchBurst {
					n = 0
					done <- struct{}{}
				}
			}
			recv.flush()
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
				if err := q.pushParts(&wrapperspb.UInt64Value{Value: i}, nil, i, sdk.KindRequest); err != nil {
					b.Fatal(err)
				}
			}
			<-done
		}
	}
	b.Fatalf("queueOneWay: unknown add=%q", add)
	return nil
}
