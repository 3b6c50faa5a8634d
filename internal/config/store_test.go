package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mtnode/mtnode/sdk/sdktest"
)

const baseConf = `# Addresses the node listens on (default: 127.0.0.1:10100)
RPC.bindAddr=127.0.0.1:10200

# my own note
Start=RPC
`

func TestLookupWritesMissingKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, baseConf)
	s := openT(t, Options{Path: path, Env: noEnv})

	v, src := s.Lookup("SocketIO.maxOutBufferSize", "8388608", "Bytes buffered for output per connection")
	if v != "8388608" || src != SourceDefault {
		t.Errorf("Lookup missing key: got %q, %v, want %q, default", v, src, "8388608")
	}
	v, src = s.Lookup("RPC.bindAddr", "127.0.0.1:10100", "Addresses the node listens on")
	if v != "127.0.0.1:10200" || src != SourceFile {
		t.Errorf("Lookup present key: got %q, %v, want %q, file", v, src, "127.0.0.1:10200")
	}
	want := `# Addresses the node listens on (default: 127.0.0.1:10100)
RPC.bindAddr=127.0.0.1:10200

# Bytes buffered for output per connection (default: 8388608)
SocketIO.maxOutBufferSize=8388608

# my own note
Start=RPC
`
	if got := readFileT(t, path); got != want {
		t.Errorf("file:\n--- got ---\n%s--- want ---\n%s", got, want)
	}

	// The next run reads the written default from the file.
	s2 := openT(t, Options{Path: path, Env: noEnv})
	if v, src := s2.Lookup("SocketIO.maxOutBufferSize", "1", "changed default"); v != "8388608" || src != SourceFile {
		t.Errorf("after reopen: got %q, %v, want %q, file", v, src, "8388608")
	}
}

func TestLookupCreatesFileAndDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prefix", "conf", "mtnode.conf")
	s := openT(t, Options{Path: path, Env: noEnv})
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open created the file (stat err %v); want it created on the first write", err)
	}
	s.Lookup("Start", "RPC", "Services started at boot")
	if got, want := readFileT(t, path), "# Services started at boot (default: RPC)\nStart=RPC\n"; got != want {
		t.Errorf("file: got %q, want %q", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != newFileMode {
		t.Errorf("new file mode: got %v, want %v", got, newFileMode)
	}
}

func TestParseErrorLeavesFileUntouched(t *testing.T) {
	const bad = "# fine\nRPC.bindAddr=1\nRPC.bindAddr 2\nStart=RPC\nStart=Timer\n"
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, bad)
	old := setOldMtime(t, path)

	s, err := Open(Options{Path: path, Env: noEnv})
	if err == nil {
		t.Fatalf("Open of a malformed file succeeded (store %v)", s)
	}
	errs := unjoin(err)
	if len(errs) != 2 {
		t.Errorf("got %d errors, want 2 (all collected): %v", len(errs), err)
	}
	for i, want := range []string{path + ":3: missing", path + ":5: duplicate key \"Start\""} {
		if i < len(errs) && !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("error %d: got %q, want prefix %q", i, errs[i], want)
		}
	}
	if got := readFileT(t, path); got != bad {
		t.Errorf("file changed: got %q, want %q", got, bad)
	}
	if mt := mtime(t, path); !mt.Equal(old) {
		t.Errorf("file mtime changed: got %v, want %v", mt, old)
	}
}

func TestOpenTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, strings.Repeat("# filler line\n", maxFileSize/14+10))
	_, err := Open(Options{Path: path, Env: noEnv})
	if want := path + ": file is over the 4 MiB limit"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want an error starting %q", err, want)
	}
}

