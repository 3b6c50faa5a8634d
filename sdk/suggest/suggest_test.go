package suggest

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"abc", "abc", 0}, {"abc", "acb", 1},
		{"ca", "abc", 3}, // optimal string alignment, not full Damerau (2)
		{"kitten", "sitting", 3}, {"bindAdr", "bindAddr", 1}, {"Ecoh", "Echo", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q): got %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q): got %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestDistanceOfLongInput(t *testing.T) {
	long := strings.Repeat("x", MaxLen+1)
	if got := Distance(long, "x"); got != MaxLen+1 {
		t.Errorf("Distance(%d bytes, 1 byte): got %d, want %d", len(long), got, MaxLen+1)
	}
	if got := Closest(long, []string{long[1:] + "y"}, 2); got != "" {
		t.Errorf("Closest of %d bytes: got %q, want none", len(long), got)
	}
}

func TestClosest(t *testing.T) {
	names := []string{"Echo", "HelloWeb", "Timer"}
	for _, tc := range []struct{ in, want string }{
		{"Ech", "Echo"}, {"echo", "Echo"}, {"timer", "Timer"}, {"Echo", ""}, {"Nothing", ""},
	} {
		if got := Closest(tc.in, names, 2); got != tc.want {
			t.Errorf("Closest(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
