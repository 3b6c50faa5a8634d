package main

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startGroup runs an installed node in its own process group, so that
// killing the group kills its plugins too; the group is killed when the
// test ends.
func startGroup(t *testing.T, p string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(p, "bin", "mtnode"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	n := startCmd(t, cmd)
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return n
}

// get fetches url and returns the status and body; the client's timeout
// bounds the wait.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// TestIntegrationHttpRpcRemoteBackend: HttpRpc in node A's mt-demo plugin
// answers HTTP through Echo in node B's, over RPC. While B is down each
// request is answered at once with 502 and why; when B is back at the same
// address, requests work again without restarting A.
func TestIntegrationHttpRpcRemoteBackend(t *testing.T) {
	pa, pb := prefix(t, "mtnode"), prefix(t, "mtnode")
	installDemo(t, pa)
	installDemo(t, pb)
	startB := func(addr string) *proc {
		b := startGroup(t, pb, "--set", "Start=RPC,Echo", "--set", "RPC.bindAddr="+addr)
		b.waitFor(t, "node running")
		return b
	}
	b := startB("127.0.0.1:0")
	bAddr := b.addrIn(t, "rpc listening")
	a := startGroup(t, pa, "--set", "Start=RPC,HttpRpc", "--set", "RPC.bindAddr=127.0.0.1:0",
		"--set", "HttpRpc.bindAddr=127.0.0.1:0", "--set", "HttpRpc.backend="+bAddr)
	url := "http://" + a.addrIn(t, "httprpc: listening") + "/ping"
	a.waitFor(t, "node running")

	if code, body := get(t, url); code != 200 || body != "/ping" {
		t.Fatalf("B up: got %d %q, want 200 and the echoed target /ping; A's log:\n%s", code, body, a.output())
	}

	if err := syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.wait(t)
	for i := range 3 {
		code, body := get(t, url)
		if code != 502 || !strings.Contains(body, bAddr) {
			t.Fatalf("request %d with B killed: got %d %q, want 502 naming %s", i, code, body, bAddr)
		}
	}

	startB(bAddr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, url)
		if code == 200 && body == "/ping" {
			break
		}
		if code != 502 {
			t.Fatalf("B restarting: got %d %q, want 502 until A's link is back, then 200", code, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("B back for 10s, A still answers %d %q; A's log:\n%s", code, body, a.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