// An operator edits the file while the node runs. A later write must keep
// the edit, and an edit that does not parse must not be overwritten.
func TestExternalEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, baseConf)
	var logs sdktest.LogBuffer
	s := openT(t, Options{Path: path, Env: noEnv, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s.Lookup("RPC.bindAddr", "127.0.0.1:10100", "Addresses the node listens on")
	if err := s.Set("RPC.queueLimit", "100"); err != nil {
		t.Fatal(err)
	}

	edited := strings.Replace(readFileT(t, path), "Start=RPC", "Start=RPC,Telnet\n\n# added by hand\nTelnet.bindAddr=127.0.0.1:9999", 1)
	writeFileT(t, path, edited)
	s.Lookup("Timer.resolution", "1ms", "Timer tick")
	got := readFileT(t, path)
	for _, want := range []string{"Start=RPC,Telnet\n", "# added by hand\nTelnet.bindAddr=127.0.0.1:9999\n", "RPC.queueLimit=100\n", "# Timer tick (default: 1ms)\nTimer.resolution=1ms\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("file lacks %q:\n%s", want, got)
		}
	}
	if v, src := s.Lookup("Start", "RPC", "boot services"); v != "RPC,Telnet" || src != SourceFile {
		t.Errorf("Start after edit: got %q, %v, want %q, file", v, src, "RPC,Telnet")
	}

	broken := readFileT(t, path) + "oops\n"
	writeFileT(t, path, broken)
	old := setOldMtime(t, path)
	if v, src := s.Lookup("Timer.maxPending", "1000", "alarms"); v != "1000" || src != SourceDefault {
		t.Errorf("Lookup with a broken file: got %q, %v, want the default", v, src)
	}
	if got := readFileT(t, path); got != broken {
		t.Errorf("broken file was rewritten:\n%s", got)
	}
	if mt := mtime(t, path); !mt.Equal(old) {
		t.Errorf("broken file mtime changed: got %v, want %v", mt, old)
	}
	if !strings.Contains(logs.String(), "no longer parses") {
		t.Errorf("no warning about the broken file in the log:\n%s", logs.String())
	}
	if err := s.Set("A.b", "c"); err == nil || !strings.Contains(err.Error(), path+":") {
		t.Errorf("Set with a broken file: got error %v, want one naming %s:line", err, path)
	}
}

// A file removed while the node runs is written again with the defaults of
// the keys defined so far, as a restart would.
func TestFileRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, baseConf)
	s := openT(t, Options{Path: path, Env: noEnv})
	s.Lookup("RPC.bindAddr", "127.0.0.1:10100", "Addresses the node listens on")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s.Lookup("Start", "RPC", "boot services")
	want := "# Addresses the node listens on (default: 127.0.0.1:10100)\nRPC.bindAddr=127.0.0.1:10100\n\n# boot services (default: RPC)\nStart=RPC\n"
	if got := readFileT(t, path); got != want {
		t.Errorf("file:\n--- got ---\n%s--- want ---\n%s", got, want)
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		flags   map[string]string
		want    string
		wantSrc Source
	}{
		{name: "default", want: "def", wantSrc: SourceDefault},
		{name: "file", file: "RPC.bindAddr=file\n", want: "file", wantSrc: SourceFile},
		{name: "empty file value", file: "RPC.bindAddr=\n", want: "", wantSrc: SourceFile},
		{name: "env over file", file: "RPC.bindAddr=file\n", env: map[string]string{"MT_RPC_bindAddr": " env "}, want: "env", wantSrc: SourceEnv},
		{name: "env over default", env: map[string]string{"MT_RPC_bindAddr": "env"}, want: "env", wantSrc: SourceEnv},
		{name: "other env ignored", env: map[string]string{"MT_RPC_bindaddr": "x", "RPC_bindAddr": "y"}, want: "def", wantSrc: SourceDefault},
		{name: "flag over env", file: "RPC.bindAddr=file\n", env: map[string]string{"MT_RPC_bindAddr": "env"}, flags: map[string]string{"RPC.bindAddr": "flag"}, want: "flag", wantSrc: SourceFlag},
		{name: "flag over default", flags: map[string]string{"RPC.bindAddr": "flag"}, want: "flag", wantSrc: SourceFlag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mtnode.conf")
			if tt.file != "" {
				writeFileT(t, path, tt.file)
			}
			s := openT(t, Options{Path: path, Env: envMap(tt.env), Overrides: tt.flags})
			v, src := s.Lookup("RPC.bindAddr", "def", "address")
			if v != tt.want || src != tt.wantSrc {
				t.Errorf("Lookup: got %q, %v, want %q, %v", v, src, tt.want, tt.wantSrc)
			}
			// Cached path: the same answer again.
			if v2, src2 := s.Lookup("RPC.bindAddr", "other", "other"); v2 != v || src2 != src {
				t.Errorf("second Lookup: got %q, %v, want %q, %v", v2, src2, v, src)
			}
			eff := s.Effective()
			if len(eff) != 1 || eff[0].Value != tt.want || eff[0].Source != tt.wantSrc {
				t.Errorf("Effective: got %+v, want one entry %q from %v", eff, tt.want, tt.wantSrc)
			}
			// Overrides never reach the file.
			if got := readFileT(t, path); strings.Contains(got, "=env") || strings.Contains(got, "=flag") {
				t.Errorf("an override was written to the file:\n%s", got)
			}
		})
	}
}

