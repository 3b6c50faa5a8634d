package console

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ArgType is the kind of value an argument takes.
type ArgType uint8

// Argument types, as written after the colon in a spec.
const (
	ArgWord     ArgType = iota // any single word (the default)
	ArgInt                     // "int": a decimal integer
	ArgDuration                // "duration": a Go duration such as 1m30s
	ArgChoice                  // "a|b|c": one of the listed words
	ArgRegexp                  // "/re/": a word the regular expression matches in full
	ArgRest                    // "rest" or a name ending in "...": the rest of the line
)

// ArgSpec describes one argument of a command.
type ArgSpec struct {
	Name     string
	Type     ArgType
	Optional bool
	Choices  []string       // for ArgChoice
	Pattern  *regexp.Regexp // for ArgRegexp, anchored at both ends
	pattern  string         // the pattern as written, for the synopsis
}

// ParseArgs parses an argument spec: space-separated items, each "name" or
// "name:type", an optional one in brackets. Types are int, duration, word,
// rest, a choice list a|b|c, or a regular expression between slashes (no
// spaces; use \s). "name..." is short for "name:rest". Optional arguments
// come after the required ones, and a rest argument comes last. For
// example:
//
//	n:int [step:duration]
//	mode:fast|slow [text...]
//	key:/[A-Za-z]+\.[A-Za-z]+/ value...
func ParseArgs(spec string) ([]ArgSpec, error) {
	var specs []ArgSpec
	seen := make(map[string]bool)
	for _, item := range strings.Fields(spec) {
		a := ArgSpec{}
		if strings.HasPrefix(item, "[") && strings.HasSuffix(item, "]") {
			a.Optional = true
			item = item[1 : len(item)-1]
		}
		name, typ, _ := strings.Cut(item, ":")
		if rest, ok := strings.CutSuffix(name, "..."); ok {
			name, typ = rest, "rest"
		}
		if !validName(name) {
			return nil, fmt.Errorf("console: argument spec %q: bad name %q, want letters, digits, _ or -", spec, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("console: argument spec %q: %q appears twice", spec, name)
		}
		seen[name] = true
		a.Name = name
		switch {
		case typ == "" || typ == "word":
			a.Type = ArgWord
		case typ == "int":
			a.Type = ArgInt
		case typ == "duration":
			a.Type = ArgDuration
		case typ == "rest":
			a.Type = ArgRest
		case len(typ) >= 2 && typ[0] == '/' && typ[len(typ)-1] == '/':
			re, err := regexp.Compile(`^(?:` + typ[1:len(typ)-1] + `)$`)
			if err != nil {
				return nil, fmt.Errorf("console: argument spec %q: %w", spec, err)
			}
			a.Type, a.Pattern, a.pattern = ArgRegexp, re, typ
		case strings.Contains(typ, "|"):
			a.Type = ArgChoice
			for c := range strings.SplitSeq(typ, "|") {
				if c == "" {
					return nil, fmt.Errorf("console: argument spec %q: empty choice in %q", spec, typ)
				}
				a.Choices = append(a.Choices, c)
			}
		default:
			return nil, fmt.Errorf("console: argument spec %q: unknown type %q, want int, duration, word, rest, a|b|c or /regexp/", spec, typ)
		}
		if n := len(specs); n > 0 {
			prev := specs[n-1]
			if prev.Type == ArgRest {
				return nil, fmt.Errorf("console: argument spec %q: %q follows the rest-of-line argument %q", spec, name, prev.Name)
			}
			if prev.Optional && !a.Optional {
				return nil, fmt.Errorf("console: argument spec %q: required %q follows optional %q", spec, name, prev.Name)
			}
		}
		specs = append(specs, a)
	}
	return specs, nil
}

// String returns the argument as the synopsis shows it: <n:int>, [<mode:a|b>].
func (a ArgSpec) String() string {
	var s string
	switch a.Type {
	case ArgWord:
		s = "<" + a.Name + ">"
	case ArgInt:
		s = "<" + a.Name + ":int>"
	case ArgDuration:
		s = "<" + a.Name + ":duration>"
	case ArgChoice:
		s = "<" + a.Name + ":" + strings.Join(a.Choices, "|") + ">"
	case ArgRegexp:
		s = "<" + a.Name + ":" + a.pattern + ">"
	case ArgRest:
		s = "<" + a.Name + "...>"
	}
	if a.Optional {
		s = "[" + s + "]"
	}
	return s
}

// check validates one value against the spec and says what is wrong.
func (a ArgSpec) check(v string) error {
	switch a.Type {
	case ArgInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("not an integer")
		}
	case ArgDuration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Errorf("not a duration (try 500ms, 10s, 1m30s)")
		}
	case ArgChoice:
		for _, c := range a.Choices {
			if c == v {
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(a.Choices, ", "))
	case ArgRegexp:
		if !a.Pattern.MatchString(v) {
			return fmt.Errorf("does not match %s", a.pattern)
		}
	}
	return nil
}

// Synopsis joins the argument specs as the help shows them.
func Synopsis(specs []ArgSpec) string {
	parts := make([]string, len(specs))
	for i, a := range specs {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}

// token is one word of an input line with its byte offset.
type token struct {
	text string
	off  int
}

// tokenize splits line at runs of spaces and tabs.
func tokenize(line string) []token {
	var toks []token
	start := -1
	for i := 0; i <= len(line); i++ {
		if i == len(line) || line[i] == ' ' || line[i] == '\t' {
			if start >= 0 {
				toks = append(toks, token{line[start:i], start})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return toks
}

// bindArgs matches the tokens after a command against its specs. line is
// the whole input, so a rest argument keeps its inner spacing.
func bindArgs(cmd *Command, line string, toks []token) ([]Arg, error) {
	var args []Arg
	i := 0
	for _, a := range cmd.Args {
		if i == len(toks) {
			if a.Optional {
				break
			}
			return nil, &ArgError{Cmd: cmd, Msg: "missing argument " + a.String()}
		}
		if a.Type == ArgRest {
			args = append(args, Arg{Name: a.Name, Value: strings.TrimRight(line[toks[i].off:], " \t")})
			i = len(toks)
			break
		}
		if err := a.check(toks[i].text); err != nil {
			return nil, &ArgError{Cmd: cmd, Msg: fmt.Sprintf("bad argument %q for %s: %v", toks[i].text, a.String(), err)}
		}
		args = append(args, Arg{Name: a.Name, Value: toks[i].text})
		i++
	}
	if i < len(toks) {
		return nil, &ArgError{Cmd: cmd, Msg: fmt.Sprintf("unexpected argument %q", toks[i].text)}
	}
	return args, nil
}

// ArgError is a line whose arguments do not fit the command's spec.
type ArgError struct {
	Cmd *Command
	Msg string
}

// Error returns the problem followed by the command's usage.
func (e *ArgError) Error() string {
	return e.Msg + "\nusage: " + e.Cmd.Usage()
}
