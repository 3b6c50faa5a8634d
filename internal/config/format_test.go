package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/conf")

// goldenDefs are the keys the golden tests define, as services would.
var goldenDefs = []struct{ key, def, desc string }{
	{"RPC.bindAddr", "127.0.0.1:10100", "Addresses the node listens on for node links"},
	{"RPC.queueLimit", "4096", "Events the RPC queue holds before senders get an error"},
	{"SocketIO.maxOutBufferSize", "8388608", "Bytes buffered for output per connection"},
	{"Start", "RPC", "Services started at boot, in this order"},
	{"Telnet.bindAddr", "127.0.0.1:10123", "Console listen address"},
	{"HelloWeb.docRoot", "", "Folder served at /; empty answers Hello, World!"},
}

// TestGolden opens each testdata/conf/NAME.conf, defines goldenDefs and
// compares the rewritten file with NAME.golden. A file that needs no change
// must not be written at all, and a written file must be stable: defining
// the same keys again leaves it alone.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/conf/*.conf")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs in testdata/conf (err %v)", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".conf")
		t.Run(name, func(t *testing.T) {
			src := readFileT(t, in)
			path := filepath.Join(t.TempDir(), "mtnode.conf")
			writeFileT(t, path, src)
			old := setOldMtime(t, path)

			defineGolden(t, path)
			got := readFileT(t, path)
			golden := strings.TrimSuffix(in, ".conf") + ".golden"
			if *update {
				writeFileT(t, golden, got)
			}
			if want := readFileT(t, golden); got != want {
				t.Errorf("rewritten file:\n--- got ---\n%s--- want ---\n%s", got, want)
			}
			if got == src {
				if mt := mtime(t, path); !mt.Equal(old) {
					t.Errorf("file needed no change but was written (mtime %v, was %v)", mt, old)
				}
			}

			// Stable: a second run with the same definitions writes nothing.
			old = setOldMtime(t, path)
			defineGolden(t, path)
			if again := readFileT(t, path); again != got {
				t.Errorf("second run changed the file:\n--- got ---\n%s--- want ---\n%s", again, got)
			}
			if mt := mtime(t, path); !mt.Equal(old) {
				t.Errorf("second run wrote the file (mtime %v, was %v)", mt, old)
			}
		})
	}
}

func defineGolden(t *testing.T, path string) {
	t.Helper()
	s := openT(t, Options{Path: path, Env: noEnv})
	for _, d := range goldenDefs {
		s.Lookup(d.key, d.def, d.desc)
	}
}

// TestFormatStable checks that formatting a parsed file and parsing the
// result gives the same text again, for layouts the golden files do not
// cover.
func TestFormatStable(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "blank lines only", in: "\n\n\n", want: ""},
		{name: "header only", in: "# a\n\n\n# b\n", want: "# a\n\n# b\n"},
		{name: "sorted with blank lines", in: "B=2\nA=1\n", want: "A=1\n\nB=2\n"},
		{name: "header without blank belongs to first key", in: "# about B\nB=2\nA=1\n", want: "A=1\n\n# about B\nB=2\n"},
		{name: "header kept on top", in: "# head\n\n# about B\nB=2\nA=1\n", want: "# head\n\nA=1\n\n# about B\nB=2\n"},
		{name: "header, bare key", in: "# head\n\nB=2\n", want: "# head\n\nB=2\n"},
		{name: "trailer kept at end", in: "B=2\n# tail\nA=1\n\n\n# end\n", want: "# tail\nA=1\n\nB=2\n\n# end\n"},
		{name: "byte order sorts upper case first", in: "b.x=1\nStart=2\nA.y=3\n", want: "A.y=3\n\nStart=2\n\nb.x=1\n"},
		{name: "comment whitespace trimmed", in: "  #  c  \t\nA=1\n", want: "#  c\nA=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, errs := parse("t.conf", []byte(tt.in))
			if errs != nil {
				t.Fatal(errs)
			}
			out, _ := doc.format()
			if string(out) != tt.want {
				t.Fatalf("format: got %q, want %q", out, tt.want)
			}
			doc2, errs := parse("t.conf", out)
			if errs != nil {
				t.Fatalf("parsing formatted output: %v", errs)
			}
			if out2, _ := doc2.format(); !bytes.Equal(out2, out) {
				t.Errorf("format again: got %q, want %q", out2, out)
			}
		})
	}
}

