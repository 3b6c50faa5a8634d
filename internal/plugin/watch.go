package plugin

import (
	"context"
	"fmt"
	"path/filepath"
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
	if err := w.Add(h.cfg.Dir); err != nil {
		w.Close()
		return fmt.Errorf("plugin: watching plugins folder %s: %w", h.cfg.Dir, err)
	}
	if !h.spawn(func(quit <-chan struct{}) {
		defer w.Close()
		dirty := map[string]time.Time{}
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
				if filepath.Clean(ev.Name) == filepath.Clean(h.cfg.Dir) {
					// The folder itself (its mode): check it again.
					timer.Reset(settle)
					continue
				}
				if filepath.Dir(ev.Name) != filepath.Clean(h.cfg.Dir) {
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
