package console

import (
	"strings"
)

// complete proposes TAB completions for head, the line up to the cursor,
// with the session in cwd. It returns the rune offset where the completed
// word starts and the candidates for that word.
func (t *Tree) complete(cwd []string, head string) (int, []string) {
	toks := tokenize(head)
	word := ""
	if len(toks) > 0 && !strings.HasSuffix(head, " ") && !strings.HasSuffix(head, "\t") {
		word = toks[len(toks)-1].text
		toks = toks[:len(toks)-1]
	}
	start := len([]rune(head)) - len([]rune(word))

	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(toks) == 0 {
		return start, t.completePath(cwd, word, true, true)
	}
	switch toks[0].text {
	case "cd", "ls":
		if len(toks) == 1 {
			return start, t.completePath(cwd, word, false, false)
		}
		return start, nil
	case "help", "?":
		if len(toks) == 1 {
			return start, t.completePath(cwd, word, true, false)
		}
		return start, nil
	case "quit", "exit":
		return start, nil
	}
	// Walk the words typed so far as the parser would.
	dirPath := cwd
	for i, tok := range toks {
		dp, d, rest := t.walk(dirPath, tok.text)
		if len(rest) == 0 {
			dirPath = dp
			continue
		}
		c, ok := d.cmds[rest[0]]
		if !ok || len(rest) > 1 {
			return start, nil
		}
		n := len(toks) - i - 1 // arguments already typed
		if n >= len(c.Args) || c.Args[n].Type != ArgChoice {
			return start, nil
		}
		var out []string
		for _, ch := range c.Args[n].Choices {
			if strings.HasPrefix(ch, word) {
				out = append(out, ch+" ")
			}
		}
		return start, out
	}
	// Every word so far named a directory: complete inside it.
	return start, t.completePath(dirPath, word, true, false)
}

// completePath completes a path word: the part up to its last slash names
// a directory, the rest is a prefix of an entry there. Directories get a
// trailing slash, commands (when cmds is set) a trailing space, and
// built-ins are offered for a bare word when builtins is set. The caller
// holds t.mu.
func (t *Tree) completePath(cwd []string, word string, cmds, builtins bool) []string {
	dirPart, base := "", word
	if i := strings.LastIndexByte(word, '/'); i >= 0 {
		dirPart, base = word[:i+1], word[i+1:]
	}
	_, d, rest := t.walk(cwd, dirPart)
	if len(rest) > 0 {
		return nil
	}
	var out []string
	if base == "." || base == ".." {
		out = append(out, dirPart+base+"/")
	}
	dirs, names := d.names()
	for _, n := range dirs {
		if strings.HasPrefix(n, base) {
			out = append(out, dirPart+n+"/")
		}
	}
	if cmds {
		for _, n := range names {
			if strings.HasPrefix(n, base) {
				out = append(out, dirPart+n+" ")
			}
		}
	}
	if builtins && dirPart == "" {
		for _, n := range builtinNames() {
			if strings.HasPrefix(n, base) && n != "?" {
				out = append(out, n+" ")
			}
		}
	}
	return out
}
