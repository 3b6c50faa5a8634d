package plugin

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadStatusSeesTheNodeGone: `mtnode plugins` shows the live view only
// while the node that wrote it runs. A process that got the node's pid
// after the node was killed is not taken for it (its start time differs),
// and a binary removed from the plugins folder since is no longer listed.
func TestReadStatusSeesTheNodeGone(t *testing.T) {
	dir := t.TempDir()
	kept, removed := filepath.Join(dir, "kept"), filepath.Join(dir, "removed")
	if err := os.WriteFile(kept, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	start, ok := procStart(os.Getpid())
	if !ok {
		t.Skip("this system does not say when a process started")
	}
	live := []PluginStatus{{Name: "kept", Path: kept, State: "running"}}
	path := filepath.Join(dir, "plugins.json")
	for _, tc := range []struct {
		name      string
		nodeStart uint64
		running   bool
	}{
		{"the node runs", start, true},
		{"its pid was reused", start + 1, false},
		{"written before start times were kept", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cacheFile{Version: cacheVersion,
				Entries: map[string]*cacheEntry{kept: {}, removed: {}},
				State:   &cacheState{NodePID: os.Getpid(), NodeStart: tc.nodeStart, Plugins: live}}
			if err := writeCache(path, c); err != nil {
				t.Fatal(err)
			}
			sts, running, err := ReadStatus(path)
			if err != nil {
				t.Fatal(err)
			}
			if running != tc.running {
				t.Fatalf("running: got %v, want %v", running, tc.running)
			}
			want := "running"
			if !tc.running {
				want = "cached"
			}
			if len(sts) != 1 || sts[0].Path != kept || sts[0].State != want {
				t.Fatalf("got %+v, want only %s, %s", sts, kept, want)
			}
		})
	}
}