func TestProcessEnvironment(t *testing.T) {
	t.Setenv("MT_Start", "Timer,RPC")
	t.Setenv("MT_SocketIO_maxOutBufferSize", "64KiB")
	s := openT(t, Options{})
	if v, src := s.Lookup("Start", "RPC", "boot"); v != "Timer,RPC" || src != SourceEnv {
		t.Errorf("Start: got %q, %v, want %q, env", v, src, "Timer,RPC")
	}
	if got := s.Sub("SocketIO").Bytes("maxOutBufferSize", 8388608, "buffer"); got != 64<<10 {
		t.Errorf("SocketIO.maxOutBufferSize: got %d, want %d", got, 64<<10)
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"RPC.bindAddr":       "MT_RPC_bindAddr",
		"Start":              "MT_Start",
		"WebServer.tls.cert": "MT_WebServer_tls.cert",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q): got %q, want %q", key, got, want)
		}
	}
}

func TestEffective(t *testing.T) {
	s := openT(t, Options{
		Embedded:  "Old.key=1\nRPC.bindAddr=10.0.0.1:1\nTelnet.bindAddr=file\n",
		Env:       envMap(map[string]string{"MT_Telnet_bindAddr": "env", "MT_Old_key": "2"}),
		Overrides: map[string]string{"Start": "RPC,Telnet"},
	})
	s.Lookup("RPC.bindAddr", "127.0.0.1:10100", "rpc address")
	s.Lookup("RPC.queueLimit", "4096", "queue limit")
	s.Lookup("Telnet.bindAddr", "127.0.0.1:10123", "console address")
	got := s.Effective()
	want := []Entry{
		{Key: "Old.key", Value: "2", Source: SourceEnv},
		{Key: "RPC.bindAddr", Value: "10.0.0.1:1", Default: "127.0.0.1:10100", Description: "rpc address", Source: SourceEmbedded, Known: true},
		{Key: "RPC.queueLimit", Value: "4096", Default: "4096", Description: "queue limit", Source: SourceDefault, Known: true},
		{Key: "Start", Value: "RPC,Telnet", Source: SourceFlag},
		{Key: "Telnet.bindAddr", Value: "env", Default: "127.0.0.1:10123", Description: "console address", Source: SourceEnv, Known: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Effective:\ngot  %+v\nwant %+v", got, want)
	}
}

// TestEffectiveEnvironment: an MT_ variable is listed, with source env,
// whether or not a service defined its key or the file has it; a variable
// whose name is shared by two keys (a service name with '_') goes to the
// key the store knows.
func TestEffectiveEnvironment(t *testing.T) {
	env := map[string]string{"MT_Timer_queueLimit": "5", "MT_My_svc_x": "2", "MT_Other_var": "3", "HOME": "/root"}
	s := openT(t, Options{Embedded: "My_svc.x=1\n", Env: envMap(env), Environ: environ(env)})
	want := []Entry{
		{Key: "My_svc.x", Value: "2", Source: SourceEnv},
		{Key: "Other.var", Value: "3", Source: SourceEnv},
		{Key: "Timer.queueLimit", Value: "5", Source: SourceEnv},
	}
	if got := s.Effective(); !slices.Equal(got, want) {
		t.Errorf("Effective:\ngot  %+v\nwant %+v", got, want)
	}
	// Env without Environ lists no variables: nothing is read from the
	// process behind the caller's back.
	s = openT(t, Options{Env: envMap(env)})
	if got := s.Effective(); len(got) != 0 {
		t.Errorf("Effective with Env and no Environ: got %+v, want nothing", got)
	}
}

// TestEffectiveDocumented: a key no service defined in this process shows
// the default and description its generated comment in the file gives,
// quoted or not; a user's own comment gives none.
func TestEffectiveDocumented(t *testing.T) {
	s := openT(t, Options{Embedded: "# console address (default: 127.0.0.1:10123)\nTelnet.bindAddr=file\n\n" +
		"# console password (default: \"\")\nTelnet.password=x\n\n# my own note\nTimer.x=1\n"})
	want := []Entry{
		{Key: "Telnet.bindAddr", Value: "file", Default: "127.0.0.1:10123", Description: "console address", Source: SourceEmbedded, Documented: true},
		{Key: "Telnet.password", Value: "x", Default: "", Description: "console password", Source: SourceEmbedded, Documented: true},
		{Key: "Timer.x", Value: "1", Source: SourceEmbedded},
	}
	if got := s.Effective(); !slices.Equal(got, want) {
		t.Errorf("Effective:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestSourceString(t *testing.T) {
	for src, want := range map[Source]string{SourceDefault: "default", SourceEmbedded: "embedded", SourceFile: "file", SourceEnv: "env", SourceFlag: "flag", 9: "Source(9)"} {
		if got := src.String(); got != want {
			t.Errorf("Source(%d).String(): got %q, want %q", int(src), got, want)
		}
	}
}

func TestSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, baseConf+"\n# trailing note\n")
	s := openT(t, Options{Path: path, Env: noEnv})
	s.Lookup("RPC.queueLimit", "4096", "queue limit")

	for _, kv := range [][2]string{
		{"Start", "  RPC,Telnet  "},   // existing key with a user comment
		{"Zed.new", "x=y"},            // a key nobody defined
		{"RPC.queueLimit", "100"},     // a defined key written from its default
		{"RPC.bindAddr", "[::1]:1"},   // existing key with a generated comment
		{"HelloWeb.docRoot", "/srv/"}, // new key
	} {
		if err := s.Set(kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%q, %q): %v", kv[0], kv[1], err)
		}
	}
	want := `HelloWeb.docRoot=/srv/

# Addresses the node listens on (default: 127.0.0.1:10100)
RPC.bindAddr=[::1]:1

# queue limit (default: 4096)
RPC.queueLimit=100

# my own note
Start=RPC,Telnet

Zed.new=x=y

# trailing note
`
	if got := readFileT(t, path); got != want {
		t.Errorf("file:\n--- got ---\n%s--- want ---\n%s", got, want)
	}
	if v, src := s.Lookup("RPC.queueLimit", "4096", "queue limit"); v != "100" || src != SourceFile {
		t.Errorf("Lookup after Set: got %q, %v, want %q, file", v, src, "100")
	}

	errTests := []struct{ name, key, value, want string }{
		{"bad key", "RPC bind", "1", `config: setting "RPC bind": key "RPC bind" has the character ' '`},
		{"empty key", "", "1", `config: setting "": empty key`},
		{"newline", "A.b", "1\n2", "config: setting A.b: the value has a line break"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			before := readFileT(t, path)
			err := s.Set(tt.key, tt.value)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Set(%q, %q): got error %v, want prefix %q", tt.key, tt.value, err, tt.want)
			}
			if after := readFileT(t, path); after != before {
				t.Errorf("failed Set changed the file:\n%s", after)
			}
		})
	}
}

