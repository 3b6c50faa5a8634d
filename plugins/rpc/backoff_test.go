package rpc

import (
	"math"
	"testing"
	"time"
)

// TestBackoffDoubles: with no jitter (r = 0.5 gives a factor of 1), the
// delay doubles from the minimum and stops at the maximum.
func TestBackoffDoubles(t *testing.T) {
	lo, hi := 50*time.Millisecond, 2*time.Second
	want := []time.Duration{50, 100, 200, 400, 800, 1600, 2000, 2000, 2000}
	for i, w := range want {
		n := i + 1
		if got := jittered(n, lo, hi, 0.5); got != w*time.Millisecond {
			t.Errorf("attempt %d: got %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := jittered(0, lo, hi, 0.5); got != lo {
		t.Errorf("n=0: got %v, want the minimum %v", got, lo)
	}
	if got := jittered(3, time.Second, time.Second, 0.5); got != time.Second {
		t.Errorf("min = max: got %v, want %v", got, time.Second)
	}
}

// TestBackoffJitter: the jitter keeps each delay within ±20% of the
// unjittered one, reaching both ends, and backoff's own draws stay in those
// bounds and do not all agree (peers must not dial in step).
func TestBackoffJitter(t *testing.T) {
	lo, hi := 50*time.Millisecond, 2*time.Second
	for n, base := range map[int]time.Duration{1: lo, 3: 4 * lo, 10: hi} {
		if got, want := jittered(n, lo, hi, 0), base*8/10; got != want {
			t.Errorf("attempt %d, lowest draw: got %v, want %v", n, got, want)
		}
		top := jittered(n, lo, hi, math.Nextafter(1, 0))
		if top > base*12/10 || top < base*12/10-time.Microsecond {
			t.Errorf("attempt %d, highest draw: got %v, want %v at most and within a microsecond of it", n, top, base*12/10)
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(n, lo, hi)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("attempt %d: backoff gave %v, outside [%v, %v]", n, d, base*8/10, base*12/10)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: 200 draws gave only %d distinct delays: %v", n, len(seen), seen)
		}
	}
}

// TestBackoffLargeN: however many attempts failed and however large the
// maximum, the delay is the capped one, positive, and found at once.
func TestBackoffLargeN(t *testing.T) {
	lo, hi := 50*time.Millisecond, 2*time.Second
	for _, n := range []int{64, 65, 1000, math.MaxInt} {
		if got := jittered(n, lo, hi, 0.5); got != hi {
			t.Errorf("attempt %d: got %v, want the maximum %v", n, got, hi)
		}
	}
	huge := time.Duration(math.MaxInt64)
	for _, r := range []float64{0, 0.5, math.Nextafter(1, 0)} {
		got := jittered(math.MaxInt, time.Nanosecond, huge, r)
		if got < huge/10*8 {
			t.Errorf("max %v, draw %v: got %v, want at least %v and no overflow", huge, r, got, huge/10*8)
		}
	}
	if got := jittered(math.MaxInt, huge/3, huge, 0.5); got != huge {
		t.Errorf("min %v, max %v: got %v, want %v", huge/3, huge, got, huge)
	}
}
