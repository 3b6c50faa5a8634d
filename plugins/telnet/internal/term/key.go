package term

// KeyCode says what a [Key] is.
type KeyCode uint8

// Key codes produced by [Decoder].
const (
	KeyRune      KeyCode = iota // a printable character, in Key.Rune
	KeyEnter                    // CR, LF, CR LF or CR NUL
	KeyBackspace                // BS or DEL
	KeyDelete                   // ESC [ 3 ~, or Ctrl-D on a non-empty line
	KeyLeft                     // ESC [ D, ESC O D, Ctrl-B
	KeyRight                    // ESC [ C, ESC O C, Ctrl-F
	KeyUp                       // ESC [ A, ESC O A, Ctrl-P
	KeyDown                     // ESC [ B, ESC O B, Ctrl-N
	KeyHome                     // ESC [ H, ESC O H, ESC [ 1 ~, ESC [ 7 ~, Ctrl-A
	KeyEnd                      // ESC [ F, ESC O F, ESC [ 4 ~, ESC [ 8 ~, Ctrl-E
	KeyTab                      // HT
	KeyInterrupt                // Ctrl-C, or telnet IAC IP
	KeyEOF                      // Ctrl-D
	KeyKillLine                 // Ctrl-U, or telnet IAC EL: delete before the cursor
	KeyKillWord                 // Ctrl-W: delete the word before the cursor
	KeyKillEnd                  // Ctrl-K: delete from the cursor to the end
	KeyRedraw                   // Ctrl-L: clear the screen and redraw the line
)

// Key is one decoded key press.
type Key struct {
	Code KeyCode
	Rune rune // set when Code is KeyRune
}

var keyNames = [...]string{
	KeyRune: "rune", KeyEnter: "enter", KeyBackspace: "backspace", KeyDelete: "delete",
	KeyLeft: "left", KeyRight: "right", KeyUp: "up", KeyDown: "down", KeyHome: "home",
	KeyEnd: "end", KeyTab: "tab", KeyInterrupt: "interrupt", KeyEOF: "eof",
	KeyKillLine: "kill-line", KeyKillWord: "kill-word", KeyKillEnd: "kill-end", KeyRedraw: "redraw",
}

// String returns the key's name, or the character for a KeyRune.
func (k Key) String() string {
	if k.Code == KeyRune {
		return string(k.Rune)
	}
	if int(k.Code) < len(keyNames) {
		return keyNames[k.Code]
	}
	return "unknown"
}

// controlKey returns the key for a C0 control byte, or false if the editor
// has no use for it.
func controlKey(b byte) (KeyCode, bool) {
	switch b {
	case 0x01:
		return KeyHome, true
	case 0x02:
		return KeyLeft, true
	case 0x03:
		return KeyInterrupt, true
	case 0x04:
		return KeyEOF, true
	case 0x05:
		return KeyEnd, true
	case 0x06:
		return KeyRight, true
	case 0x08:
		return KeyBackspace, true
	case 0x09:
		return KeyTab, true
	case 0x0b:
		return KeyKillEnd, true
	case 0x0c:
		return KeyRedraw, true
	case 0x0e:
		return KeyDown, true
	case 0x10:
		return KeyUp, true
	case 0x15:
		return KeyKillLine, true
	case 0x17:
		return KeyKillWord, true
	}
	return 0, false
}