func TestSetInMemoryAndReadOnly(t *testing.T) {
	mem := openT(t, Options{Env: noEnv})
	if err := mem.Set("A.b", "1"); err != nil {
		t.Errorf("Set on an in-memory store: %v", err)
	}
	if v, src := mem.Lookup("A.b", "0", "d"); v != "1" || src != SourceFile {
		t.Errorf("in-memory Lookup after Set: got %q, %v, want %q, file", v, src, "1")
	}

	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, baseConf)
	old := setOldMtime(t, path)
	ro := openT(t, Options{Path: path, Env: noEnv, ReadOnly: true})
	if err := ro.Set("A.b", "1"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Set on a read-only store: got %v, want ErrReadOnly", err)
	}
	if v, src := ro.Lookup("Timer.x", "5", "d"); v != "5" || src != SourceDefault {
		t.Errorf("read-only Lookup: got %q, %v, want %q, default", v, src, "5")
	}
	if got := readFileT(t, path); got != baseConf {
		t.Errorf("read-only store wrote the file:\n%s", got)
	}
	if mt := mtime(t, path); !mt.Equal(old) {
		t.Errorf("read-only store touched the file: mtime %v, want %v", mt, old)
	}
}

func TestEmbedded(t *testing.T) {
	const emb = "# demo\nHelloWeb.bindAddr=127.0.0.1:0\n"
	t.Run("in memory", func(t *testing.T) {
		s := openT(t, Options{Embedded: emb, Env: noEnv})
		if v, src := s.Lookup("HelloWeb.bindAddr", "127.0.0.1:8080", "d"); v != "127.0.0.1:0" || src != SourceEmbedded {
			t.Errorf("got %q, %v, want %q, embedded", v, src, "127.0.0.1:0")
		}
		if s.Exists() {
			t.Errorf("Exists: got true for an in-memory store")
		}
		if s.Path() != "" {
			t.Errorf("Path: got %q, want \"\"", s.Path())
		}
	})
	t.Run("seeds a missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mt-test-http.conf")
		s := openT(t, Options{Path: path, Embedded: emb, Env: noEnv})
		// Until the file is written, the value is the embedded config's.
		if eff := s.Effective(); len(eff) != 1 || eff[0].Source != SourceEmbedded || s.Exists() {
			t.Errorf("before the write: got %+v, Exists %v, want HelloWeb.bindAddr from embedded, false", eff, s.Exists())
		}
		s.Lookup("HelloWeb.docRoot", "", "files to serve")
		want := "# demo\nHelloWeb.bindAddr=127.0.0.1:0\n\n# files to serve (default: \"\")\nHelloWeb.docRoot=\n"
		if got := readFileT(t, path); got != want {
			t.Errorf("file:\n--- got ---\n%s--- want ---\n%s", got, want)
		}
		if _, src := s.Lookup("HelloWeb.bindAddr", "127.0.0.1:8080", "address"); src != SourceFile || !s.Exists() {
			t.Errorf("after the write: got source %v, Exists %v, want file, true", src, s.Exists())
		}
	})
	t.Run("file wins over embedded", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mtnode.conf")
		writeFileT(t, path, "HelloWeb.bindAddr=127.0.0.1:1\n")
		s := openT(t, Options{Path: path, Embedded: emb, Env: noEnv})
		if v, _ := s.Lookup("HelloWeb.bindAddr", "x", "d"); v != "127.0.0.1:1" {
			t.Errorf("got %q, want the file's %q", v, "127.0.0.1:1")
		}
	})
	t.Run("errors name <embedded>", func(t *testing.T) {
		_, err := Open(Options{Embedded: "A.x=1\nnope\n"})
		if err == nil || !strings.HasPrefix(err.Error(), "<embedded>:2: missing") {
			t.Errorf("got %v, want an error at <embedded>:2", err)
		}
	})
}

