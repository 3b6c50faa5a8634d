package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPath(t *testing.T) {
	tests := []struct {
		name, exe, conf string
		want, prefix    string
	}{
		{"installed", "/home/u/bin-10100/bin/mtnode", "", "/home/u/bin-10100/conf/mtnode.conf", "/home/u/bin-10100"},
		{"symlink name", "/home/u/bin-10100/bin/mtnode-web", "", "/home/u/bin-10100/conf/mtnode-web.conf", "/home/u/bin-10100"},
		{"relative bin", "bin/mtnode", "", "conf/mtnode.conf", "."},
		{"prefix relative to cwd", "./x/bin/mt-test-http", "", "x/conf/mt-test-http.conf", "x"},
		{"not in bin", "/usr/local/libexec/mtnode", "", "conf/mtnode.conf", "."},
		{"bare name", "mtnode", "", "conf/mtnode.conf", "."},
		{"windows suffix", "/opt/mt/bin/mtnode.exe", "", "/opt/mt/conf/mtnode.conf", "/opt/mt"},
		{"other suffix kept", "/opt/mt/bin/mtnode.v2", "", "/opt/mt/conf/mtnode.v2.conf", "/opt/mt"},
		{"bin as a name is not a folder", "/opt/bin", "", "conf/bin.conf", "."},
		{"--conf wins", "/opt/mt/bin/mtnode", "/etc/mtnode/site.conf", "/etc/mtnode/site.conf", "/opt/mt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Path(tt.exe, tt.conf); got != filepath.FromSlash(tt.want) {
				t.Errorf("Path(%q, %q): got %q, want %q", tt.exe, tt.conf, got, tt.want)
			}
			if got := Prefix(tt.exe); got != filepath.FromSlash(tt.prefix) {
				t.Errorf("Prefix(%q): got %q, want %q", tt.exe, got, tt.prefix)
			}
		})
	}
}

// A symlink in bin/ gets its own config file: the link is not resolved.
func TestPathSymlink(t *testing.T) {
	prefix := t.TempDir()
	bin := filepath.Join(prefix, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "mtnode")
	writeFileT(t, exe, "#!/bin/sh\n")
	if err := os.Chmod(exe, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(bin, "mtnode-web")
	if err := os.Symlink("mtnode", link); err != nil {
		t.Skipf("cannot make a symlink: %v", err)
	}
	if got, want := Path(link, ""), filepath.Join(prefix, "conf", "mtnode-web.conf"); got != want {
		t.Errorf("Path(link): got %q, want %q", got, want)
	}

	t.Setenv("PATH", bin)
	if got := Executable("mtnode-web"); got != link {
		t.Errorf("Executable from PATH: got %q, want %q (not resolved)", got, link)
	}
	t.Chdir(prefix)
	if got := Executable("./bin/mtnode-web"); got != link {
		t.Errorf("Executable with a directory: got %q, want %q (absolute, not resolved)", got, link)
	}
	// Started as ./mtnode-web inside bin/: the prefix is still the folder
	// above bin/, not the current directory.
	t.Chdir(bin)
	if got := Executable("./mtnode-web"); got != link {
		t.Errorf("Executable inside bin: got %q, want %q", got, link)
	}
	if got, want := Path(Executable("./mtnode-web"), ""), filepath.Join(prefix, "conf", "mtnode-web.conf"); got != want {
		t.Errorf("Path started inside bin: got %q, want %q", got, want)
	}
	if got := Executable("no-such-program-here"); got != "no-such-program-here" {
		t.Errorf("Executable not found: got %q, want it unchanged", got)
	}
}
