package h1

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileFixture builds root/ with files and links, beside an outside/ folder
// holding a secret, and serves root.
func fileFixture(t *testing.T) (addr, root string, fs *FileServer) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "dir"), filepath.Join(root, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(root, "hello.txt"):         "Hello, World!",
		filepath.Join(root, "dir", "index.html"): "<p>index</p>",
		filepath.Join(root, "sub", "a.css"):      "body{}",
		filepath.Join(root, "big.bin"):           strings.Repeat("0123456789abcdef", 4096), // 64 KiB: sendfile path
		filepath.Join(outside, "secret"):         "SECRET",
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(root, "link-out"):      outside,
		filepath.Join(root, "secret-link"):   filepath.Join(outside, "secret"),
		filepath.Join(root, "inside-link"):   filepath.Join(root, "hello.txt"),
		filepath.Join(root, "sub", "parent"): "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := NewFileServer(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	addr = startServer(t, &Server{Handler: fs}, "tcp", "127.0.0.1:0")
	return addr, root, fs
}

func get(t *testing.T, addr, method, target string, headers ...string) resp {
	t.Helper()
	c := dial(t, addr)
	c.send(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", method, target, strings.Join(headers, "")))
	return c.read(method)
}

func TestFileServe(t *testing.T) {
	addr, root, _ := fileFixture(t)
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err) // no writer ever opens it: opening it for reading would block
	}
	big := strings.Repeat("0123456789abcdef", 4096)
	tests := []struct {
		name, method, target string
		headers              []string
		wantStatus           int
		wantBody             string
		wantType             string
	}{
		{"small file", "GET", "/hello.txt", nil, 200, "Hello, World!", "text/plain; charset=utf-8"},
		{"head", "HEAD", "/hello.txt", nil, 200, "", "text/plain; charset=utf-8"},
		{"index", "GET", "/dir/", nil, 200, "<p>index</p>", "text/html; charset=utf-8"},
		{"folder redirect", "GET", "/dir", nil, 301, "", ""},
		{"css", "GET", "/sub/a.css", nil, 200, "body{}", "text/css; charset=utf-8"},
		{"encoded name", "GET", "/hello%2etxt", nil, 200, "Hello, World!", ""},
		{"query ignored", "GET", "/hello.txt?x=1", nil, 200, "Hello, World!", ""},
		{"big file", "GET", "/big.bin", nil, 200, big, "application/octet-stream"},
		{"big range", "GET", "/big.bin", []string{"Range: bytes=65530-\r\n"}, 206, big[65530:], ""},
		{"range", "GET", "/hello.txt", []string{"Range: bytes=0-4\r\n"}, 206, "Hello", ""},
		{"range unit in another case", "GET", "/hello.txt", []string{"Range: Bytes=0-4\r\n"}, 206, "Hello", ""},
		{"fifo", "GET", "/fifo", nil, 404, "not found\n", ""},
		{"suffix range", "GET", "/hello.txt", []string{"Range: bytes=-6\r\n"}, 206, "World!", ""},
		{"range past end clipped", "GET", "/hello.txt", []string{"Range: bytes=7-100\r\n"}, 206, "World!", ""},
		{"unsatisfiable range", "GET", "/hello.txt", []string{"Range: bytes=100-\r\n"}, 416, "", ""},
		{"several ranges ignored", "GET", "/hello.txt", []string{"Range: bytes=0-1,3-4\r\n"}, 200, "Hello, World!", ""},
		{"if-range mismatch", "GET", "/hello.txt", []string{"Range: bytes=0-4\r\n", "If-Range: \"nope\"\r\n"}, 200, "Hello, World!", ""},
		{"inside link", "GET", "/inside-link", nil, 200, "Hello, World!", ""},
		{"missing", "GET", "/nope.txt", nil, 404, "not found\n", ""},
		{"post", "POST", "/hello.txt", []string{"Content-Length: 0\r\n"}, 405, "method not allowed\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, addr, tt.method, tt.target, tt.headers...)
			if r.status != tt.wantStatus || r.body != tt.wantBody {
				b := r.body
				if len(b) > 40 {
					b = b[:40] + "..."
				}
				t.Fatalf("got %d %q, want %d", r.status, b, tt.wantStatus)
			}
			if tt.wantType != "" && r.header.Get("Content-Type") != tt.wantType {
				t.Fatalf("Content-Type: got %q, want %q", r.header.Get("Content-Type"), tt.wantType)
			}
		})
	}
}

