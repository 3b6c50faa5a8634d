package plugin

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// FuzzStderrLog feeds arbitrary plugin stderr to the line parser: it must
// never panic, and must keep at most stderrLines lines.
func FuzzStderrLog(f *testing.F) {
	f.Add([]byte(`{"@level":"info","@message":"started","@timestamp":"2024-01-01T00:00:00.000000Z","n":1}` + "\n"))
	f.Add([]byte("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n"))
	f.Add([]byte(`{"@level":7,"@message":null}` + "\npartial"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newStderrLog(slog.New(slog.DiscardHandler), "fuzz")
		if _, err := s.Write(b); err != nil {
			t.Fatal(err)
		}
		if len(s.last) > stderrLines {
			t.Fatalf("kept %d lines, want at most %d", len(s.last), stderrLines)
		}
	})
}

// FuzzReadCache reads arbitrary cache files: a damaged cache is ignored,
// never an error or a panic.
func FuzzReadCache(f *testing.F) {
	f.Add([]byte(`{"version":1,"entries":{"/p/x":{"size":1,"mtime_ns":2,"sha256":"ab","services":[{"name":"Echo"}]}}}`))
	f.Add([]byte(`{"version":1,"entries":null,"state":{"node_pid":-1}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "plugins.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := readCache(path)
		if err != nil || c == nil || c.Entries == nil {
			t.Fatalf("readCache: got %v, %v; want a usable cache", c, err)
		}
		if _, _, err := ReadStatus(path); err != nil {
			t.Fatalf("ReadStatus: %v", err)
		}
	})
}
