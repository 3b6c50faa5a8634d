package timer

import (
	"context"
	"errors"
	"time"

	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// retryDelay is how long the clock waits before posting again when the
// Timer's queue was full.
const retryDelay = time.Millisecond

// runClock is the Timer's clock goroutine: one reused time.Timer that sleeps
// until the earliest deadline, then posts a Wake to the Timer's own queue.
// The service re-arms it through s.arm whenever the earliest deadline moves
// earlier, and after each wake-up. It returns when ctx ends (the service
// stops) or the Timer's queue is closed.
func (s *Service) runClock(ctx context.Context, h sdk.Handle) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case when := <-s.arm:
			t.Reset(time.Until(when))
		case <-t.C:
			if s.wakePending.Swap(true) {
				continue // a Wake is already queued
			}
			if err := h.Post(&timerpb.Wake{}); err != nil {
				s.wakePending.Store(false)
				if errors.Is(err, sdk.ErrStopped) {
					return
				}
				t.Reset(retryDelay)
			}
		}
	}
}
