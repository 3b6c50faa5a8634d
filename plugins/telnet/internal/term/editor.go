package term

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Action is what a key press asks of the caller.
type Action uint8

// Actions returned by [Editor.Press].
const (
	ActionNone   Action = iota // the line was edited (or the key ignored)
	ActionLine                 // Enter: the line is complete
	ActionCancel               // Ctrl-C: the line was discarded
	ActionQuit                 // Ctrl-D on an empty line: end the session
	// ActionTooLong is Enter on a line that outgrew the limit: keys were
	// dropped, so the line is not what was typed. It is discarded, and
	// Press returns no text.
	ActionTooLong
)

// Mode says how much of the editing an [Editor] draws.
type Mode uint8

// Editor modes.
const (
	// ModeEcho draws every change: the client agreed not to echo.
	ModeEcho Mode = iota
	// ModeHidden draws only the new line at Enter (password entry).
	ModeHidden
	// ModeQuiet draws nothing: the client echoes for itself (netcat with
	// a terminal in canonical mode).
	ModeQuiet
)

// A Completer proposes completions for TAB. head is the line up to the
// cursor. Complete returns the rune index in head where the word being
// completed starts and the candidates that may replace head[start:]; a
// candidate that ends a word carries its trailing space or slash. The
// editor inserts the longest common prefix and lists the candidates when
// that adds nothing.
type Completer interface {
	Complete(head string) (start int, candidates []string)
}

// Editor edits one input line at a time and keeps a bounded history. The
// terminal output for each change is appended to the buffer given to
// [NewEditor]; the caller flushes it to the connection.
type Editor struct {
	// Prompt is drawn before the line on a full redraw.
	Prompt string
	// Mode is how much to draw; the session updates it as negotiation
	// settles.
	Mode Mode

	out      *bytes.Buffer
	complete Completer
	max      int
	buf      []rune
	pos      int
	hist     []string
	histMax  int
	histPos  int    // index into hist while browsing; len(hist) when not
	draft    []rune // the line being typed before browsing began
	lastTab  bool   // the previous key was TAB: a second one lists
	over     bool   // input was dropped at the limit since the line began
}

// NewEditor returns an editor whose lines hold at most maxLen runes and
// whose history keeps histMax lines. c may be nil (no completion).
func NewEditor(out *bytes.Buffer, maxLen, histMax int, c Completer) *Editor {
	return &Editor{out: out, complete: c, max: max(maxLen, 1), histMax: max(histMax, 0)}
}

// Line returns the text being edited.
func (e *Editor) Line() string { return string(e.buf) }

// Len returns the length of the line in runes; it never exceeds the limit.
func (e *Editor) Len() int { return len(e.buf) }

// Cursor returns the cursor position in runes.
func (e *Editor) Cursor() int { return e.pos }

// History returns a copy of the history, oldest first.
func (e *Editor) History() []string { return append([]string(nil), e.hist...) }

// Press applies one key. For ActionLine it also returns the completed line,
// which is added to the history when it is not blank and differs from the
// last entry.
func (e *Editor) Press(k Key) (Action, string) {
	tab := k.Code == KeyTab
	defer func() { e.lastTab = tab }()
	switch k.Code {
	case KeyRune:
		if unicode.IsPrint(k.Rune) {
			e.insert([]rune{k.Rune})
		}
	case KeyEnter:
		line := string(e.buf)
		if e.Mode != ModeQuiet {
			e.out.WriteString("\r\n")
		}
		if e.over {
			e.reset()
			return ActionTooLong, ""
		}
		e.remember(line)
		e.reset()
		return ActionLine, line
	case KeyInterrupt:
		if e.Mode == ModeEcho {
			e.out.WriteString("^C")
		}
		if e.Mode != ModeQuiet {
			e.out.WriteString("\r\n")
		}
		e.reset()
		return ActionCancel, ""
	case KeyEOF:
		if len(e.buf) == 0 {
			return ActionQuit, ""
		}
		e.deleteAt()
	case KeyBackspace:
		if e.pos > 0 {
			e.pos--
			e.left(1)
			e.deleteAt()
		}
	case KeyDelete:
		e.deleteAt()
	case KeyLeft:
		if e.pos > 0 {
			e.pos--
			e.left(1)
		}
	case KeyRight:
		if e.pos < len(e.buf) {
			e.pos++
			e.right(1)
		}
	case KeyHome:
		e.left(e.pos)
		e.pos = 0
	case KeyEnd:
		e.right(len(e.buf) - e.pos)
		e.pos = len(e.buf)
	case KeyKillLine:
		e.replace(e.buf[e.pos:], 0)
	case KeyKillEnd:
		e.replace(e.buf[:e.pos], e.pos)
	case KeyKillWord:
		start := e.pos
		for start > 0 && e.buf[start-1] == ' ' {
			start--
		}
		for start > 0 && e.buf[start-1] != ' ' {
			start--
		}
		line := append(append([]rune(nil), e.buf[:start]...), e.buf[e.pos:]...)
		e.replace(line, start)
	case KeyUp:
		if e.histPos > 0 {
			if e.histPos == len(e.hist) {
				e.draft = append(e.draft[:0], e.buf...)
			}
			e.histPos--
			line := []rune(e.hist[e.histPos])
			e.replace(line, len(line))
		}
	case KeyDown:
		if e.histPos < len(e.hist) {
			e.histPos++
			line := e.draft
			if e.histPos < len(e.hist) {
				line = []rune(e.hist[e.histPos])
			}
			e.replace(append([]rune(nil), line...), len(line))
		}
	case KeyTab:
		e.tab()
	case KeyRedraw:
		if e.Mode == ModeEcho {
			e.out.WriteString("\x1b[H\x1b[2J")
			e.Redraw()
		}
	}
	return ActionNone, ""
}

