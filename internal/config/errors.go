package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrReadOnly is returned by [Store.Set] on a store opened with
// [Options.ReadOnly].
var ErrReadOnly = errors.New("config: store is read-only; open it without ReadOnly to change values")

// ParseError is one malformed line of a config file. [Open] collects every
// ParseError of a file and returns them together with [errors.Join], so a
// user can fix them all in one go; a file with errors is never rewritten.
type ParseError struct {
	File string // the file name as given to Open, or "<embedded>"
	Line int    // 1-based line number; 0 when the problem is the whole file
	Msg  string // what is wrong and what to do about it
}

// Error returns "file:line: msg" (or "file: msg" when Line is 0).
func (e *ParseError) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// ValueError is a value that a typed getter of [Section] could not use. The
// getter returned the default instead and recorded the ValueError; see
// [Store.Problems] and [Section.Problems].
type ValueError struct {
	Where   string // where the value came from: "conf/mtnode.conf:7", "env MT_RPC_queueLimit", "--set" or "default"
	Key     string // full key, such as "RPC.queueLimit"
	Value   string // the value as found
	Reason  string // what is wrong with it, such as "is not an integer"
	Default string // the value used instead, as written in the file
}

// Error returns, for example,
// `conf/mtnode.conf:7: RPC.queueLimit: "abc" is not an integer; using default 4096`.
func (e *ValueError) Error() string {
	return fmt.Sprintf("%s: %s: %q %s; using default %s", e.Where, e.Key, e.Value, e.Reason, showDefault(e.Default))
}

// Warning is a key that no service knows: a probable typo. See [Store.Unknown].
type Warning struct {
	File       string // file the key is in, "--set" for an override, or "environment MT_..." for a variable
	Line       int    // 1-based line of the key in File; 0 if unknown
	Key        string // the key as written
	Suggestion string // the closest known key, or "" when nothing is close
}

// String returns, for example,
// `conf/x.conf:12: unknown key "RPC.bindAdr" (did you mean "RPC.bindAddr"?)`.
func (w Warning) String() string {
	s := w.File
	if w.Line > 0 {
		s += ":" + strconv.Itoa(w.Line)
	}
	s += ": unknown key " + strconv.Quote(w.Key)
	if w.Suggestion != "" {
		s += " (did you mean " + strconv.Quote(w.Suggestion) + "?)"
	}
	return s
}

// showDefault renders a default value for messages and generated comments:
// as is when it reads unambiguously, quoted when it is empty or has
// surrounding spaces or control characters.
func showDefault(def string) string {
	if def == "" || def != strings.TrimSpace(def) || hasControl(def) {
		return strconv.Quote(def)
	}
	return def
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
