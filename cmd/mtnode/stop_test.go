package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestIntegrationSIGTERMUnderLoad: SIGTERM while HTTP requests flow through
// the node's WebServer, HttpRpc and Echo (both in the mt-demo plugin). The
// node stops taking connections, answers every request it has read in
// full, and exits 0 once the work has drained: a client sees complete 200
// answers and then a closed or refused connection, never a cut answer or
// an error status.
func TestIntegrationSIGTERMUnderLoad(t *testing.T) {
	p := prefix(t, "mtnode")
	installDemo(t, p)
	conf := "Start=RPC,HttpRpc\nRPC.bindAddr=127.0.0.1:0\n" +
		"HttpRpc.bindAddr=127.0.0.1:0\nHttpRpc.backend=local\n"
	if err := os.WriteFile(filepath.Join(p, "conf", "mtnode.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n := start(t, filepath.Join(p, "bin", "mtnode"))
	addr := n.addrIn(t, "httprpc: listening")
	n.waitFor(t, "node running")

	const clients = 4
	var (
		ok       atomic.Int64
		failMu   sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, a ...any) {
		failMu.Lock()
		failures = append(failures, fmt.Sprintf(format, a...))
		failMu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); {
				nc, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					return // the node no longer accepts: done
				}
				nc.SetDeadline(deadline)
				br := bufio.NewReader(nc)
				for ; time.Now().Before(deadline); i++ {
					target := fmt.Sprintf("/c%d-%d", c, i)
					if _, err := fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target); err != nil {
						break // closed by the stopping node: dial again
					}
					if _, err := br.Peek(1); err != nil {
						if !errors.Is(err, io.EOF) && !isReset(err) {
							fail("%s: waiting for the answer: %v", target, err)
						}
						// Closed with no answer: a kept-alive connection
						// closed as idle while the request was on its way,
						// which HTTP clients retry.
						break
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						fail("%s: the answer was cut: %v", target, err)
						break
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), target) {
						fail("%s: got %d %q (%v), want 200 echoing the target", target, resp.StatusCode, body, err)
						break
					}
					ok.Add(1)
					if resp.Close {
						break
					}
				}
				nc.Close()
			}
		}()
	}
	for ok.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := ok.Load()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := n.wait(t)
	wg.Wait()
	if before < 200 {
		t.Fatalf("only %d answers before SIGTERM; log:\n%s", before, n.output())
	}
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM under load, want 0; log:\n%s", code, n.output())
	}
	for _, f := range failures {
		t.Error(f)
	}
	out := n.output()
	for _, bad := range []string{"did not stop in time", "shutdown timeout reached"} {
		if strings.Contains(out, bad) {
			t.Errorf("log has %q: the work did not drain; log:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "stopped") {
		t.Errorf("no \"stopped\" in the log:\n%s", out)
	}
	t.Logf("%d answers before SIGTERM, %d in all", before, ok.Load())
}

// isReset reports whether err is a connection reset by the peer.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// TestIntegrationSecondSignalExitsAtOnce: while the node waits for an HTTP
// request in progress (its body still to come; WebServer.shutdownTimeout and
// Node.shutdownTimeout a minute), a second SIGTERM ends the process at once.
func TestIntegrationSecondSignalExitsAtOnce(t *testing.T) {
	p := prefix(t, "mtnode")
	installDemo(t, p)
	conf := "Start=HelloWeb\nHelloWeb.bindAddr=127.0.0.1:0\nWebServer.shutdownTimeout=1m\nNode.shutdownTimeout=1m\n"
	if err := os.WriteFile(filepath.Join(p, "conf", "mtnode.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n := start(t, filepath.Join(p, "bin", "mtnode"))
	addr := n.addrIn(t, "helloweb: listening")
	n.waitFor(t, "node running")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// One whole request first, so the connection is surely accepted; then
	// one whose body stops short.
	br := bufio.NewReader(c)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v, %v", resp, err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it")
	time.Sleep(300 * time.Millisecond) // for the server to read what came of it

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	n.waitFor(t, "stopping")
	select {
	case err := <-n.done:
		n.done <- err
		t.Fatalf("the node exited (%v) with a request in progress; log:\n%s", err, n.output())
	case <-time.After(500 * time.Millisecond):
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("the node did not exit on the second signal; log:\n%s", n.output())
	}
}

// TestIntegrationSignalDuringBoot: SIGTERM while the boot waits on a plugin
// binary that never completes its handshake. The node gives up on the
// binary at once (not after Node.pluginStartTimeout), starts none of the
// Start= services still to come, and exits 0 as for any graceful stop.
func TestIntegrationSignalDuringBoot(t *testing.T) {
	p := prefix(t, "mtnode")
	hang := filepath.Join(p, "plugins", "hang")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 120\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := start(t, filepath.Join(p, "bin", "mtnode"), "--set", "Start=RPC", "--set", "RPC.bindAddr=127.0.0.1:0",
		"--set", "Node.pluginStartTimeout=120s")
	n.waitFor(t, "learning plugin manifest")
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; log:\n%s", code, n.output())
	}
	out := n.output()
	if strings.Contains(out, "rpc listening") || !strings.Contains(out, "stopped") {
		t.Errorf("RPC started after the signal, or the node did not log its stop; log:\n%s", out)
	}
	// The binary's manifest was cut short, not found wrong: it is neither
	// reported as unusable nor cached as such.
	if strings.Contains(out, "not a usable plugin") {
		t.Errorf("the interrupted manifest read was reported as a bad plugin; log:\n%s", out)
	}
	if cache, err := os.ReadFile(filepath.Join(p, "cache", "plugins.json")); err == nil && strings.Contains(string(cache), "hang") {
		t.Errorf("the interrupted manifest read was cached:\n%s", cache)
	}
}
