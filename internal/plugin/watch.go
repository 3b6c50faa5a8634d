package plugin

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/mtnode/mtnode/sdk"
)

// settle is how long a file must be quiet before it is rescanned: copying
// a binary produces a burst of writes.
const settle = 150 * time.Millisecond

// watch follows the plugins folder with fsnotify on a host goroutine.
// Install binaries atomically (write elsewhere, then rename into the
// folder) so that a half-written file is never scanned.
func (h *Host) watch() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("plugin: watching plugins folder: %w", err)
	}
	dir := filepath.Clean(h.cfg.Dir)
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("plugin: watching plugins folder %s: %w", h.cfg.Dir, err)
	}
	// The parent shows the folder itself being replaced (renamed over,
	// removed and made again, a symlink swapped): the watch then follows
	// the new folder, whose binaries are scanned whole.
	if err := w.Add(filepath.Dir(dir)); err != nil {
		h.log.Warn("cannot follow the plugins folder's parent folder: a plugins folder replaced as a whole will not be seen until the node restarts",
			"dir", filepath.Dir(dir), sdk.KeyErr, err)
	}
	if !h.spawn(func(quit <-chan struct{}) {
		defer w.Close()
		dirty := map[string]time.Time{}
		reattach := false              // the folder was replaced, moved or removed
		gone := false                  // the folder is missing (said once)
		refused := h.checkDir() != nil // the folder is writable by others
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		for {
			select {
			case <-quit:
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == dir {
					// The folder itself: its mode (checked again below),
					// or the folder replaced or gone.
					if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
						reattach = true
					}
					timer.Reset(settle)
					continue
				}
				if filepath.Dir(ev.Name) != dir {
					continue
				}
				dirty[ev.Name] = time.Now()
				timer.Reset(settle)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				h.log.Warn("plugins folder watch error", sdk.KeyErr, err)
			case <-timer.C:
				if reattach {
					reattach = false
					if !h.reattach(w, dir, &gone) {
						continue
					}
					clear(dirty)
					for _, path := range h.knownPaths(dir) {
						dirty[path] = time.Time{} // rescanned just below
					}
				}
				// The folder is checked as at boot: once others may write
				// to it, no binary of it is trusted; once fixed, it is
				// scanned again whole.
				if err := h.checkDir(); err != nil {
					clear(dirty) // all rescanned once it is fixed
					if !refused {
						refused = true
						h.refuseDir(err)
						h.saveState()
					}
					continue
				}
				if refused {
					refused = false
					clear(dirty)
					_ = h.scanDir(context.Background())
					h.saveState()
					continue
				}
				now := time.Now()
				next := time.Duration(0)
				for path, t := range dirty {
					if wait := settle - now.Sub(t); wait > 0 {
						next = max(next, wait)
						continue
					}
					delete(dirty, path)
					h.rescan(context.Background(), path)
				}
				h.saveState()
				if len(dirty) > 0 {
					timer.Reset(max(next, time.Millisecond))
				}
			}
		}
	}) {
		w.Close()
		return errClosing
	}
	return nil
}

// reattach points w at the folder now at dir, after the one it followed
// was replaced or removed, and reports whether there is one. While there
// is none, the plugins of the old one are removed (their binaries are
// gone), and gone records that this was said.
func (h *Host) reattach(w *fsnotify.Watcher, dir string, gone *bool) bool {
	_ = w.Remove(dir) // an inotify watch ends with its folder; one may be left
	if err := w.Add(dir); err != nil {
		if !*gone {
			*gone = true
			h.log.Warn("plugins folder is gone: its plugins are removed until a folder is back at its path", "dir", dir, sdk.KeyErr, err)
		}
		for _, path := range h.knownPaths(dir) {
			h.rescan(context.Background(), path)
		}
		h.saveState()
		return false
	}
	if *gone {
		*gone = false
		h.log.Info("plugins folder is back", "dir", dir)
	} else {
		h.log.Info("plugins folder replaced: following the new one", "dir", dir)
	}
	return true
}

// knownPaths returns the paths of the binaries the host knows (running,
// idle or refused) and of the files now in dir.
func (h *Host) knownPaths(dir string) []string {
	seen := map[string]bool{}
	h.mu.Lock()
	for path := range h.plugins {
		seen[path] = true
	}
	for path := range h.bad {
		seen[path] = true
	}
	h.mu.Unlock()
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			seen[filepath.Join(dir, e.Name())] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