func TestFileTraversal(t *testing.T) {
	addr, _, _ := fileFixture(t)
	targets := []string{
		"/../outside/secret",
		"/..%2foutside%2fsecret",
		"/%2e%2e/outside/secret",
		"/%2E%2E%2Foutside/secret",
		"/sub/../../outside/secret",
		"/..\\outside\\secret",
		"/..%5coutside%5csecret",
		"/link-out/secret",
		"/secret-link",
		"/sub/parent/../outside/secret",
		"/hello.txt%00.html",
		"/%2fetc/passwd",
		"//etc/passwd",
		"http://x/../outside/secret",
		"/./hello.txt",
		"/bad%zzescape",
		"/%",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			r := get(t, addr, "GET", target)
			if r.status != 403 && r.status != 404 && r.status != 400 {
				t.Fatalf("got %d %q, want 400, 403 or 404", r.status, r.body)
			}
			if strings.Contains(r.body, "SECRET") {
				t.Fatalf("served the secret: %q", r.body)
			}
		})
	}
}

func TestFileConditional(t *testing.T) {
	addr, _, _ := fileFixture(t)
	first := get(t, addr, "GET", "/hello.txt")
	etag, lastMod := first.header.Get("ETag"), first.header.Get("Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("missing validators: %v", first.header)
	}
	older := time.Now().Add(-48 * time.Hour).UTC().Format(httpTime)
	later := time.Now().Add(time.Hour).UTC()
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"if-none-match", "If-None-Match: " + etag + "\r\n", 304},
		{"if-none-match weak list", "If-None-Match: \"x\", W/" + etag + "\r\n", 304},
		{"if-none-match star", "If-None-Match: *\r\n", 304},
		{"if-none-match other", "If-None-Match: \"other\"\r\n", 200},
		{"if-modified-since same", "If-Modified-Since: " + lastMod + "\r\n", 304},
		{"if-modified-since, RFC 850 form", "If-Modified-Since: " + later.Format(time.RFC850) + "\r\n", 304},
		{"if-modified-since, asctime form", "If-Modified-Since: " + later.Format(time.ANSIC) + "\r\n", 304},
		{"if-modified-since older", "If-Modified-Since: " + older + "\r\n", 200},
		{"if-none-match wins", "If-None-Match: \"other\"\r\nIf-Modified-Since: " + lastMod + "\r\n", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, addr, "GET", "/hello.txt", tt.header)
			if r.status != tt.want {
				t.Fatalf("got %d, want %d", r.status, tt.want)
			}
			if tt.want == 304 && (r.body != "" || r.header.Get("ETag") != etag) {
				t.Fatalf("304: got body %q ETag %q, want empty and %q", r.body, r.header.Get("ETag"), etag)
			}
		})
	}
}

