package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // every error, in order
	}{
		{
			name: "missing equals",
			in:   "# comment\nRPC.bindAddr 1\n",
			want: []string{`conf/mtnode.conf:2: missing "=" in "RPC.bindAddr 1"; write Service.key=value, or start the line with # to make it a comment`},
		},
		{
			name: "empty key",
			in:   "=1\n",
			want: []string{`conf/mtnode.conf:1: empty key in "=1"; write Service.key=value`},
		},
		{
			name: "space in key",
			in:   "RPC.bind Addr=1\n",
			want: []string{`conf/mtnode.conf:1: key "RPC.bind Addr" has the character ' ' in "RPC.bind Addr=1"; keys use only letters, digits, '_', '.' and '-'`},
		},
		{
			name: "bad character in key",
			in:   "RPC.bind/Addr=1\n",
			want: []string{`conf/mtnode.conf:1: key "RPC.bind/Addr" has the character '/' in "RPC.bind/Addr=1"; keys use only letters, digits, '_', '.' and '-'`},
		},
		{
			name: "empty key part",
			in:   "RPC.=1\n",
			want: []string{`conf/mtnode.conf:1: key "RPC." has an empty part between dots in "RPC.=1"; write Service.key`},
		},
		{
			name: "duplicate key",
			in:   "A.x=1\n\nA.x=2\n",
			want: []string{`conf/mtnode.conf:3: duplicate key "A.x" (first set on line 1); keep only one of the two lines`},
		},
		{
			name: "all errors collected",
			in:   "A.x=1\nbroken\nA.x=2\n# fine\n =3\nB y=4\n",
			want: []string{
				`conf/mtnode.conf:2: missing "=" in "broken"; write Service.key=value, or start the line with # to make it a comment`,
				`conf/mtnode.conf:3: duplicate key "A.x" (first set on line 1); keep only one of the two lines`,
				`conf/mtnode.conf:5: empty key in "=3"; write Service.key=value`,
				`conf/mtnode.conf:6: key "B y" has the character ' ' in "B y=4"; keys use only letters, digits, '_', '.' and '-'`,
			},
		},
		{
			name: "NUL byte",
			in:   "A.x=1\x00\n",
			want: []string{`conf/mtnode.conf:1: line contains a NUL byte; a config file is text, check that the path names one`},
		},
		{
			name: "long line",
			in:   "A.x=1\nA.y=" + strings.Repeat("v", maxLineLen) + "\n",
			want: []string{`conf/mtnode.conf:2: line is 65540 bytes, over the 64 KiB limit; shorten it`},
		},
		{
			name: "long line shortened in message",
			in:   strings.Repeat("k", 100) + "\n",
			want: []string{`conf/mtnode.conf:1: missing "=" in "` + strings.Repeat("k", 80) + `"...; write Service.key=value, or start the line with # to make it a comment`},
		},
		{
			name: "file too large",
			in:   strings.Repeat("# 123456789abcdef\n", maxFileSize/18+1),
			want: []string{`conf/mtnode.conf: file is over the 4 MiB limit for a config file; check that the path names a config file`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, errs := parse("conf/mtnode.conf", []byte(tt.in))
			if errs == nil {
				t.Fatalf("parse succeeded with %d keys, want errors %q", len(doc.entries), tt.want)
			}
			var got []string
			for _, e := range errs {
				var pe *ParseError
				if !errors.As(e, &pe) {
					t.Errorf("error %v is a %T, want *ParseError", e, e)
				}
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// unjoin returns the errors joined in err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "only comments", in: "# a\n\n# b\n", want: map[string]string{}},
		{name: "simple", in: "RPC.bindAddr=127.0.0.1:10100\nStart=RPC\n", want: map[string]string{"RPC.bindAddr": "127.0.0.1:10100", "Start": "RPC"}},
		{name: "spaces trimmed", in: "  RPC.bindAddr  =  a b  \n", want: map[string]string{"RPC.bindAddr": "a b"}},
		{name: "equals in value", in: "A.q=x=y==\n", want: map[string]string{"A.q": "x=y=="}},
		{name: "empty value", in: "A.x=\n", want: map[string]string{"A.x": ""}},
		{name: "hash in value", in: "A.x=#not a comment\n", want: map[string]string{"A.x": "#not a comment"}},
		{name: "indented comment", in: "  # c\nA.x=1", want: map[string]string{"A.x": "1"}},
		{name: "CRLF", in: "A.x=1\r\nA.y=2\r\n", want: map[string]string{"A.x": "1", "A.y": "2"}},
		{name: "BOM", in: "\xef\xbb\xbfA.x=1\n", want: map[string]string{"A.x": "1"}},
		{name: "no final newline", in: "A.x=1\nA.y=2", want: map[string]string{"A.x": "1", "A.y": "2"}},
		{name: "odd but valid keys", in: "a-b_c.D-1.e=1\nStart=x\n", want: map[string]string{"a-b_c.D-1.e": "1", "Start": "x"}},
		{name: "case differs", in: "A.x=1\nA.X=2\n", want: map[string]string{"A.x": "1", "A.X": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, errs := parse("t.conf", []byte(tt.in))
			if errs != nil {
				t.Fatalf("parse: %v", errs)
			}
			if got := values(doc); !mapsEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseBlocks(t *testing.T) {
	in := `# header line 1
# header line 2

# about b


# more about b
B.x=1
  # about a   
A.x=2

# trailing 1

# trailing 2

`
	doc, errs := parse("t.conf", []byte(in))
	if errs != nil {
		t.Fatal(errs)
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", what, got, want)
		}
	}
	check("header", doc.header, []string{"# header line 1", "# header line 2"})
	check("B.x block", doc.entries["B.x"].comments, []string{"# about b", "", "# more about b"})
	check("A.x block", doc.entries["A.x"].comments, []string{"# about a"})
	check("trailer", doc.trailer, []string{"# trailing 1", "", "# trailing 2"})
	if got, want := doc.entries["A.x"].line, 10; got != want {
		t.Errorf("A.x line: got %d, want %d", got, want)
	}
}

func values(doc *document) map[string]string {
	m := make(map[string]string, len(doc.entries))
	for k, e := range doc.entries {
		m[k] = e.value
	}
	return m
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
