package helloweb_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mtnode/mtnode/examples/demo/helloweb"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/proto/webpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// waitLog polls the logs for re (bounded) and returns its first group.
func waitLog(t *testing.T, logs *sdktest.LogBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %s; logs:\n%s", re, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var listening = regexp.MustCompile(`msg="helloweb: listening" .*addrs=(\S+)`)

// start runs WebServer and HelloWeb. WebServer is started first: the
// core runs an Inline service's Start while holding the node's service
// table lock, so a Start that sends to a service not yet constructed
// would wait on that lock.
func start(t *testing.T, conf map[string]string) (addr string, logs *sdktest.LogBuffer) {
	t.Helper()
	logs = &sdktest.LogBuffer{}
	sdktest.New(t, []sdk.Spec{webserver.Spec, helloweb.Spec},
		sdktest.WithConfig(map[string]map[string]string{helloweb.Name: conf}),
		sdktest.WithStart(webserver.Name, helloweb.Name),
		sdktest.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	return waitLog(t, logs, listening), logs
}

func get(t *testing.T, addr, path string) (int, string, http.Header) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b), r.Header
}

func TestHelloFromMemory(t *testing.T) {
	addr, _ := start(t, map[string]string{"bindAddr": "127.0.0.1:0"})
	tests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"root", "/", 200, helloweb.Hello},
		{"root with query", "/?x=1", 200, helloweb.Hello},
		{"other path", "/nope", 404, "not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, h := get(t, addr, tt.path)
			if status != tt.status || body != tt.body {
				t.Fatalf("got %d %q, want %d %q", status, body, tt.status, tt.body)
			}
			if status == 200 && (h.Get("Content-Length") != "13" || h.Get("Content-Type") != "text/plain; charset=utf-8") {
				t.Fatalf("headers: %v", h)
			}
		})
	}
}

func TestFilesFromDocRoot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(helloweb.Hello), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("file a"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ := start(t, map[string]string{"bindAddr": "127.0.0.1:0", "docRoot": dir})
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, helloweb.Hello},
		{"/a.txt", 200, "file a"},
		{"/a.txt?v=2", 200, "file a"},
		{"/missing", 404, "not found\n"},
		{"/../etc/passwd", 403, "forbidden\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if status, body, _ := get(t, addr, tt.path); status != tt.status || body != tt.body {
				t.Fatalf("got %d %q, want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
}

func TestBindFailureIsLogged(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	logs := &sdktest.LogBuffer{}
	n := sdktest.New(t, []sdk.Spec{webserver.Spec, helloweb.Spec},
		sdktest.WithConfig(map[string]map[string]string{helloweb.Name: {"bindAddr": busy.Addr().String()}}),
		sdktest.WithStart(webserver.Name, helloweb.Name),
		sdktest.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	waitLog(t, logs, regexp.MustCompile(`(helloweb: WebServer refused to listen)`))
	// The node is still up: WebServer answers another Listen.
	if _, err := n.Request(sdk.To(webserver.Name), &webpb.Listen{Addrs: "127.0.0.1:0", Service: helloweb.Name}); err != nil {
		t.Fatalf("node unusable after a failed bind: %v", err)
	}
}
