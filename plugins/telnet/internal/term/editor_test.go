package term

import (
	"bytes"
	"strings"
	"testing"
)

// words completes the last space-separated word from a fixed list.
type words []string

func (w words) Complete(head string) (int, []string) {
	start := strings.LastIndexByte(head, ' ') + 1
	var out []string
	for _, c := range w {
		if strings.HasPrefix(c, head[start:]) {
			out = append(out, c)
		}
	}
	return len([]rune(head[:start])), out
}

// press decodes in and feeds every key to e, returning the lines entered
// and the last action.
func press(e *Editor, in string) ([]string, Action) {
	d, _ := NewDecoder()
	keys, _ := d.Decode([]byte(in), nil, nil)
	var lines []string
	last := ActionNone
	for _, k := range keys {
		a, line := e.Press(k)
		if a == ActionLine {
			lines = append(lines, line)
		}
		if a != ActionNone {
			last = a
		}
	}
	return lines, last
}

func TestEditorLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"typing", "hello\r", "hello"},
		{"backspace", "hexx\x7f\x7fllo\r", "hello"},
		{"backspace at start", "\x7f\x7fab\r", "ab"},
		{"left insert", "hllo\x1b[D\x1b[D\x1b[De\r", "hello"},
		{"home insert", "ello\x01h\r", "hello"},
		{"home key", "ello\x1b[Hh\r", "hello"},
		{"end key", "hell\x01\x1b[Fo\r", "hello"},
		{"ctrl-e", "hell\x01\x05o\r", "hello"},
		{"delete key", "hxello\x01\x1b[C\x1b[3~\r", "hello"},
		{"ctrl-d deletes", "hxello\x01\x06\x04\r", "hello"},
		{"ctrl-u", "garbage\x15hello\r", "hello"},
		{"ctrl-u mid line", "xxhello\x01\x1b[C\x1b[C\x15\r", "hello"},
		{"ctrl-w", "hello wor ld\x17\x17world\r", "hello world"},
		{"ctrl-k", "hello world\x01\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x0b\r", "hello"},
		{"right past end", "hi\x1b[C\x1b[C!\r", "hi!"},
		{"unicode", "héllo\x7f\x7f\x7f\x7fello\r", "hello"},
		{"control dropped", "he\x07llo\r", "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEditor(new(bytes.Buffer), 100, 10, nil)
			lines, _ := press(e, tt.in)
			if len(lines) != 1 || lines[0] != tt.want {
				t.Errorf("lines = %q, want [%q]", lines, tt.want)
			}
		})
	}
}

func TestEditorHistory(t *testing.T) {
	e := NewEditor(new(bytes.Buffer), 100, 3, nil)
	press(e, "one\rtwo\rtwo\r \rthree\rfour\r")
	if got, want := strings.Join(e.History(), ","), "two,three,four"; got != want {
		t.Fatalf("history = %q, want %q", got, want)
	}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"up", "\x1b[A\r", "four"},
		{"up up", "\x1b[A\x1b[A\r", "three"},
		{"up past oldest", "\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\r", "two"},
		{"up down", "\x1b[A\x1b[A\x1b[B\r", "four"},
		{"down restores draft", "dra\x1b[A\x1b[Bft\r", "draft"},
		{"edit recalled", "\x1b[A\x7f\x7fty\r", "foty"},
		{"ctrl-p", "\x10\r", "four"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEditor(new(bytes.Buffer), 100, 3, nil)
			press(e, "two\rthree\rfour\r")
			lines, _ := press(e, tt.in)
			if len(lines) != 1 || lines[0] != tt.want {
				t.Errorf("lines = %q, want [%q]", lines, tt.want)
			}
		})
	}
}

func TestEditorActions(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Action
	}{
		{"ctrl-c", "abc\x03", ActionCancel},
		{"ctrl-d empty", "\x04", ActionQuit},
		{"ctrl-d non-empty", "abc\x04", ActionNone},
		{"enter", "\r", ActionLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEditor(new(bytes.Buffer), 100, 3, nil)
			_, got := press(e, tt.in)
			if got != tt.want {
				t.Errorf("action = %v, want %v", got, tt.want)
			}
		})
	}
	e := NewEditor(new(bytes.Buffer), 100, 3, nil)
	press(e, "abc\x03")
	if e.Len() != 0 {
		t.Errorf("after Ctrl-C the line is %q, want empty", e.Line())
	}
}

