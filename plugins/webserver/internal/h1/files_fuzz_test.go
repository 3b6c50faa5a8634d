package h1

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzCleanPath checks that a path cleanPath accepts can never leave the
// document root: no "." or ".." segment, no empty segment but a trailing
// one, no NUL, backslash or other control byte, and joined under a root it
// stays there. It also checks that a clean result cleans to itself.
func FuzzCleanPath(f *testing.F) {
	seeds := []string{
		"/", "/index.html", "/a/b/c.txt", "/dir/", "//dir", "///a//b//",
		"/../etc/passwd", "/a/../../b", "/./a", "/a/.", "/a/..", "/..",
		"/%2e%2e/x", "/%2E%2E%2Fx", "/.%2e/x", "/%2e./x", "/..%2fx", "/..%5cx",
		"/a%2fb", "/a%5Cb", "/a\\b", "/..\\..\\x", "/a%00b", "/a%", "/a%2", "/a%zz",
		"/%25", "/%252e%252e/x", "/a%20b", "/caf%C3%A9", "/%ff%fe", "/a\x7f",
		"a/b", "", "/a?b", "/a#b", "/....//x", "/...", "/.hidden",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var stack [256]byte
		rel, err := cleanPath(stack[:0], p)
		if err != nil {
			if rel != nil {
				t.Fatalf("cleanPath(%q) = %q with error %v, want nil", p, rel, err)
			}
			return
		}
		if len(p) == 0 || p[0] != '/' {
			t.Fatalf("cleanPath(%q) accepted a relative path", p)
		}
		if bytes.HasPrefix(rel, []byte("/")) {
			t.Fatalf("cleanPath(%q) = %q, starts with a slash", p, rel)
		}
		for i, c := range rel {
			if c < 0x20 || c == 0x7f || c == '\\' {
				t.Fatalf("cleanPath(%q) = %q: byte %#x at %d", p, rel, c, i)
			}
		}
		segs := strings.Split(string(rel), "/")
		for i, seg := range segs {
			if seg == "." || seg == ".." {
				t.Fatalf("cleanPath(%q) = %q: %q segment", p, rel, seg)
			}
			if seg == "" && i != len(segs)-1 {
				t.Fatalf("cleanPath(%q) = %q: empty segment", p, rel)
			}
		}
		const root = "/srv/www"
		if j := filepath.Join(root, filepath.FromSlash(string(rel))); j != root && !strings.HasPrefix(j, root+"/") {
			t.Fatalf("cleanPath(%q) = %q joins to %q, outside %s", p, rel, j, root)
		}
		// "/" + rel is itself clean and maps to rel, unless rel holds a
		// '%' (decoding is not idempotent, by design).
		if bytes.IndexByte(rel, '%') < 0 {
			again, err := cleanPath(nil, append([]byte("/"), rel...))
			if err != nil || !bytes.Equal(again, rel) {
				t.Fatalf("cleanPath(%q) = %q, but cleanPath(%q) = %q, %v", p, rel, "/"+string(rel), again, err)
			}
		}
	})
}

// FuzzParseRange checks that an accepted, satisfiable range always lies
// inside the file, and that a header with several ranges is ignored.
func FuzzParseRange(f *testing.F) {
	seeds := []struct {
		v    string
		size int64
	}{
		{"bytes=0-4", 13}, {"bytes=7-", 13}, {"bytes=-6", 13}, {"bytes=7-100", 13},
		{"bytes=100-", 13}, {"bytes=0-0", 1}, {"bytes=-0", 13}, {"bytes=0-", 0},
		{"bytes=-5", 0}, {"bytes=5-3", 13}, {"bytes=0-1,3-4", 13}, {"bytes= 2-3 ", 13},
		{"bytes=999999999999999999-", 13}, {"bytes=-999999999999999999", 13},
		{"bytes=0-999999999999999999", 1 << 40}, {"bytes=9999999999999999999-", 13},
		{"bytes=-", 13}, {"bytes=a-b", 13}, {"items=0-4", 13}, {"bytes=--1", 13},
		{"bytes=1--2", 13}, {"bytes=+1-2", 13}, {"", 13}, {"bytes=0-4", -1},
	}
	for _, s := range seeds {
		f.Add([]byte(s.v), s.size)
	}
	f.Fuzz(func(t *testing.T, v []byte, size int64) {
		if size < 0 {
			size = -(size + 1) // file sizes are never negative
		}
		start, end, ok, satisfiable := parseRange(v, size)
		if !ok {
			if satisfiable || start != 0 || end != 0 {
				t.Fatalf("parseRange(%q, %d) = %d, %d, %v, %v: ignored but with a range", v, size, start, end, ok, satisfiable)
			}
			return
		}
		if bytes.IndexByte(v, ',') >= 0 {
			t.Fatalf("parseRange(%q, %d) accepted several ranges", v, size)
		}
		if !satisfiable {
			return
		}
		if start < 0 || start > end || end >= size {
			t.Fatalf("parseRange(%q, %d) = [%d, %d], outside the file", v, size, start, end)
		}
	})
}

// FuzzConditional checks that the conditional-request checks never panic
// and that a header naming the file's own validators matches.
func FuzzConditional(f *testing.F) {
	f.Add([]byte(`"18a3-d"`), []byte("Mon, 02 Jan 2006 15:04:05 GMT"), []byte(`"18a3-d"`))
	f.Add([]byte(`W/"x", "18a3-d"`), []byte(""), []byte("Mon, 02 Jan 2006 15:04:05 GMT"))
	f.Add([]byte("*"), []byte("garbage"), []byte(`"`))
	f.Add([]byte(",,, ,W/"), []byte("Mon, 32 Jan 2006 25:04:05 GMT"), []byte(""))
	mod := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	e := &fileEntry{etag: `"18a3-d"`, modTime: mod, lastMod: mod.Format(httpTime)}
	f.Fuzz(func(t *testing.T, inm, ims, ifRange []byte) {
		fr := FileRequest{IfNoneMatch: inm, IfModifiedSince: ims}
		notModified(e, fr)
		ifRangeMatches(e, ifRange)
		if !notModified(e, FileRequest{IfNoneMatch: append(append(append([]byte{}, inm...), ','), e.etag...)}) {
			t.Fatalf("If-None-Match %q plus the file's ETag did not match", inm)
		}
		if !ifRangeMatches(e, []byte(e.etag)) || !ifRangeMatches(e, []byte(e.lastMod)) {
			t.Fatal("If-Range with the file's own validator did not match")
		}
	})
}