// Redraw draws the prompt and the line from the start of the current
// terminal line, leaving the cursor where it belongs.
func (e *Editor) Redraw() {
	e.out.WriteString("\r")
	e.out.WriteString(e.Prompt)
	if e.Mode != ModeEcho {
		return
	}
	e.out.WriteString(string(e.buf))
	e.out.WriteString("\x1b[K")
	e.left(len(e.buf) - e.pos)
}

// reset empties the line and ends history browsing.
func (e *Editor) reset() {
	e.buf, e.pos = e.buf[:0], 0
	e.over = false
	e.histPos = len(e.hist)
	e.draft = e.draft[:0]
}

// remember adds line to the history.
func (e *Editor) remember(line string) {
	if e.histMax == 0 || strings.TrimSpace(line) == "" {
		return
	}
	if n := len(e.hist); n > 0 && e.hist[n-1] == line {
		return
	}
	if len(e.hist) == e.histMax {
		copy(e.hist, e.hist[1:])
		e.hist = e.hist[:len(e.hist)-1]
	}
	e.hist = append(e.hist, line)
}

// insert puts rs at the cursor, as much of it as the limit allows.
func (e *Editor) insert(rs []rune) {
	if room := e.max - len(e.buf); len(rs) > room {
		rs = rs[:room]
		e.over = true
		e.bell()
	}
	if len(rs) == 0 {
		return
	}
	tail := len(e.buf) - e.pos
	e.buf = slices.Insert(e.buf, e.pos, rs...)
	e.pos += len(rs)
	e.draw(e.buf[e.pos-len(rs):])
	e.left(tail)
}

// deleteAt removes the rune under the cursor.
func (e *Editor) deleteAt() {
	if e.pos >= len(e.buf) {
		return
	}
	e.buf = append(e.buf[:e.pos], e.buf[e.pos+1:]...)
	e.draw(e.buf[e.pos:])
	e.draw([]rune{' '})
	e.left(len(e.buf) - e.pos + 1)
}

// replace swaps the whole line for line and puts the cursor at pos.
func (e *Editor) replace(line []rune, pos int) {
	if len(line) > e.max {
		line = line[:e.max]
	}
	e.left(e.pos)
	e.buf = append(e.buf[:0], line...)
	e.pos = min(pos, len(e.buf))
	e.draw(e.buf)
	if e.Mode == ModeEcho {
		e.out.WriteString("\x1b[K")
	}
	e.left(len(e.buf) - e.pos)
}

// tab completes the word before the cursor.
func (e *Editor) tab() {
	if e.Mode != ModeEcho {
		// The client edits locally and sent the TAB inside a whole line:
		// there is no one to show candidates to.
		e.insert([]rune{' '})
		return
	}
	if e.complete == nil {
		e.bell()
		return
	}
	head := e.buf[:e.pos]
	start, cands := e.complete.Complete(string(head))
	if len(cands) == 0 || start < 0 || start > len(head) {
		e.bell()
		return
	}
	word := head[start:]
	prefix := []rune(cands[0])
	for _, c := range cands[1:] {
		prefix = commonPrefix(prefix, []rune(c))
	}
	if len(prefix) > len(word) && hasPrefix(prefix, word) {
		e.insert(prefix[len(word):])
		if len(cands) == 1 {
			return
		}
	}
	if len(cands) == 1 {
		return
	}
	if len(prefix) <= len(word) || e.lastTab {
		e.list(cands)
	}
}

// list prints candidates in columns below the line and redraws it.
func (e *Editor) list(cands []string) {
	if e.Mode != ModeEcho {
		return
	}
	width := 0
	for _, c := range cands {
		width = max(width, len([]rune(c)))
	}
	width += 2
	cols := max(1, 80/width)
	e.out.WriteString("\r\n")
	for i, c := range cands {
		e.out.WriteString(c)
		if (i+1)%cols == 0 || i == len(cands)-1 {
			e.out.WriteString("\r\n")
		} else {
			e.out.WriteString(strings.Repeat(" ", width-len([]rune(c))))
		}
	}
	e.Redraw()
}

// draw writes runes at the cursor position when echoing.
func (e *Editor) draw(rs []rune) {
	if e.Mode == ModeEcho {
		e.out.WriteString(string(rs))
	}
}

// left moves the terminal cursor n columns left.
func (e *Editor) left(n int) { e.move(n, 'D') }

// right moves the terminal cursor n columns right.
func (e *Editor) right(n int) { e.move(n, 'C') }

func (e *Editor) move(n int, dir byte) {
	if n <= 0 || e.Mode != ModeEcho {
		return
	}
	e.out.WriteString("\x1b[")
	if n > 1 {
		e.out.WriteString(strconv.Itoa(n))
	}
	e.out.WriteByte(dir)
}

// bell rings the terminal bell: the key could not be applied in full.
func (e *Editor) bell() {
	if e.Mode == ModeEcho {
		e.out.WriteByte('\a')
	}
}

func commonPrefix(a, b []rune) []rune {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

func hasPrefix(s, prefix []rune) bool {
	return len(s) >= len(prefix) && string(s[:len(prefix)]) == string(prefix)
}