func TestOverrideKeysChecked(t *testing.T) {
	_, err := Open(Options{Overrides: map[string]string{"RPC.bindAddr": "1", "bad key": "x", "": "y"}})
	if err == nil {
		t.Fatal("Open accepted invalid override keys")
	}
	errs := unjoin(err)
	want := []string{
		`config: --set =...: empty key; write Service.key=value`,
		`config: --set bad key=...: key "bad key" has the character ' '; keys use only letters, digits, '_', '.' and '-'`,
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\ngot  %q\nwant %q", got, want)
	}
}

func TestLookupInvalidKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	s := openT(t, Options{Path: path, Env: noEnv})
	if v, src := s.Lookup("RPC bind", "d", "desc"); v != "d" || src != SourceDefault {
		t.Errorf("got %q, %v, want the default", v, src)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an invalid key was written (stat err %v)", err)
	}
	if p := s.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), `looking up "RPC bind"`) {
		t.Errorf("Problems: got %v, want one about the invalid key", p)
	}
}

// Many goroutines define and read overlapping keys at once, as services
// starting together do. The file must end up well formed, with every key
// once, under exactly one generated comment.
func TestConcurrentLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mtnode.conf")
	writeFileT(t, path, "# operator's note\nUser.key=kept\n")
	s := openT(t, Options{Path: path, Env: noEnv})
	const goroutines, keys = 16, 40
	var wg sync.WaitGroup
	errc := make(chan error, goroutines*keys)
	for g := range goroutines {
		wg.Go(func() {
			for i := range keys {
				k := (i + g*7) % keys // each goroutine starts elsewhere
				key := fmt.Sprintf("Svc%d.key%02d", k%4, k)
				v, _ := s.Lookup(key, fmt.Sprint(k), fmt.Sprintf("key number %d", k))
				if v != fmt.Sprint(k) {
					errc <- fmt.Errorf("Lookup(%s): got %q, want %q", key, v, fmt.Sprint(k))
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}

	data := readFileT(t, path)
	doc, errs := parse(path, []byte(data))
	if errs != nil {
		t.Fatalf("written file does not parse: %v\n%s", errs, data)
	}
	if got := len(doc.entries); got != keys+1 {
		t.Errorf("file has %d keys, want %d", got, keys+1)
	}
	for k := range keys {
		key := fmt.Sprintf("Svc%d.key%02d", k%4, k)
		e := doc.entries[key]
		if e == nil {
			t.Errorf("file lacks %s", key)
			continue
		}
		if want := []string{genLine(key, fmt.Sprint(k), fmt.Sprintf("key number %d", k))}; !slices.Equal(e.comments, want) {
			t.Errorf("%s: comments %q, want %q", key, e.comments, want)
		}
	}
	if e := doc.entries["User.key"]; e == nil || e.value != "kept" || !slices.Equal(e.comments, []string{"# operator's note"}) {
		t.Errorf("User.key not kept: %+v", e)
	}
	if out, _ := doc.format(); string(out) != data {
		t.Errorf("file is not in canonical sorted form:\n%s", data)
	}
}

// TestAtomicWrite: a write replaces the file by renaming a complete new one
// over it (a new inode; a reader that opened the old file reads the old
// content to its end), keeps the file's mode and leaves no temporary file.
func TestAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mtnode.conf")
	writeFileT(t, path, baseConf)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	s := openT(t, Options{Path: path, Env: noEnv})
	for i := range 5 {
		s.Lookup(fmt.Sprintf("A.k%d", i), "v", "d")
	}
	if err := s.Set("A.k0", "w"); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Errorf("the file was rewritten in place (same inode); want a new file renamed over it")
	}
	if got := after.Mode().Perm(); got != 0o640 {
		t.Errorf("mode: got %v, want %v (kept)", got, fs.FileMode(0o640))
	}
	if !strings.Contains(readFileT(t, path), "A.k0=w\n") {
		t.Errorf("the new file lacks A.k0=w:\n%s", readFileT(t, path))
	}
	old, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	if string(old) != baseConf {
		t.Errorf("a reader of the old file got %q, want the old content %q", old, baseConf)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"mtnode.conf"}) {
		t.Errorf("directory holds %q, want only mtnode.conf (no temporary files)", got)
	}
}

