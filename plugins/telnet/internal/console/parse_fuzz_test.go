package console

import (
	"strings"
	"testing"
)

// fuzzTree is a tree with every kind of argument, for FuzzParse.
func fuzzTree(f *testing.F) *Tree {
	f.Helper()
	tree := NewTree()
	nop := HandlerFunc(func(*Call, func(string)) {})
	for _, c := range []struct{ path, args string }{
		{"demo/echo", "text..."},
		{"demo/add", "a:int b:int"},
		{"demo/mode", "m:fast|slow [why...]"},
		{"demo/wait", "d:duration [n:int]"},
		{"demo/key", `k:/[A-Za-z]+\.[A-Za-z]+/ [v...]`},
		{"config/set", "key [value...]"},
		{"node/timers", "[count:int]"},
		{"x", ""},
	} {
		if _, err := tree.Add(c.path, c.args, "fuzz", "Fuzz", nop); err != nil {
			f.Fatal(err)
		}
	}
	return tree
}

// FuzzParse runs arbitrary lines through tokenize, parse and bindArgs:
// nothing may panic; tokens are the line's non-blank runs, at their
// offsets; and a line parses as the same command with its blanks
// normalized, with the same words bound to the arguments.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", " ", "\t", "help", "? demo", "ls /demo", "cd ..", "cd /", "cd demo/../..", "quit now",
		"demo/echo hello   world ", "/demo/add 2 3", "demo add -7 99999999999999999999", "demo/add x",
		`demo/echo "quoted words" 'single' \"escaped\" back\\slash`,
		"demo/mode fast because\tof tabs", "demo/mode medium", "demo/wait 1m30s 3", "demo/wait forever",
		"demo/key Telnet.password secret", "demo/key not-a-key", "config/set Telnet.password", "node/timers 0",
		"démo/écho ünïcödé 日本語 🙂", "demo/echo \x00\x01\x7f\xff", "x y", "x/y", "demo//echo a", "../../demo/echo a",
		"demo/echo " + strings.Repeat("a", 4096), strings.Repeat("demo/", 500) + "echo", strings.Repeat(" \t", 1000),
	} {
		f.Add(s)
	}
	tree := fuzzTree(f)
	f.Fuzz(func(t *testing.T, line string) {
		toks := tokenize(line)
		prev := 0
		for _, tok := range toks {
			switch {
			case tok.text == "":
				t.Fatalf("tokenize(%q): empty token at %d", line, tok.off)
			case tok.off < prev || line[tok.off:tok.off+len(tok.text)] != tok.text:
				t.Fatalf("tokenize(%q): token %q at %d is not the line's text there", line, tok.text, tok.off)
			case strings.ContainsAny(tok.text, " \t"):
				t.Fatalf("tokenize(%q): token %q holds a blank", line, tok.text)
			}
			// What lies between tokens is blank.
			if strings.Trim(line[prev:tok.off], " \t") != "" {
				t.Fatalf("tokenize(%q): %q skipped between tokens", line, line[prev:tok.off])
			}
			prev = tok.off + len(tok.text)
		}
		if strings.Trim(line[prev:], " \t") != "" {
			t.Fatalf("tokenize(%q): %q skipped at the end", line, line[prev:])
		}
		norm := joinTokens(line)
		if got := tokenize(norm); len(got) != len(toks) {
			t.Fatalf("tokenize(%q) has %d tokens, its normalized form %q has %d", line, len(toks), norm, len(got))
		}

		for _, cwd := range [][]string{nil, {"demo"}} {
			p, err := tree.parse(cwd, line)
			q, nerr := tree.parse(cwd, norm)
			if (err == nil) != (nerr == nil) {
				t.Fatalf("parse(%q) error %v, parse(%q) error %v: want the same outcome", line, err, norm, nerr)
			}
			if err != nil {
				continue
			}
			if p.op != q.op || p.path != q.path || strings.Join(p.dir, "/") != strings.Join(q.dir, "/") {
				t.Fatalf("parse(%q) = %+v, parse(%q) = %+v: want the same", line, p, norm, q)
			}
			if p.op != opCommand {
				continue
			}
			if p.cmd != q.cmd || len(p.args) != len(q.args) {
				t.Fatalf("parse(%q) ran %s with %d args, parse(%q) %s with %d", line, p.cmd.Path, len(p.args), norm, q.cmd.Path, len(q.args))
			}
			for i, a := range p.args {
				// A rest argument keeps its inner blanks; others are one word.
				if joinTokens(a.Value) != q.args[i].Value {
					t.Fatalf("parse(%q) bound %s=%q, parse(%q) bound %q", line, a.Name, a.Value, norm, q.args[i].Value)
				}
			}
		}
	})
}

// joinTokens returns line's tokens joined by single spaces.
func joinTokens(line string) string {
	var words []string
	for _, tok := range tokenize(line) {
		words = append(words, tok.text)
	}
	return strings.Join(words, " ")
}
