package suggest

import "testing"

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
