package term

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkInput measures how fast client bytes become edited lines. The
// baseline copies the bytes, so the other results read as ratios to the
// cheapest possible handling of the same input.
func BenchmarkInput(b *testing.B) {
	input := []byte(strings.Repeat("demo/push some item\r\n\x1b[Ahi\x7f\x7f\x01x\x05\r\n\xff\xfd\x01", 64))
	keys := make([]Key, 0, len(input))
	sink := make([]byte, len(input))
	cases := []struct {
		name string
		run  func()
	}{
		{"baseline=copy", func() { copy(sink, input) }},
		{"decoder", func() {
			d, _ := NewDecoder()
			keys, _ = d.Decode(input, keys[:0], nil)
		}},
		{"decoder+editor", func() {
			d, _ := NewDecoder()
			out := new(bytes.Buffer)
			e := NewEditor(out, 1024, 100, nil)
			keys, _ = d.Decode(input, keys[:0], nil)
			for _, k := range keys {
				e.Press(k)
			}
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(input)))
			for b.Loop() {
				bc.run()
			}
		})
	}
}
