package console

import (
	"errors"
	"slices"
	"testing"
)

func nop(*Call, func(string)) {}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name, spec, want string // want: the synopsis, or "error"
	}{
		{"empty", "", ""},
		{"word", "name", "<name>"},
		{"types", "n:int d:duration w:word", "<n:int> <d:duration> <w>"},
		{"choice", "mode:fast|slow", "<mode:fast|slow>"},
		{"regexp", `key:/[a-z]+\.[a-z]+/`, `<key:/[a-z]+\.[a-z]+/>`},
		{"rest", "text...", "<text...>"},
		{"rest type", "text:rest", "<text...>"},
		{"optional", "n:int [step:int]", "<n:int> [<step:int>]"},
		{"optional rest", "[why...]", "[<why...>]"},
		{"bad type", "n:float", "error"},
		{"bad regexp", "n:/(/", "error"},
		{"empty choice", "m:a||b", "error"},
		{"bad name", "n/x", "error"},
		{"duplicate", "a b a", "error"},
		{"after rest", "text... n", "error"},
		{"required after optional", "[a] b", "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := ParseArgs(tt.spec)
			got := Synopsis(specs)
			if err != nil {
				got = "error"
			}
			if got != tt.want {
				t.Errorf("ParseArgs(%q) = %q (err %v), want %q", tt.spec, got, err, tt.want)
			}
		})
	}
}

func TestTreeAdd(t *testing.T) {
	tree := NewTree()
	if _, err := tree.Add("rpc/peers", "", "peers", "RPC", HandlerFunc(nop)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, owner string
		want              error
	}{
		{"replace own", "rpc/peers", "RPC", nil},
		{"taken by another", "rpc/peers", "Other", ErrTaken},
		{"directory taken", "rpc", "Other", ErrTaken},
		{"under a command", "rpc/peers/x", "RPC", ErrTaken},
		{"builtin name", "demo/ls", "Demo", ErrBadPath},
		{"dot dot", "demo/../x", "Demo", ErrBadPath},
		{"empty", "", "Demo", ErrBadPath},
		{"bad char", "demo/a b", "Demo", ErrBadPath},
		{"fine", "/demo/push/", "Demo", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tree.Add(tt.path, "", "", tt.owner, HandlerFunc(nop))
			if !errors.Is(err, tt.want) {
				t.Errorf("Add(%q, %q) = %v, want %v", tt.path, tt.owner, err, tt.want)
			}
		})
	}
	if _, err := tree.Add("x", "", "", "X", nil); err == nil {
		t.Errorf("Add with a nil handler: got nil error")
	}
	if c, ok := tree.Lookup("/demo/push"); !ok || c.Owner != "Demo" {
		t.Errorf("Lookup(/demo/push) = %v, %v; want Demo's command", c, ok)
	}
	if got := tree.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
	if n := tree.RemoveOwner("RPC"); n != 1 {
		t.Errorf("RemoveOwner(RPC) = %d, want 1", n)
	}
	if tree.exists([]string{"rpc"}) {
		t.Errorf("the empty rpc directory was kept")
	}
}

func TestParseLine(t *testing.T) {
	tree := demoTree(t, nil)
	tests := []struct {
		name, cwd, line string
		wantOp          int
		wantCmd         string
		wantArgs        []Arg
	}{
		{"empty", "", "   ", opNone, "", nil},
		{"absolute", "demo", "/rpc/peers", opCommand, "rpc/peers", nil},
		{"relative", "demo", "add 1 2", opCommand, "demo/add", []Arg{{"a", "1"}, {"b", "2"}}},
		{"spaced", "", "demo add 1 2", opCommand, "demo/add", []Arg{{"a", "1"}, {"b", "2"}}},
		{"rest keeps spaces", "", "demo/echo a  b ", opCommand, "demo/echo", []Arg{{"text", "a  b"}}},
		{"optional absent", "", "demo/mode fast", opCommand, "demo/mode", []Arg{{"m", "fast"}}},
		{"dir", "", "demo", opCd, "", nil},
		{"dot dot at root", "", "..", opCd, "", nil},
		{"help", "", "help demo", opHelp, "", nil},
		{"quit", "", "exit", opQuit, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cwd []string
			if tt.cwd != "" {
				cwd = []string{tt.cwd}
			}
			p, err := tree.parse(cwd, tt.line)
			if err != nil {
				t.Fatalf("parse(%q): %v", tt.line, err)
			}
			if p.op != tt.wantOp {
				t.Errorf("op = %d, want %d", p.op, tt.wantOp)
			}
			if p.cmd != nil && p.cmd.Path != tt.wantCmd || p.cmd == nil && tt.wantCmd != "" {
				t.Errorf("command = %v, want %q", p.cmd, tt.wantCmd)
			}
			if !slices.Equal(p.args, tt.wantArgs) {
				t.Errorf("args = %v, want %v", p.args, tt.wantArgs)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"peers", "ping", "services", "demo", "help"}
	tests := []struct {
		name, in string
		want     []string
	}{
		{"one typo", "pers", []string{"peers"}},
		{"swap", "sevrices", []string{"services"}},
		{"prefix", "pi", []string{"ping"}},
		{"far", "xyz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suggestions(tt.in, cands); !slices.Equal(got, tt.want) {
				t.Errorf("suggestions(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
