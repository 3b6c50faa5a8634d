package telnet_test

import (
	"strings"
	"testing"
)

func TestConfigSetWritesTheFile(t *testing.T) {
	n, addr := startFileNode(t, fileNodeOpts{conf: "# a comment the operator wrote\nTelnet.maxSessions=8\n"})
	c := dial(t, addr)
	c.expect(prompt)
	tests := []struct {
		line      string
		want      string
		inFile    string
		notInFile string // "": the file must not change at all
	}{
		{"config/set Telnet.maxSessions 4", "Telnet read its config when it started (it is running now): it takes effect when Telnet next starts, so restart the node to apply it",
			"Telnet.maxSessions=4\n", "Telnet.maxSessions=8"},
		{"config/set Start Telnet,RPC", "the node reads it when it starts: it takes effect when the node restarts", "Start=Telnet,RPC\n", "Start=Telnet\n"},
		{"config/set Telnet.password", "% refusing to empty Telnet.password", "", ""},
	}
	for _, tt := range tests {
		before := n.file(t)
		out := c.run(tt.line, prompt)
		if !strings.Contains(out, tt.want) {
			t.Errorf("%q: output %q, want %q", tt.line, out, tt.want)
		}
		file := n.file(t)
		if !strings.Contains(file, tt.inFile) {
			t.Errorf("%q: file\n%s\nwant %q in it", tt.line, file, tt.inFile)
		}
		switch {
		case tt.notInFile == "" && file != before:
			t.Errorf("%q: the file changed:\n%s\nwant it as it was:\n%s", tt.line, file, before)
		case tt.notInFile != "" && strings.Contains(file, tt.notInFile):
			t.Errorf("%q: file\n%s\nwant no %q in it", tt.line, file, tt.notInFile)
		}
		if !strings.Contains(file, "# a comment the operator wrote") {
			t.Errorf("%q: the operator's comment was lost:\n%s", tt.line, file)
		}
	}
}
