package core

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// intConfig is an sdk.Config without IntMin whose Int returns one value.
type intConfig struct {
	Defaults
	n int64
}

func (c intConfig) Int(string, int64, string) int64 { return c.n }

// TestIntMinFallback: with an sdk.Config that has no IntMin (a test's own),
// a value below the minimum is logged with the key and the value used, not
// clamped without a word.
func TestIntMinFallback(t *testing.T) {
	tests := []struct {
		name      string
		n, def    int64
		want      int64
		wantWarns int
	}{
		{"in range", 5, 10, 5, 0},
		{"at min", 1, 10, 1, 0},
		{"below min", 0, 10, 10, 1},
		{"below min, default too", -3, 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := intMin(intConfig{n: tt.n}, slog.New(slog.NewTextHandler(&logs, nil)), "queueLimit", tt.def, 1, "d")
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != tt.wantWarns {
				t.Errorf("got %d warnings, want %d:\n%s", n, tt.wantWarns, logs.String())
			}
			if tt.wantWarns > 0 && !strings.Contains(logs.String(), "key=queueLimit") {
				t.Errorf("warning does not name the key:\n%s", logs.String())
			}
		})
	}
}
