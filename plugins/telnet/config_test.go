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

func TestPasswordHashWrittenBackOnlyToItsFile(t *testing.T) {
	tests := []struct {
		name     string
		o        fileNodeOpts
		wantHash bool // the file's Telnet.password is replaced by a hash
	}{
		{"from the file", fileNodeOpts{conf: "Telnet.password=open sesame\n"}, true},
		{"from the environment", fileNodeOpts{env: map[string]string{"MT_Telnet_password": "open sesame"}}, false},
		{"from --set", fileNodeOpts{sets: []string{"Telnet.password=open sesame"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, addr := startFileNode(t, tt.o)
			c := dial(t, addr)
			c.expect("Password: ")
			c.send("open sesame\r\n")
			c.expect(prompt)
			var line string
			for l := range strings.SplitSeq(n.file(t), "\n") {
				if strings.HasPrefix(l, "Telnet.password=") {
					line = l
				}
			}
			hashed := strings.HasPrefix(line, "Telnet.password=pbkdf2-")
			if hashed != tt.wantHash {
				t.Errorf("file has %q; want a hash written back: %v", line, tt.wantHash)
			}
			if strings.Contains(line, "open sesame") && tt.wantHash {
				t.Errorf("file still has the plain password: %q", line)
			}
		})
	}
}