func TestFileRevalidate(t *testing.T) {
	addr, root, fs := fileFixture(t)
	fs.revalidate = 0
	if r := get(t, addr, "GET", "/hello.txt"); r.body != "Hello, World!" {
		t.Fatalf("got %q", r.body)
	}
	name := filepath.Join(root, "hello.txt")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
	if r := get(t, addr, "GET", "/hello.txt"); r.body != "changed" {
		t.Fatalf("after replace: got %q, want %q", r.body, "changed")
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if r := get(t, addr, "GET", "/hello.txt"); r.status != 404 {
		t.Fatalf("after remove: got %d, want 404", r.status)
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"root", "/", "", false},
		{"plain", "/a/b.txt", "a/b.txt", false},
		{"double slash", "//a//b", "a/b", false},
		{"trailing slash", "/a/", "a/", false},
		{"escape", "/a%20b", "a b", false},
		{"dotdot", "/a/../b", "", true},
		{"dot", "/./a", "", true},
		{"encoded slash", "/a%2Fb", "", true},
		{"backslash", "/a\\b", "", true},
		{"nul", "/a%00", "", true},
		{"relative", "a", "", true},
		{"short escape", "/a%2", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cleanPath(nil, []byte(tt.in))
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Fatalf("cleanPath(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestFileShrunk serves a file read per request (bigger than cachedFile,
// at most smallFile) that shrank after it was opened and cached: the
// response must carry only the file's real bytes and then close the
// connection, never fill the promised length from a reused buffer.
func TestFileShrunk(t *testing.T) {
	addr, root, fs := fileFixture(t)
	fs.revalidate = time.Hour // keep serving the entry opened before the change
	content := "Hello" + strings.Repeat("x", cachedFile)
	if err := os.WriteFile(filepath.Join(root, "mid.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr)
	// Fill the connection's write buffer with other bytes first.
	c.send("GET /sub/a.css HTTP/1.1\r\nHost: x\r\n\r\nGET /mid.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	c.read("GET")
	if r := c.read("GET"); r.body != content {
		t.Fatalf("before: got %d bytes, want %d", len(r.body), len(content))
	}
	if err := os.Truncate(filepath.Join(root, "mid.txt"), 5); err != nil {
		t.Fatal(err)
	}
	c.send("GET /sub/a.css HTTP/1.1\r\nHost: x\r\n\r\nGET /mid.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/a.css HTTP/1.1\r\nHost: x\r\n\r\n")
	c.read("GET")
	r, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(r.Body)
	if string(b) != "Hello" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got body %q, %v; want %q cut short by the close (io.ErrUnexpectedEOF)", b, err, "Hello")
	}
	c.expectClosed()
}

// TestFileSnapshot: a file of at most cachedFile bytes is answered from the
// content read when it was opened, whole and matching its Content-Length
// and ETag, even if it changes in place; once the entry is revalidated the
// new content is served.
func TestFileSnapshot(t *testing.T) {
	addr, root, fs := fileFixture(t)
	fs.revalidate = time.Hour
	first := get(t, addr, "GET", "/hello.txt")
	if first.body != "Hello, World!" {
		t.Fatalf("got %q", first.body)
	}
	name := filepath.Join(root, "hello.txt")
	if err := os.WriteFile(name, []byte("Bye"), 0o644); err != nil { // in place: same inode
		t.Fatal(err)
	}
	r := get(t, addr, "GET", "/hello.txt")
	if r.body != "Hello, World!" || r.header.Get("ETag") != first.header.Get("ETag") {
		t.Fatalf("before revalidation: got %q with ETag %s, want the snapshot %q with ETag %s",
			r.body, r.header.Get("ETag"), "Hello, World!", first.header.Get("ETag"))
	}
	fs.mu.Lock()
	fs.revalidate = 0
	fs.mu.Unlock()
	r = get(t, addr, "GET", "/hello.txt")
	if r.body != "Bye" || r.header.Get("ETag") == first.header.Get("ETag") {
		t.Fatalf("after revalidation: got %q with ETag %s, want %q with a new ETag", r.body, r.header.Get("ETag"), "Bye")
	}
}

// TestFolderRedirect checks that a folder's redirect stays on this host:
// leading slashes collapse, so "//dir" never yields the protocol-relative
// "//dir/".
func TestFolderRedirect(t *testing.T) {
	addr, root, _ := fileFixture(t)
	if err := os.Mkdir(filepath.Join(root, "evil.example"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, target, want string
	}{
		{"plain", "/dir", "/dir/"},
		{"two leading slashes", "//dir", "/dir/"},
		{"host-like folder", "//evil.example", "/evil.example/"},
		{"many leading slashes", "////evil.example", "/evil.example/"},
		{"inner empty segment kept", "/sub//parent", "/sub//parent/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, addr, "GET", tt.target)
			if r.status != 301 || r.header.Get("Location") != tt.want {
				t.Fatalf("got %d Location %q, want 301 %q", r.status, r.header.Get("Location"), tt.want)
			}
		})
	}
}

// TestSlowSteadyReaderGetsWholeFile: the write timeout bounds each MiB of
// an answer, not the whole of it: a client that reads a file steadily, if
// more slowly than the whole file could be sent within the timeout, gets
// all of it.
func TestSlowSteadyReaderGetsWholeFile(t *testing.T) {
	root := t.TempDir()
	const size = 24 << 20
	if err := os.WriteFile(filepath.Join(root, "big"), make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := NewFileServer(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	addr := startServer(t, &Server{Handler: fs, WriteTimeout: 300 * time.Millisecond}, "tcp", "127.0.0.1:0")
	c := dial(t, addr)
	c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	got := 0
	buf := make([]byte, 256<<10)
	for got < size { // about 10 MB/s: 2.4 s in all, 0.1 s per MiB
		n, err := c.nc.Read(buf)
		got += n
		if err != nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if got < size { // the headers come first: all of the body is more than size
		t.Fatalf("got %d bytes, then the connection ended; want the whole %d-byte file", got, size)
	}
}
