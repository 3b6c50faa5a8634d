package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtnode/mtnode/sdk/sdktest"
)

// buildProgram builds mt-test-http into a temporary folder.
func buildProgram(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	bin := filepath.Join(t.TempDir(), "mt-test-http")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestProgram builds and runs mt-test-http: it prints the address it
// bound (port 0 resolved) only once bound, serves Hello, World! there, and
// exits 0 on SIGTERM; a port in use makes it say so and exit non-zero.
func TestProgram(t *testing.T) {
	bin := buildProgram(t)

	t.Run("serves and stops", func(t *testing.T) {
		cmd := exec.Command(bin, "--set", "HelloWeb.bindAddr=127.0.0.1:0", "--set", "Node.logLevel=warn")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr sdktest.LogBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		re := regexp.MustCompile(`^mt-test-http: HelloWeb on (http://\S+)`)
		found := make(chan string, 1)
		go func() {
			s := bufio.NewScanner(stdout)
			for s.Scan() {
				if m := re.FindStringSubmatch(s.Text()); m != nil {
					found <- m[1]
				}
			}
			exited <- cmd.Wait() // after stdout is drained, as Wait requires
		}()
		var url string
		select {
		case url = <-found:
		case err := <-exited:
			exited <- err
			t.Fatalf("the program exited (%v) without saying where it listens; stderr:\n%s", err, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("the program did not say where it listens; stderr:\n%s", stderr.String())
		}
		if strings.HasSuffix(url, ":0") {
			t.Fatalf("printed %s, want the bound port", url)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "Hello, World!" {
			t.Errorf("GET %s/: got %d %q, want 200 %q", url, resp.StatusCode, body, "Hello, World!")
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			exited <- err
			if err != nil {
				t.Errorf("exit after SIGTERM: %v, want 0; stderr:\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the program did not exit after SIGTERM")
		}
	})

	t.Run("port in use", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--set", "HelloWeb.bindAddr="+busy.Addr().String(), "--set", "Node.logLevel=error")
		var stderr sdktest.LogBuffer
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if ctx.Err() != nil {
			t.Fatalf("the program still ran after 30s with its port in use; stdout:\n%s", stdout)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("got %v, want exit status 1; stderr:\n%s", err, stderr.String())
		}
		if strings.Contains(string(stdout), "HelloWeb on") {
			t.Errorf("printed an address although the bind failed: %q", stdout)
		}
		if !strings.Contains(stderr.String(), "HelloWeb cannot listen") || !strings.Contains(stderr.String(), busy.Addr().String()) {
			t.Errorf("stderr does not say the bind of %s failed:\n%s", busy.Addr(), stderr.String())
		}
	})
}
