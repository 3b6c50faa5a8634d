package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what the parser accepts. A config file is a short text file;
// anything larger is almost certainly the wrong file.
const (
	maxFileSize = 4 << 20  // bytes in a whole file
	maxLineLen  = 64 << 10 // bytes in one line, without its newline
)

// A document is a parsed config file: the keys with their values and the
// comment blocks that go with them. It is what the store edits and formats
// back into a file.
type document struct {
	header  []string          // comment lines at the top, kept at the top
	entries map[string]*entry // by key
	trailer []string          // comment lines after the last key, kept at the end
}

// An entry is one Key=value line and the comment block above it.
type entry struct {
	key   string
	value string
	// comments are the lines of the block above the key: comment lines
	// (trimmed, starting with '#') and single blank lines between them,
	// never a blank line first or last.
	comments []string
	line     int // 1-based line in the file last read or written; 0 = not in a file yet
	// fromDefault marks an entry the store added with a definition's
	// default: its value is reported with SourceDefault until the file is
	// read again.
	fromDefault bool
	// embedded marks an entry of the embedded config that no file holds
	// yet: its value is reported with SourceEmbedded until the store writes
	// the file or the operator sets it.
	embedded bool
}

func newDocument() *document {
	return &document{entries: make(map[string]*entry)}
}

// parse parses a config file. name is used in errors. It returns every
// problem found (each a *ParseError) rather than stopping at the first, and
// a document only when there are none.
//
// Layout rules: a blank or '#' line is kept in the comment block that is
// being collected; a Key=value line takes the block collected since the
// previous key. Comment lines at the start of the file that are followed by
// a blank line form the header; a block after the last key is the trailer.
func parse(name string, data []byte) (*document, []error) {
	if len(data) > maxFileSize {
		return nil, []error{&ParseError{File: name, Msg: fmt.Sprintf(
			"file is over the %d MiB limit for a config file; check that the path names a config file",
			maxFileSize>>20)}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark from some editors

	doc := newDocument()
	var (
		errs     []error
		pending  []string // block being collected
		firstKey = true
		lineNo   int
	)
	fail := func(format string, args ...any) {
		errs = append(errs, &ParseError{File: name, Line: lineNo, Msg: fmt.Sprintf(format, args...)})
	}
	for len(data) > 0 {
		lineNo++
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		if len(raw) > maxLineLen {
			fail("line is %d bytes, over the %d KiB limit; shorten it", len(raw), maxLineLen>>10)
			continue
		}
		if bytes.IndexByte(raw, 0) >= 0 {
			fail("line contains a NUL byte; a config file is text, check that the path names one")
			continue
		}
		line := strings.TrimSpace(string(raw))
		switch {
		case line == "":
			pending = append(pending, "")
			continue
		case line[0] == '#':
			pending = append(pending, line)
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			fail("missing \"=\" in %s; write Service.key=value, or start the line with # to make it a comment", quoteLine(line))
			continue
		}
		key, value := strings.TrimSpace(line[:eq]), strings.TrimSpace(line[eq+1:])
		if problem, hint := keyProblem(key); problem != "" {
			fail("%s in %s; %s", problem, quoteLine(line), hint)
			continue
		}
		if prev, ok := doc.entries[key]; ok {
			fail("duplicate key %q (first set on line %d); keep only one of the two lines", key, prev.line)
			continue
		}
		block := pending
		pending = nil
		if firstKey {
			firstKey = false
			doc.header, block = splitHeader(block)
		}
		doc.entries[key] = &entry{key: key, value: value, comments: tidyBlock(block), line: lineNo}
	}
	if firstKey {
		doc.header = tidyBlock(pending)
	} else {
		doc.trailer = tidyBlock(pending)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return doc, nil
}

// splitHeader splits the block above the first key into the file's header
// (the comment lines before the first blank line) and the key's own block.
// Without a blank line the whole block is the key's.
func splitHeader(block []string) (header, rest []string) {
	for len(block) > 0 && block[0] == "" {
		block = block[1:]
	}
	for i, l := range block {
		if l == "" {
			return tidyBlock(block[:i]), tidyBlock(block[i+1:])
		}
	}
	return nil, tidyBlock(block)
}

// tidyBlock drops blank lines at the start and end of a block and folds runs
// of blank lines into one, so formatting and parsing again is stable.
func tidyBlock(block []string) []string {
	var out []string
	for _, l := range block {
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// checkKey returns "" for a valid key, else what is wrong with it. A key is
// made of letters, digits, '_', '.' and '-', and its dot-separated parts are
// not empty: "Start", "RPC.bindAddr", "WebServer.tls.cert".
func checkKey(key string) string {
	problem, hint := keyProblem(key)
	if problem == "" {
		return ""
	}
	return problem + "; " + hint
}

// keyProblem returns what is wrong with a key and what to do about it, or
// two empty strings for a valid key.
func keyProblem(key string) (problem, hint string) {
	if key == "" {
		return "empty key", "write Service.key=value"
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Sprintf("key %q has the character %s", key, quoteChar(key[i:])),
				"keys use only letters, digits, '_', '.' and '-'"
		}
	}
	if key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		return fmt.Sprintf("key %q has an empty part between dots", key), "write Service.key"
	}
	return "", ""
}

// quoteChar quotes the first character of s for a message.
func quoteChar(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	return strconv.QuoteRune(r)
}

// quoteLine quotes a line for a message, shortened if it is long.
func quoteLine(line string) string {
	const max = 80
	if len(line) > max {
		return strconv.Quote(line[:max]) + "..."
	}
	return strconv.Quote(line)
}
