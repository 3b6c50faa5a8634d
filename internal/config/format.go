package config

import (
	"slices"
	"strconv"
	"strings"
)

// format renders the document as a config file: the header, then every key
// in byte order of its name, each under its comment block and separated by
// a blank line, then the trailer. It also returns the line each key is on.
// Parsing the result gives back the same document.
func (d *document) format() ([]byte, map[string]int) {
	keys := make([]string, 0, len(d.entries))
	for k := range d.entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var b strings.Builder
	lines := make(map[string]int, len(keys))
	n := 0 // lines written
	put := func(s string) {
		b.WriteString(s)
		b.WriteByte('\n')
		n++
	}
	sep := func() { // a blank line between parts, never at the top
		if n > 0 {
			put("")
		}
	}
	for _, l := range d.header {
		put(l)
	}
	for _, k := range keys {
		e := d.entries[k]
		sep()
		for _, l := range e.comments {
			put(l)
		}
		put(k + "=" + e.value)
		lines[k] = n
	}
	if len(d.trailer) > 0 {
		sep()
		for _, l := range d.trailer {
			put(l)
		}
	}
	return []byte(b.String()), lines
}

// define makes sure a key that a service defined is in the document with
// its generated comment line: a missing key is added with the default as its
// value, and the comment block of a present key is regenerated. It reports
// whether the document changed. A default that cannot be written on one line
// is not added.
func (d *document) define(key string, def *definition) bool {
	e := d.entries[key]
	if e == nil {
		if strings.ContainsAny(def.def, "\r\n\x00") {
			return false
		}
		d.entries[key] = &entry{key: key, value: strings.TrimSpace(def.def), comments: []string{genLine(key, def.def, def.desc)}, fromDefault: true}
		return true
	}
	block := regenerate(e.comments, key, def)
	if slices.Equal(block, e.comments) {
		return false
	}
	e.comments = block
	return true
}

// genLine is the comment line written above a key a service defined:
// "# <description> (default: <default>)". The description is folded onto
// one line; a key without one is described by its own name.
func genLine(key, def, desc string) string {
	return "# " + foldDesc(key, desc) + defaultMark + showDefault(def) + ")"
}

// foldDesc is a key's description as its generated comment line shows it.
func foldDesc(key, desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	if desc == "" {
		return key
	}
	return desc
}

// defaultMark sits between a generated comment's description and its
// default.
const defaultMark = " (default: "

// isGenerated reports whether a comment line has the form genLine writes,
// whatever its description and default. Such a line documents its key for
// [Store.Effective]; whether it is replaced when the key's comment is
// regenerated is up to generatedFor, as a user may write a line of this form
// too.
func isGenerated(line string) bool {
	return strings.HasPrefix(line, "# ") && strings.HasSuffix(line, ")") && strings.Contains(line, defaultMark)
}

// generatedFor reports whether a comment line is one the store wrote for
// key, defined as def: the current generated line, or one an earlier version
// of the service wrote, whose description or default has since changed but
// not both. Any other line is the user's, however much it looks like a
// generated one, such as "# raised for prod (default: 10s was too short)".
func generatedFor(line, key string, def *definition) bool {
	if line == genLine(key, def.def, def.desc) {
		return true
	}
	if !isGenerated(line) {
		return false
	}
	i := strings.LastIndex(line, defaultMark)
	desc, shown := line[len("# "):i], line[i+len(defaultMark):len(line)-1]
	return desc == foldDesc(key, def.desc) || shown == showDefault(def.def)
}

// parseGenerated returns the description and default of a generated
// comment line (see genLine); ok is false for any other line.
func parseGenerated(line string) (desc, def string, ok bool) {
	if !isGenerated(line) {
		return "", "", false
	}
	i := strings.LastIndex(line, defaultMark)
	desc, def = line[len("# "):i], line[i+len(defaultMark):len(line)-1]
	if strings.HasPrefix(def, `"`) {
		if u, err := strconv.Unquote(def); err == nil {
			def = u
		}
	}
	return desc, def, true
}

// regenerate returns the comment block for key, defined as def: the user's
// own lines in their order, then the current generated line, just above the
// key. Only lines generatedFor the key are dropped; every other line stays.
func regenerate(block []string, key string, def *definition) []string {
	out := make([]string, 0, len(block)+1)
	for _, l := range block {
		if !generatedFor(l, key, def) {
			out = append(out, l)
		}
	}
	return append(tidyBlock(out), genLine(key, def.def, def.desc))
}
