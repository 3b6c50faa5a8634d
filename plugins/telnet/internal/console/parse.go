package console

import (
	"fmt"
	"strings"
)

// Built-in commands, as parsed.
const (
	opNone    = iota // an empty line
	opHelp           // help or ?, with an optional path
	opList           // ls, with an optional path
	opCd             // cd, or a line that names a directory
	opQuit           // quit or exit
	opCommand        // a registered command
)

// parsed is one input line resolved against the tree.
type parsed struct {
	op   int
	path string   // the argument of help and ls
	dir  []string // the target of cd
	cmd  *Command
	args []Arg
}

// parse resolves line against the tree with the session in cwd.
func (t *Tree) parse(cwd []string, line string) (parsed, error) {
	toks := tokenize(line)
	if len(toks) == 0 {
		return parsed{op: opNone}, nil
	}
	one := func(op int, usage string) (parsed, error) {
		if len(toks) > 2 {
			return parsed{}, fmt.Errorf("unexpected argument %q\nusage: %s", toks[2].text, usage)
		}
		p := parsed{op: op}
		if len(toks) == 2 {
			p.path = toks[1].text
		}
		return p, nil
	}
	switch toks[0].text {
	case "help", "?":
		return one(opHelp, toks[0].text+" [<path>]")
	case "ls":
		return one(opList, "ls [<dir>]")
	case "quit", "exit":
		if len(toks) > 1 {
			return parsed{}, fmt.Errorf("unexpected argument %q\nusage: %s", toks[1].text, toks[0].text)
		}
		return parsed{op: opQuit}, nil
	case "cd":
		p, err := one(opCd, "cd [<dir>]")
		if err != nil {
			return p, err
		}
		if p.path == "" {
			p.path = "/"
		}
		return t.cd(cwd, p.path)
	}

	t.mu.RLock()
	defer t.mu.RUnlock()
	dirPath := cwd
	for i, tok := range toks {
		dp, d, rest := t.walk(dirPath, tok.text)
		if len(rest) == 0 {
			dirPath = dp
			continue
		}
		if c, ok := d.cmds[rest[0]]; ok {
			if len(rest) > 1 {
				return parsed{}, fmt.Errorf("%q in %s is a command, not a directory", rest[0], absPath(dp))
			}
			args, err := bindArgs(c, line, toks[i+1:])
			if err != nil {
				return parsed{}, err
			}
			return parsed{op: opCommand, cmd: c, args: args}, nil
		}
		return parsed{}, t.unknown(d, dp, rest[0], i == 0 && !strings.Contains(tok.text, "/"))
	}
	return parsed{op: opCd, dir: dirPath}, nil
}

// cd resolves the target of a cd command.
func (t *Tree) cd(cwd []string, path string) (parsed, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	dp, d, rest := t.walk(cwd, path)
	if len(rest) == 0 {
		return parsed{op: opCd, dir: dp}, nil
	}
	if _, ok := d.cmds[rest[0]]; ok {
		return parsed{}, fmt.Errorf("%q in %s is a command, not a directory", rest[0], absPath(dp))
	}
	return parsed{}, t.unknown(d, dp, rest[0], false)
}

// unknown builds the error for a name not found in d, with the closest
// names as suggestions. The caller holds t.mu.
func (t *Tree) unknown(d *dir, dp []string, name string, builtins bool) error {
	dirs, cmds := d.names()
	cands := append(dirs, cmds...)
	if builtins {
		cands = append(cands, builtinNames()...)
	}
	msg := fmt.Sprintf("unknown command %q in %s", name, absPath(dp))
	if s := suggestions(name, cands); len(s) > 0 {
		msg += " (did you mean " + quoteJoin(s) + "?)"
	} else {
		msg += " (type help for the list)"
	}
	return fmt.Errorf("%s", msg)
}

// quoteJoin renders names as "a", "b" or "c".
func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
