package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigParse checks that parsing never panics, and that a file that
// parses survives formatting: the formatted text parses to the same keys and
// values, and formatting that again gives the same text.
func FuzzConfigParse(f *testing.F) {
	seeds := []string{
		"",
		"RPC.bindAddr=127.0.0.1:10100\n",
		"# Services started at boot (default: RPC)\nStart=RPC,Telnet\n",
		"RPC.bindAddr = 0.0.0.0:10200 , [::1]:10200\r\nA.q=x=y\r\n",
		"# head\n\n# about b\n\n\nB.x=1\n  # about a\nA.x=2\n\n# tail\n",
		"missing equals\n",
		"=empty key\n",
		"A.x=1\nA.x=2\n",
		"bad key=1\n",
		"RPC.=1\n",
		"A.x=1\x00\n",
		"\xef\xbb\xbfA.x=\xff\xfe\n",
		"A.x=1\rB.y=2\n",
		"\n\n\n#\n#\n\n",
	}
	if files, err := filepath.Glob("testdata/conf/*.conf"); err == nil {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				seeds = append(seeds, string(b))
			}
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, errs := parse("fuzz.conf", data)
		if errs != nil {
			for _, err := range errs {
				if _, ok := err.(*ParseError); !ok {
					t.Fatalf("error %v is a %T, want *ParseError", err, err)
				}
			}
			return
		}
		out, lines := doc.format()
		doc2, errs := parse("fuzz.conf", out)
		if errs != nil {
			t.Fatalf("formatted output does not parse: %v\ninput %q\noutput %q", errs, data, out)
		}
		if got, want := values(doc2), values(doc); !mapsEqual(got, want) {
			t.Fatalf("round trip changed the values: got %q, want %q\noutput %q", got, want, out)
		}
		for k, n := range lines {
			if doc2.entries[k].line != n {
				t.Fatalf("format put %s on line %d, parse found it on line %d\noutput %q", k, n, doc2.entries[k].line, out)
			}
		}
		if out2, _ := doc2.format(); !bytes.Equal(out2, out) {
			t.Fatalf("formatting is not stable:\nfirst  %q\nsecond %q", out, out2)
		}
	})
}
