package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestProgram builds and runs mt-test-http-rpc on free ports (--set and
// --conf), reads where it listens, and asks HttpRpc for an echo.
func TestProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mt-test-http-rpc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "mt-test-http-rpc.conf")
	if err := os.WriteFile(conf, []byte("EchoNode.bindAddr=127.0.0.1:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--conf", conf, "--set", "HttpRpc.bindAddr=127.0.0.1:0", "--log", "warn")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	re := regexp.MustCompile(`HttpRpc on (http://\S+), Echo on node (\S+)`)
	found := make(chan []string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if m := re.FindStringSubmatch(s.Text()); m != nil {
				found <- m
			}
		}
	}()
	var m []string
	select {
	case m = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("the program did not say where it listens")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", m[1]+"/ping?n=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "/ping?n=1" {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "/ping?n=1")
	}
}