// TestAtomicWriteFailure: a write that fails leaves the file as it was and
// no temporary file behind, and its error names the file. The failures are
// ones root meets too (permission bits would not stop it).
func TestAtomicWriteFailure(t *testing.T) {
	t.Run("temporary file cannot be created", func(t *testing.T) {
		// The name fits the file system's limit of 255 bytes, the
		// temporary file's longer name does not.
		dir := t.TempDir()
		path := filepath.Join(dir, strings.Repeat("n", 250)+".conf")
		writeFileT(t, path, baseConf)
		s := openT(t, Options{Path: path, Env: noEnv})
		err := s.Set("RPC.bindAddr", "127.0.0.1:1")
		if err == nil {
			t.Fatal("Set succeeded; want the failed write's error")
		}
		if !strings.Contains(err.Error(), "config: writing "+path) {
			t.Errorf("error %q does not name the file %s", err, path)
		}
		if got := readFileT(t, path); got != baseConf {
			t.Errorf("file changed by a failed write:\n%s", got)
		}
		if got := dirNames(t, dir); !slices.Equal(got, []string{filepath.Base(path)}) {
			t.Errorf("directory holds %q, want only the config file", got)
		}
	})
	t.Run("rename fails", func(t *testing.T) {
		// The target is a folder with a file in it: the temporary file is
		// written, and renaming it over the folder fails.
		dir := t.TempDir()
		path := filepath.Join(dir, "mtnode.conf")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		inside := filepath.Join(path, "keep")
		writeFileT(t, inside, "kept")
		err := writeAtomic(path, []byte("Start=\n"))
		if err == nil {
			t.Fatal("writeAtomic over a folder succeeded")
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
		if got := readFileT(t, inside); got != "kept" {
			t.Errorf("the folder's file changed: %q", got)
		}
		if got := dirNames(t, dir); !slices.Equal(got, []string{"mtnode.conf"}) {
			t.Errorf("directory holds %q, want only mtnode.conf (no temporary files)", got)
		}
	})
}

// dirNames returns the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "shared.conf")
	writeFileT(t, target, baseConf)
	link := filepath.Join(dir, "mtnode.conf")
	if err := os.Symlink("shared.conf", link); err != nil {
		t.Skipf("cannot make a symlink: %v", err)
	}
	s := openT(t, Options{Path: link, Env: noEnv})
	s.Lookup("A.x", "1", "d")
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the config symlink was replaced by a %v file", fi.Mode())
	}
	if got := readFileT(t, target); !strings.Contains(got, "A.x=1\n") {
		t.Errorf("the linked file lacks the new key:\n%s", got)
	}
}