func TestFormatLines(t *testing.T) {
	doc, errs := parse("t.conf", []byte("# h\n\n# c\nB=2\nA=1\n"))
	if errs != nil {
		t.Fatal(errs)
	}
	out, lines := doc.format()
	// "# h", "", "A=1", "", "# c", "B=2"
	if lines["A"] != 3 || lines["B"] != 6 {
		t.Errorf("lines in %q: got A=%d B=%d, want A=3 B=6", out, lines["A"], lines["B"])
	}
}

func TestGenLine(t *testing.T) {
	tests := []struct {
		name, key, def, desc, want string
	}{
		{"plain", "RPC.bindAddr", "127.0.0.1:10100", "listen address", "# listen address (default: 127.0.0.1:10100)"},
		{"empty default", "HelloWeb.docRoot", "", "doc root", `# doc root (default: "")`},
		{"spaces in default", "A.x", " a ", "d", `# d (default: " a ")`},
		{"newline in default", "A.x", "a\nb", "d", `# d (default: "a\nb")`},
		{"multi-line description", "A.x", "1", "first\n  second\tthird ", "# first second third (default: 1)"},
		{"no description", "A.x", "1", "", "# A.x (default: 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := genLine(tt.key, tt.def, tt.desc)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !isGenerated(got) {
				t.Errorf("isGenerated(%q) = false, want true", got)
			}
		})
	}
}

// TestRegenerateKeepsUserComments: regenerating a defined key's comment
// drops only the lines the store wrote for that key (the current one, or an
// earlier version's with another description or default); a user's line is
// kept even when it reads "(default: ...)".
func TestRegenerateKeepsUserComments(t *testing.T) {
	const key, desc = "Node.shutdownTimeout", "how long a stopping node waits"
	def := &definition{key: key, def: "10s", desc: desc}
	gen := genLine(key, def.def, def.desc)
	user := "# raised for prod (default: 10s was too short for our DB)"
	tests := []struct {
		name  string
		block []string
		want  []string
	}{
		{"user line with a default mark", []string{user}, []string{user, gen}},
		{"user line below the generated one", []string{gen, user}, []string{user, gen}},
		{"current generated line", []string{gen}, []string{gen}},
		{"older description", []string{"# how long to wait (default: 10s)"}, []string{gen}},
		{"older default", []string{"# how long a stopping node waits (default: 5s)"}, []string{gen}},
		{"another key's line", []string{"# events queued (default: 4096)"}, []string{"# events queued (default: 4096)", gen}},
		{"plain comments", []string{"# a", "", "# b"}, []string{"# a", "", "# b", gen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := regenerate(tt.block, key, def); !slices.Equal(got, tt.want) {
				t.Errorf("regenerate(%q): got %q, want %q", tt.block, got, tt.want)
			}
		})
	}
}

// TestUserDefaultCommentSurvivesRun is the audit's case: a comment of the
// operator's that contains "(default: " right above a key survives a run
// that defines the key, and a second run changes nothing.
func TestUserDefaultCommentSurvivesRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, "# raised for prod (default: 10s was too short for our DB)\nNode.shutdownTimeout=30s\n")
	want := "# raised for prod (default: 10s was too short for our DB)\n" +
		"# how long a stopping node waits (default: 10s)\nNode.shutdownTimeout=30s\n"
	for run := 1; run <= 2; run++ {
		s := openT(t, Options{Path: path, Env: noEnv})
		if v, _ := s.Lookup("Node.shutdownTimeout", "10s", "how long a stopping node waits"); v != "30s" {
			t.Fatalf("run %d: value got %q, want 30s", run, v)
		}
		if got := readFileT(t, path); got != want {
			t.Fatalf("run %d: file got\n%s\nwant\n%s", run, got, want)
		}
	}
}

// Helpers shared by the tests of this package.

func noEnv(string) (string, bool) { return "", false }

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// environ lists m as Options.Environ does.
func environ(m map[string]string) func() []string {
	return func() []string {
		var out []string
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		return out
	}
}

func openT(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func readFileT(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFileT(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setOldMtime sets the file's mtime to a fixed time in the past, so that a
// rewrite shows as a changed mtime however coarse the file system clock.
func setOldMtime(t testing.TB, path string) time.Time {
	t.Helper()
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	return mtime(t, path)
}

func mtime(t testing.TB, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}
