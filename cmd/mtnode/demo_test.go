package main

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestIntegrationDemo runs what `make run` runs, mtnode run --demo with the
// mt-demo plugin in Node.pluginsDir, on free ports and a faster heartbeat.
// The demo shows what demo.conf promises: Heartbeat logs Timer ticks,
// HelloWeb answers HTTP, the console has the demo's commands. SIGTERM stops
// it with exit 0, and it has written no file, in the install prefix or the
// current folder.
func TestIntegrationDemo(t *testing.T) {
	p := prefix(t, "mtnode")
	installDemo(t, p)
	cwd := t.TempDir()
	before := treeOf(t, p)
	cmd := exec.Command(filepath.Join(p, "bin", "mtnode"), "run", "--demo",
		"--set", "Node.pluginsDir="+filepath.Join(p, "plugins"),
		"--set", "RPC.bindAddr=127.0.0.1:0", "--set", "Telnet.bindAddr=127.0.0.1:0",
		"--set", "HelloWeb.bindAddr=127.0.0.1:0", "--set", "Heartbeat.period=0.05")
	cmd.Dir = cwd
	n := startCmd(t, cmd)
	webAddr := n.addrIn(t, "helloweb: listening")
	telnetAddr := n.addrIn(t, "console listening")
	n.waitFor(t, "node running")
	tick2 := regexp.MustCompile(`msg=heartbeat .*\btick=2\b`)
	n.line(t, tick2.MatchString, "a second heartbeat tick")

	if code, body := httpGet(t, "http://"+webAddr+"/"); code != 200 || body != "Hello, World!" {
		t.Errorf("HelloWeb: got %d %q, want 200 %q", code, body, "Hello, World!")
	}
	if out := console(t, telnetAddr, "demo/push hi\r\nquit\r\n"); !strings.Contains(out, `pushed "hi"`) {
		t.Errorf("the console lacks the demo's commands:\n%s", out)
	}

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; log:\n%s", code, n.output())
	}
	if after := treeOf(t, p); !slices.Equal(after, before) {
		t.Errorf("the demo changed the install prefix:\nbefore %q\nafter  %q", before, after)
	}
	if got := treeOf(t, cwd); len(got) != 0 {
		t.Errorf("the demo wrote %q into the current folder", got)
	}
}

// treeOf lists the files and folders under root, each with its size and
// modification time.
func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if !d.IsDir() {
			rel += " " + fi.ModTime().String() + " " + strconv.FormatInt(fi.Size(), 10)
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
