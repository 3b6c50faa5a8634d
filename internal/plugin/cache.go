package plugin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cacheVersion is bumped when the cache file's shape changes; an older
// file is ignored (and rewritten).
const cacheVersion = 1

// fileKey identifies one version of a plugin binary.
type fileKey struct {
	Size   int64  `json:"size"`
	MTime  int64  `json:"mtime_ns"`
	SHA256 string `json:"sha256"`
}

// ServiceManifest is one service a plugin declares.
type ServiceManifest struct {
	Name       string   `json:"name"`
	EventTypes []string `json:"event_types,omitempty"`
}

// cacheEntry is what the node learned about one binary: its manifest, or
// why it is not a usable plugin.
type cacheEntry struct {
	fileKey
	Services []ServiceManifest `json:"services,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// cacheState is the node's last word on its plugins, so that `mtnode
// plugins` can show them with or without a running node.
type cacheState struct {
	NodePID int `json:"node_pid"`
	// NodeStart is when the node's process started, in the kernel's
	// clock ticks since boot (0: unknown): a process that later got the
	// same pid is not taken for the node.
	NodeStart uint64         `json:"node_start,omitempty"`
	Updated   time.Time      `json:"updated"`
	Plugins   []PluginStatus `json:"plugins"`
}

// cacheFile is the JSON document at <prefix>/cache/plugins.json.
type cacheFile struct {
	Version int                    `json:"version"`
	Entries map[string]*cacheEntry `json:"entries"` // by absolute path
	State   *cacheState            `json:"state,omitempty"`
}

func readCache(path string) (*cacheFile, error) {
	c := &cacheFile{Version: cacheVersion, Entries: map[string]*cacheEntry{}}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("plugin: reading cache %s: %w", path, err)
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != cacheVersion || f.Entries == nil {
		// A damaged or older cache costs one manifest launch per plugin.
		return c, nil
	}
	return &f, nil
}

// writeCache writes c atomically (temp file + rename), private to the user.
func writeCache(path string, c *cacheFile) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("plugin: writing cache: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("plugin: writing cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plugins-*.json")
	if err != nil {
		return fmt.Errorf("plugin: writing cache: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("plugin: writing cache %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("plugin: writing cache %s: %w", path, err)
	}
	return nil
}

// keyOf returns the identity of the binary at path: size, mtime and the
// SHA-256 of its content.
func keyOf(path string, fi fs.FileInfo) (fileKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileKey{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fileKey{}, err
	}
	return fileKey{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ReadStatus returns the plugins as the cache file at path records them:
// the live view a running node last wrote, when that node is still
// running, or else every cached binary still in place with state "cached"
// (or "invalid" with the reason it is not a usable plugin). running
// reports whether the node that wrote the state is alive: its pid runs,
// and, where the kernel says when processes started, it is the same
// process, not a later one that got its pid.
func ReadStatus(path string) (plugins []PluginStatus, running bool, err error) {
	c, err := readCache(path)
	if err != nil {
		return nil, false, err
	}
	if s := c.State; s != nil && stillRuns(s.NodePID, s.NodeStart) {
		return s.Plugins, true, nil
	}
	var prev map[string]PluginStatus
	if c.State != nil {
		prev = map[string]PluginStatus{}
		for _, p := range c.State.Plugins {
			prev[p.Path] = p
		}
	}
	for path, e := range c.Entries {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue // removed since: no longer the node's plugin
		}
		st := PluginStatus{Name: filepath.Base(path), Path: path, State: "cached", LastError: e.Error}
		if e.Error != "" {
			st.State = "invalid"
		}
		for _, s := range e.Services {
			st.Services = append(st.Services, s.Name)
		}
		if p, ok := prev[path]; ok {
			st.Launches, st.Crashes = p.Launches, p.Crashes
			if st.LastError == "" {
				st.LastError = p.LastError
			}
		}
		plugins = append(plugins, st)
	}
	sort.Slice(plugins, func(i, j int) bool { return plugins[i].Path < plugins[j].Path })
	return plugins, false, nil
}

// procStart returns when process pid started, in clock ticks since boot
// (field 22 of /proc/<pid>/stat); ok is false where that is not known.
func procStart(pid int) (start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses of its own: the fields after the last ')' start at 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, err == nil
}

// stillRuns reports whether process pid, which started at start (procStart's
// ticks; 0 when not known), still runs: a later process that got its pid
// does not count, where the kernel says when processes started.
func stillRuns(pid int, start uint64) bool {
	if pid <= 0 || !alive(pid) {
		return false
	}
	now, ok := procStart(pid)
	return !ok || start == 0 || now == start
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
