package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// newFileMode is the mode of a config file the store creates. The file may
// hold secrets (node link tokens, console passwords), so only its owner may
// read it; an existing file keeps whatever mode it has.
const newFileMode fs.FileMode = 0o600

// readFile reads a config file of at most maxFileSize bytes. A missing file
// is not an error: it reports exists == false.
func readFile(path string) (data []byte, exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("config: reading %s: %w", path, err)
	}
	defer f.Close()
	// Read one byte past the limit so parse can report the file as too large.
	data, err = io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return data, true, nil
}

// writeTarget is the file a write to path replaces: path itself, or the file
// it links to, so that a symlinked config stays a symlink.
func writeTarget(path string) string {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if target, err := filepath.EvalSymlinks(path); err == nil {
			return target
		}
	}
	return path
}

// writeAtomic replaces path with data so that a reader (or a crash) sees
// either the old file or the new one, never a mix: it writes a temporary file
// in the same directory, syncs it, renames it over path and syncs the
// directory. The file keeps its mode; a new file gets newFileMode and its
// directory is created. The temporary file never outlives a failed write.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	mode := newFileMode
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable. Some file systems cannot sync a
	// directory; the file is in place either way, so that is not an error.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