func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "prefix")
	path := filepath.Join(blocker, "conf", "mtnode.conf")
	var logs sdktest.LogBuffer
	s := openT(t, Options{Path: path, Env: noEnv, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	// A regular file where the config's directory should be.
	writeFileT(t, blocker, "not a directory")
	for i := range 3 {
		if v, src := s.Lookup(fmt.Sprintf("A.k%d", i), "v", "d"); v != "v" || src != SourceDefault {
			t.Errorf("Lookup with an unwritable file: got %q, %v, want %q, default", v, src, "v")
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("got %d warnings for failed writes, want 1:\n%s", n, logs.String())
	}
	if err := s.Set("A.k0", "w"); err == nil || !strings.HasPrefix(err.Error(), "config: ") || !strings.Contains(err.Error(), path) {
		t.Errorf("Set with an unwritable file: got %v, want a write error", err)
	}
}

func TestWhere(t *testing.T) {
	s := openT(t, Options{
		Embedded:  "# note\nA.file=1\nA.env=1\n",
		Env:       envMap(map[string]string{"MT_A_env": "2"}),
		Overrides: map[string]string{"A.flag": "3"},
	})
	for key, want := range map[string]string{
		"A.file":    "<embedded>:2",
		"A.env":     "env MT_A_env",
		"A.flag":    "--set",
		"A.missing": "default",
	} {
		if got := s.Where(key); got != want {
			t.Errorf("Where(%q): got %q, want %q", key, got, want)
		}
	}
}
