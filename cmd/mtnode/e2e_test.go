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
// Start= names core services and plugin services, the plugin launches,
// HelloWeb and HttpRpc (through Echo) answer over HTTP, the console shows a plugin's command, mtnode
// send reaches Echo in the plugin over RPC, and SIGTERM to the node's whole
// process group (as timeout(1) or kill -- -PGID send it) stops it all in
// order: exit 0, the plugin stopped by the node rather than killed by the
// signal, and no plugin process left.
func TestIntegrationInstalledNode(t *testing.T) {
	p := prefix(t, "mtnode")
	installDemo(t, p)
	conf := "Start=RPC,Telnet,HelloWeb,TelnetDemo,HttpRpc\n" +
		"RPC.bindAddr=127.0.0.1:0\nTelnet.bindAddr=127.0.0.1:0\nHelloWeb.bindAddr=127.0.0.1:0\n" +
		"HttpRpc.bindAddr=127.0.0.1:0\nHttpRpc.backend=local\n"
	if err := os.WriteFile(filepath.Join(p, "conf", "mtnode.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(p, "bin", "mtnode"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group, as a shell's job
	n := startCmd(t, cmd)
	rpcAddr := n.addrIn(t, "rpc listening")
	telnetAddr := n.addrIn(t, "console listening")
	webAddr := n.addrIn(t, "helloweb: listening")
	rpcWebAddr := n.addrIn(t, "httprpc: listening")
	n.waitFor(t, "node running")

	t.Run("HttpRpc in the plugin answers HTTP through Echo", func(t *testing.T) {
		// HttpRpc and HelloWeb send to the node's WebServer from their
		// Start, before the plugin is ready: those events must wait.
		if code, body := httpGet(t, "http://"+rpcWebAddr+"/x"); code != 200 || !strings.Contains(body, "/x") {
			t.Errorf("got %d %q, want 200 and the echoed target /x", code, body)
		}
	})

	t.Run("HelloWeb in the plugin answers HTTP", func(t *testing.T) {
		if code, body := httpGet(t, "http://"+webAddr+"/"); code != 200 || body != "Hello, World!" {
			t.Errorf("got %d %q, want 200 %q", code, body, "Hello, World!")
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

// TestIntegrationPluginSendsFromStart: a plugin service alone in Start=
// (HttpRpc) sends to the node's WebServer from its Start, before the
// plugin's link is ready; the plugin still starts and serves.
func TestIntegrationPluginSendsFromStart(t *testing.T) {
	p := prefix(t, "mtnode")
	installDemo(t, p)
	conf := "Start=HttpRpc\nHttpRpc.bindAddr=127.0.0.1:0\nHttpRpc.backend=local\n"
	if err := os.WriteFile(filepath.Join(p, "conf", "mtnode.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startCmd(t, exec.Command(filepath.Join(p, "bin", "mtnode")))
	addr := n.addrIn(t, "httprpc: listening")
	if code, body := httpGet(t, "http://"+addr+"/y"); code != 200 || !strings.Contains(body, "/y") {
		t.Errorf("got %d %q, want 200 and the echoed target /y; log:\n%s", code, body, n.output())
	}
}

// httpGet gets url and returns the status code and the body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
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

// TestIntegrationPluginsVerb: mtnode plugins lists a plugin with its
// services and state: live (running, with its pid) while the node runs,
// from the manifest cache once it has stopped.
func TestIntegrationPluginsVerb(t *testing.T) {
	p := prefix(t, "mtnode")
	installDemo(t, p)
	bin := filepath.Join(p, "bin", "mtnode")
	n := start(t, bin, "--set", "Start=Echo", "--set", "RPC.bindAddr=127.0.0.1:0")
	n.waitFor(t, "node running")
	pid := pluginPID(t, p)
	if pid <= 0 {
		t.Fatalf("no mt-demo process after Start=Echo; log:\n%s", n.output())
	}
	// The row of mt-demo: name, state, pid, services, launches, crashes.
	row := func(out string) []string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 6 && f[0] == "mt-demo" {
				return f
			}
		}
		return nil
	}
	var out string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var code int
		out, code = runOnce(t, bin, "plugins")
		if code != 0 {
			t.Fatalf("mtnode plugins: exit %d:\n%s", code, out)
		}
		if f := row(out); f != nil && f[1] == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mtnode plugins never showed mt-demo running:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f := row(out)
	if !strings.Contains(out, "as reported by the running node") || f[2] != fmt.Sprint(pid) ||
		!strings.Contains(f[3], "Echo") || f[4] != "1" || f[5] != "0" {
		t.Errorf("while running: got\n%s\nwant mt-demo running with pid %d, Echo among its services, 1 launch, 0 crashes", out, pid)
	}

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; log:\n%s", code, n.output())
	}
	out, code := runOnce(t, bin, "plugins")
	f = row(out)
	if code != 0 || !strings.Contains(out, "no node running") || f == nil || f[1] != "cached" || f[2] != "-" ||
		!strings.Contains(f[3], "Echo") || !strings.Contains(f[3], "HelloWeb") {
		t.Errorf("after the node stopped: got (exit %d)\n%s\nwant mt-demo cached with no pid, its services listed", code, out)
	}
}
