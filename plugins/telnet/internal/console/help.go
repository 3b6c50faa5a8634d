package console

import (
	"fmt"
	"strings"
)

// maxHelpColumn caps the column where descriptions start.
const maxHelpColumn = 40

// helpLine is one row of a listing: left column and description.
type helpLine struct{ left, desc string }

// builtinHelp describes the commands every directory has.
func builtinHelp() []helpLine {
	return []helpLine{
		{"cd [<dir>]", "change directory (.. is up, / is the top; a directory's name also enters it)"},
		{"help [<path>]", "show the commands under a directory, or one command (? does the same)"},
		{"ls [<dir>]", "list a directory"},
		{"quit", "end the session (exit and Ctrl-D do the same)"},
	}
}

// help renders the help for path (empty: the current directory): a tree of
// directories and commands with synopses and descriptions, or the usage of
// one command.
func (t *Tree) help(cwd []string, path string) (string, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	dp, d, rest := t.walk(cwd, path)
	if len(rest) > 0 {
		c, ok := d.cmds[rest[0]]
		if !ok || len(rest) > 1 {
			return "", t.unknown(d, dp, rest[0], false)
		}
		return commandHelp(c), nil
	}
	var lines []helpLine
	if len(dp) == 0 || path == "" {
		lines = append(lines, builtinHelp()...)
	}
	lines = appendTree(lines, d, "")
	head := "Commands in " + absPath(dp) + ":"
	if len(lines) == 0 {
		return head + "\n  (none)", nil
	}
	return head + "\n" + columns(lines, "  "), nil
}

// commandHelp renders the usage of one command and its arguments.
func commandHelp(c *Command) string {
	var b strings.Builder
	b.WriteString("usage: " + c.Usage())
	if c.Desc != "" {
		b.WriteString("\n  " + c.Desc)
	}
	var lines []helpLine
	for _, a := range c.Args {
		desc := argTypeHelp(a)
		if a.Optional {
			desc += ", optional"
		}
		lines = append(lines, helpLine{a.Name, desc})
	}
	if len(lines) > 0 {
		b.WriteString("\n" + columns(lines, "    "))
	}
	b.WriteString(fmt.Sprintf("\n  (registered by %s)", c.Owner))
	return b.String()
}

func argTypeHelp(a ArgSpec) string {
	switch a.Type {
	case ArgInt:
		return "an integer"
	case ArgDuration:
		return "a duration such as 500ms or 1m30s"
	case ArgChoice:
		return "one of " + strings.Join(a.Choices, ", ")
	case ArgRegexp:
		return "a word matching " + a.pattern
	case ArgRest:
		return "the rest of the line"
	}
	return "a word"
}

// appendTree adds the rows for d's subtree, indented by indent. The
// caller holds the tree's lock.
func appendTree(lines []helpLine, d *dir, indent string) []helpLine {
	dirs, cmds := d.names()
	for _, n := range cmds {
		c := d.cmds[n]
		left := indent + n
		if len(c.Args) > 0 {
			left += " " + Synopsis(c.Args)
		}
		lines = append(lines, helpLine{left, c.Desc})
	}
	for _, n := range dirs {
		sub := d.dirs[n]
		lines = append(lines, helpLine{indent + n + "/", sub.desc})
		lines = appendTree(lines, sub, indent+"  ")
	}
	return lines
}

// list renders the entries of one directory: ls.
func (t *Tree) list(cwd []string, path string) (string, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	dp, d, rest := t.walk(cwd, path)
	if len(rest) > 0 {
		if c, ok := d.cmds[rest[0]]; ok && len(rest) == 1 {
			return columns([]helpLine{{c.Name(), c.Desc}}, ""), nil
		}
		return "", t.unknown(d, dp, rest[0], false)
	}
	dirs, cmds := d.names()
	var lines []helpLine
	for _, n := range dirs {
		lines = append(lines, helpLine{n + "/", d.dirs[n].desc})
	}
	for _, n := range cmds {
		lines = append(lines, helpLine{n, d.cmds[n].Desc})
	}
	if len(lines) == 0 {
		return "(empty; type help for the built-in commands)", nil
	}
	return columns(lines, ""), nil
}

// columns lays rows out in two columns, descriptions aligned.
func columns(lines []helpLine, indent string) string {
	width := 0
	for _, l := range lines {
		if n := len([]rune(l.left)); n <= maxHelpColumn {
			width = max(width, n)
		}
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(indent + l.left)
		if l.desc == "" {
			continue
		}
		pad := width - len([]rune(l.left))
		if pad < 0 { // a long synopsis: description on its own line
			b.WriteString("\n" + indent + strings.Repeat(" ", width))
			pad = 0
		}
		b.WriteString(strings.Repeat(" ", pad+2) + l.desc)
	}
	return b.String()
}
