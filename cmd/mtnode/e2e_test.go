package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// installDemo copies the mt-demo plugin into the prefix's plugins folder.
func installDemo(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(demoBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "plugins", "mt-demo"), data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// addrIn waits for a log line with msg and returns its addr= (or addrs=) value.
func (p *proc) addrIn(t *testing.T, msg string) string {
	t.Helper()
	re := regexp.MustCompile(`addrs?=(\S+)`)
	l := p.line(t, func(l string) bool { return strings.Contains(l, msg) && re.MatchString(l) }, msg)
	return strings.Trim(re.FindStringSubmatch(l)[1], `"`)
}

// TestIntegrationInstalledNode runs an installed node the way a user does:
// Start= names core services and a plugin service, the plugin launches,
// HelloWeb answers over HTTP, the console shows a plugin's command, mtnode
// send reaches Echo in the plugin over RPC, and SIGTERM to the node's whole
// process group (as timeout(1) or kill -- -PGID send it) stops it all in
// order: exit 0, the plugin stopped by the node rather than killed by the
// signal, and no plugin process left.
func TestIntegrationInstalledNode(t *testing.T) {
	p := prefix(t, "mtnode")
	installDemo(t, p)
	conf := "Start=RPC,Telnet,HelloWeb,TelnetDemo\n" +
		"RPC.bindAddr=127.0.0.1:0\nTelnet.bindAddr=127.0.0.1:0\nHelloWeb.bindAddr=127.0.0.1:0\n"
	if err := os.WriteFile(filepath.Join(p, "conf", "mtnode.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(p, "bin", "mtnode"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group, as a shell's job
	n := startCmd(t, cmd)
	rpcAddr := n.addrIn(t, "rpc listening")
	telnetAddr := n.addrIn(t, "console listening")
	webAddr := n.addrIn(t, "helloweb: listening")
	n.waitFor(t, "node running")

	t.Run("HelloWeb in the plugin answers HTTP", func(t *testing.T) {
		resp, err := http.Get("http://" + webAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "Hello, World!" {
			t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "Hello, World!")
		}
	})

	t.Run("the console runs a plugin's command", func(t *testing.T) {
		out := console(t, telnetAddr, "demo/push hello\r\ndemo/show\r\nnode/services\r\nquit\r\n")
		for _, want := range []string{`pushed "hello"`, "1  hello", "TelnetDemo", "plugin mt-demo"} {
			if !strings.Contains(out, want) {
				t.Errorf("console output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("mtnode send reaches Echo over RPC", func(t *testing.T) {
		out, code := runOnce(t, mtnodeBin, "send", rpcAddr, "Echo", "google.protobuf.StringValue", `"ping"`)
		if code != 0 || !strings.Contains(out, `"ping"`) {
			t.Errorf("got %q (exit %d), want the echoed \"ping\"", out, code)
		}
		out, code = runOnce(t, mtnodeBin, "send", rpcAddr, "Ech", "google.protobuf.StringValue", `"ping"`)
		if code == 0 || !strings.Contains(out, "no service") {
			t.Errorf("unknown service: got %q (exit %d), want a no-service error", out, code)
		}
	})

	pid := pluginPID(t, p)
	if err := syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM to the group, want 0; log:\n%s", code, n.output())
	}
	if out := n.output(); strings.Contains(out, "plugin crashed") || !strings.Contains(out, "plugin stopped") {
		t.Errorf("the plugin was not stopped by the node (the group's SIGTERM reached it directly); log:\n%s", out)
	}
	if pid > 0 {
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("plugin process %d still alive after the node stopped", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// console runs a telnet session with input and returns what it printed.
func console(t *testing.T, addr, input string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, input); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		sb.WriteString(line)
		if err != nil || strings.Contains(line, "bye") {
			return sb.String()
		}
	}
}

// pluginPID finds the running mt-demo process of the prefix, or 0.
func pluginPID(t *testing.T, p string) int {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", filepath.Join(p, "plugins", "mt-demo")).Output()
	if err != nil {
		return 0
	}
	var pid int
	for _, f := range strings.Fields(string(out)) {
		if _, err := fmtSscan(f, &pid); err == nil {
			return pid
		}
	}
	return 0
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }
