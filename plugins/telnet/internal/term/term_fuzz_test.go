package term

import (
	"bytes"
	"testing"
)

// FuzzTelnetLine feeds arbitrary client bytes through the protocol decoder
// and the line editor: nothing may panic, the line stays within its limit,
// the cursor stays on the line and negotiation answers stay within budget.
func FuzzTelnetLine(f *testing.F) {
	for _, s := range []string{
		"help\r\n",
		"ls\r\x00cd demo\n",
		"\xff\xfd\x01\xff\xfd\x03\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0",
		"\xff\xfb\x22\xff\xfa\x22\x01\x00\xff\xf0",
		"abc\x1b[D\x1b[Dx\x1b[3~\x1b[H\x1b[F\x1bOH\x1bOF\x1b[1~\x1b[4~",
		"one\rtwo\r\x1b[A\x1b[A\x1b[B\r",
		"hel\t\t\x03\x04",
		"\x1b[999999999999999999999999A",
		"\xff\xfa\xff\xff\xff",
		"h\xc3\xa9llo \xe2\x82\xac\x17\x15\x0b\x0c",
		"\xff\xff\xff\xf4\xff\xf7\xff\xf8\xff\xf6",
	} {
		f.Add([]byte(s))
	}
	const limit = 16
	f.Fuzz(func(t *testing.T, in []byte) {
		d, _ := NewDecoder()
		out := new(bytes.Buffer)
		e := NewEditor(out, limit, 4, words{"help", "hello", "quit", "démo/"})
		var keys []Key
		var answers []byte
		for i := 0; i < len(in); i += 7 { // uneven chunks split sequences
			keys, answers = d.Decode(in[i:min(i+7, len(in))], keys[:0], answers)
			for _, k := range keys {
				e.Mode = Mode(k.Rune % 3)
				if a, line := e.Press(k); a == ActionLine && len([]rune(line)) > limit {
					t.Fatalf("line %q longer than %d", line, limit)
				}
				if e.Len() > limit || e.Cursor() < 0 || e.Cursor() > e.Len() {
					t.Fatalf("len %d cursor %d, limit %d", e.Len(), e.Cursor(), limit)
				}
			}
		}
		if len(answers) > 10*MaxAnswers {
			t.Fatalf("%d bytes of answers", len(answers))
		}
	})
}