func TestEditorLimit(t *testing.T) {
	out := new(bytes.Buffer)
	e := NewEditor(out, 8, 3, words{"abcdefghijkl"})
	press(e, strings.Repeat("x", 20))
	if e.Len() != 8 {
		t.Errorf("len = %d, want 8", e.Len())
	}
	if !strings.Contains(out.String(), "\a") {
		t.Errorf("output %q has no bell", out.String())
	}
	e = NewEditor(out, 8, 3, words{"abcdefghijkl"})
	press(e, "a\t")
	if got, want := e.Line(), "abcdefgh"; got != want {
		t.Errorf("completion past the limit = %q, want %q", got, want)
	}
}

func TestEditorTooLong(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantLines []string
		wantLast  Action
	}{
		{"at the limit runs", "12345678\r", []string{"12345678"}, ActionLine},
		{"over the limit is refused", "123456789\r", nil, ActionTooLong},
		{"refused even after editing back", "123456789\x7f\x7f\r", nil, ActionTooLong},
		{"the next line is fine", "123456789\rok\r", []string{"ok"}, ActionLine},
		{"ctrl-c forgets the overflow", "123456789\x03ok\r", []string{"ok"}, ActionLine},
		{"completion past the limit is refused", "a\t\r", nil, ActionTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []Mode{ModeEcho, ModeQuiet} {
				if mode == ModeQuiet && strings.Contains(tt.in, "\t") {
					continue // a client that edits locally gets no completion
				}
				e := NewEditor(new(bytes.Buffer), 8, 3, words{"abcdefghijkl"})
				e.Mode = mode
				lines, last := press(e, tt.in)
				if strings.Join(lines, ",") != strings.Join(tt.wantLines, ",") || last != tt.wantLast {
					t.Errorf("mode %d: lines %q, last action %d; want %q, %d", mode, lines, last, tt.wantLines, tt.wantLast)
				}
				for _, h := range e.History() {
					if len(h) > 8 {
						t.Errorf("mode %d: history holds %q, longer than the limit", mode, h)
					}
				}
			}
		})
	}
}

func TestEditorCompletion(t *testing.T) {
	cands := words{"help", "hello", "history", "quit"}
	tests := []struct {
		name     string
		in       string
		wantLine string
		wantList bool
	}{
		{"unique", "q\t", "quit", false},
		{"extend to common prefix", "hel\t", "hel", true},
		{"extend without listing", "he\t", "hel", false},
		{"double tab lists", "he\t\t", "hel", true},
		{"ambiguous lists", "h\t", "h", true},
		{"no match", "z\t", "z", false},
		{"second word", "help q\t", "help quit", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := new(bytes.Buffer)
			e := NewEditor(out, 100, 3, cands)
			e.Prompt = "n:/$ "
			press(e, tt.in)
			if e.Line() != tt.wantLine {
				t.Errorf("line = %q, want %q", e.Line(), tt.wantLine)
			}
			listed := strings.Contains(out.String(), "\r\nhelp ")
			if listed != tt.wantList {
				t.Errorf("listed = %v, want %v (output %q)", listed, tt.wantList, out.String())
			}
		})
	}
}

func TestEditorModes(t *testing.T) {
	tests := []struct {
		name string
		mode Mode
		want string
	}{
		{"echo", ModeEcho, "ab\r\n"},
		{"hidden", ModeHidden, "\r\n"},
		{"quiet", ModeQuiet, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := new(bytes.Buffer)
			e := NewEditor(out, 100, 3, nil)
			e.Mode = tt.mode
			lines, _ := press(e, "ab\r")
			if got := out.String(); got != tt.want {
				t.Errorf("output = %q, want %q", got, tt.want)
			}
			if len(lines) != 1 || lines[0] != "ab" {
				t.Errorf("lines = %q, want [ab]", lines)
			}
		})
	}
}
