package h1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// FileRequest is what serving a file needs to know about a request. It can
// be filled from a Request (FileRequestOf) or from a copy of one that an
// asynchronous handler kept.
type FileRequest struct {
	Method          []byte
	Path            []byte // percent-encoded URL path
	IfNoneMatch     []byte
	IfModifiedSince []byte
	Range           []byte
	IfRange         []byte
}

// FileRequestOf returns the FileRequest for r; its slices alias r.
func FileRequestOf(r *Request) FileRequest {
	fr := FileRequest{Method: r.Method, Path: r.Path}
	for i := range r.Headers {
		h := &r.Headers[i]
		switch len(h.Name) {
		case 5:
			if equalFold(h.Name, "range") {
				fr.Range = h.Value
			}
		case 8:
			if equalFold(h.Name, "if-range") {
				fr.IfRange = h.Value
			}
		case 13:
			if equalFold(h.Name, "if-none-match") {
				fr.IfNoneMatch = h.Value
			}
		case 17:
			if equalFold(h.Name, "if-modified-since") {
				fr.IfModifiedSince = h.Value
			}
		}
	}
	return fr
}

// cachedFile is the size up to which a file's content is kept in its cache
// entry (at most maxEntries of them: 16 MiB). Larger files are read (up to
// smallFile) or sent with sendfile on each request.
const cachedFile = 4 << 10

// FileServer serves the files under one folder. It keeps open files in a
// cache, the content of those up to cachedFile bytes too, and checks each
// against the file system at most once per Revalidate (a second): a file
// replaced or changed is served anew from then on. It never serves anything outside the folder: paths with
// ".." segments, encoded slashes or backslashes, NUL bytes, and symbolic
// links that resolve outside it are refused.
type FileServer struct {
	root       string // absolute, symbolic links resolved
	revalidate time.Duration
	maxEntries int

	mu    sync.RWMutex
	cache map[string]*fileEntry
}

// fileEntry is an open file shared by the requests that serve it. It is
// closed when the cache drops it and the last response using it is sent.
type fileEntry struct {
	f        *os.File
	name     string // resolved path
	size     int64
	modTime  time.Time
	etag     string
	lastMod  string
	ctype    string
	redirect bool // a directory: answer with a redirect to "path/"
	// data is the content of a file of at most cachedFile bytes, read when
	// it was opened: such a file is answered from memory, without a read,
	// and its body always matches the size and ETag sent with it.
	data    []byte
	checked atomic.Int64
	refs    atomic.Int32
}

func (e *fileEntry) release() {
	if e.refs.Add(-1) == 0 && e.f != nil {
		e.f.Close()
	}
}

// NewFileServer returns a FileServer for the folder root.
func NewFileServer(root string) (*FileServer, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("h1: document root %q: %w", root, err)
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("h1: document root %q: %w", root, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("h1: document root %q: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("h1: document root %q is not a folder", root)
	}
	return &FileServer{
		root:       abs,
		revalidate: time.Second,
		maxEntries: 4096,
		cache:      make(map[string]*fileEntry),
	}, nil
}

// Close closes the cached files (files still being sent close after).
func (fs *FileServer) Close() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for k, e := range fs.cache {
		delete(fs.cache, k)
		e.release()
	}
}

// ServeH1 serves r.Path from the folder.
func (fs *FileServer) ServeH1(w *ResponseWriter, r *Request) {
	fs.Serve(w, FileRequestOf(r))
}

var errForbidden = errors.New("h1: forbidden path")

// Serve answers fr on w with the file named by fr.Path (index.html for a
// folder), or with 304, 206, 416, 403, 404 or 405.
func (fs *FileServer) Serve(w *ResponseWriter, fr FileRequest) {
	head := string(fr.Method) == "HEAD"
	if !head && string(fr.Method) != "GET" {
		w.SetStatus(405)
		w.AddHeader("Allow", "GET, HEAD")
		w.WriteString("method not allowed\n")
		return
	}
	var stack [256]byte
	rel, err := cleanPath(stack[:0], fr.Path)
	if err != nil {
		w.SetStatus(403)
		w.WriteString("forbidden\n")
		return
	}
	e, err := fs.open(rel)
	if err != nil {
		if errors.Is(err, errForbidden) {
			w.SetStatus(403)
			w.WriteString("forbidden\n")
			return
		}
		w.SetStatus(404)
		w.WriteString("not found\n")
		return
	}
	if e.redirect {
		e.release()
		w.SetStatus(301)
		w.AddHeader("Location", folderLocation(fr.Path))
		return
	}
	w.addTrusted("Content-Type", e.ctype)
	w.addTrusted("Last-Modified", e.lastMod)
	w.addTrusted("ETag", e.etag)
	w.addTrusted("Accept-Ranges", "bytes")
	if notModified(e, fr) {
		e.release()
		w.SetStatus(304)
		return
	}
	off, n := int64(0), e.size
	if len(fr.Range) > 0 && ifRangeMatches(e, fr.IfRange) {
		start, end, ok, satisfiable := parseRange(fr.Range, e.size)
		switch {
		case ok && !satisfiable:
			e.release()
			w.SetStatus(416)
			w.addTrusted("Content-Range", "bytes */"+strconv.FormatInt(e.size, 10))
			return
		case ok:
			off, n = start, end-start+1
			w.SetStatus(206)
			var b [64]byte
			cr := append(b[:0], "bytes "...)
			cr = strconv.AppendInt(cr, start, 10)
			cr = append(cr, '-')
			cr = strconv.AppendInt(cr, end, 10)
			cr = append(cr, '/')
			cr = strconv.AppendInt(cr, e.size, 10)
			w.addTrustedBytes("Content-Range", cr)
		}
	}
	w.sendFile(e, off, n)
}

// folderLocation is the redirect target for a folder requested without its
// trailing slash: the path (as the client encoded it, and already checked
// by cleanPath) with one leading slash, so that "//host/dir" cannot become
// the protocol-relative "//host/dir/", an open redirect to another host.
func folderLocation(p []byte) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	loc := make([]byte, 0, len(p)+2)
	loc = append(loc, '/')
	loc = append(loc, p...)
	return string(append(loc, '/'))
}

// addTrusted adds a header the server built itself.
func (w *ResponseWriter) addTrusted(name, value string) {
	w.hdr = append(w.hdr, name...)
	w.hdr = append(w.hdr, ": "...)
	w.hdr = append(w.hdr, value...)
	w.hdr = append(w.hdr, "\r\n"...)
	if name == "Content-Type" {
		w.hasCT = true
	}
}

func (w *ResponseWriter) addTrustedBytes(name string, value []byte) {
	w.hdr = append(w.hdr, name...)
	w.hdr = append(w.hdr, ": "...)
	w.hdr = append(w.hdr, value...)
	w.hdr = append(w.hdr, "\r\n"...)
}

// cleanPath percent-decodes an absolute URL path into dst and returns it
// without its leading slash. It refuses encoded slashes and backslashes,
// backslashes, NUL and other control bytes, bad escapes, and "." or ".."
// segments; empty segments are dropped. A trailing slash is kept.
func cleanPath(dst, p []byte) ([]byte, error) {
	if len(p) == 0 || p[0] != '/' {
		return nil, errForbidden
	}
	segStart := 0
	checkSeg := func() error {
		seg := dst[segStart:]
		if string(seg) == "." || string(seg) == ".." {
			return errForbidden
		}
		return nil
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) {
				return nil, errForbidden
			}
			h, ok1 := unhex(p[i+1])
			l, ok2 := unhex(p[i+2])
			if !ok1 || !ok2 {
				return nil, errForbidden
			}
			c = h<<4 | l
			i += 2
			if c == '/' || c == '\\' {
				return nil, errForbidden
			}
		} else if c == '/' {
			if err := checkSeg(); err != nil {
				return nil, err
			}
			if len(dst) > segStart { // drop empty segments
				dst = append(dst, '/')
			}
			segStart = len(dst)
			continue
		}
		if c < 0x20 || c == 0x7f || c == '\\' {
			return nil, errForbidden
		}
		dst = append(dst, c)
	}
	if err := checkSeg(); err != nil {
		return nil, err
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// open returns the cache entry for rel with a reference held.
func (fs *FileServer) open(rel []byte) (*fileEntry, error) {
	now := time.Now().UnixNano()
	fs.mu.RLock()
	e := fs.cache[string(rel)]
	if e != nil && now-e.checked.Load() < int64(fs.revalidate) {
		e.refs.Add(1)
		fs.mu.RUnlock()
		return e, nil
	}
	fs.mu.RUnlock()
	if e != nil && fs.stillValid(e) {
		e.checked.Store(now)
		fs.mu.RLock()
		if fs.cache[string(rel)] == e {
			e.refs.Add(1)
			fs.mu.RUnlock()
			return e, nil
		}
		fs.mu.RUnlock()
	}
	ne, err := fs.load(string(rel))
	if err != nil {
		fs.mu.Lock()
		if old := fs.cache[string(rel)]; old != nil {
			delete(fs.cache, string(rel))
			old.release()
		}
		fs.mu.Unlock()
		return nil, err
	}
	ne.checked.Store(now)
	ne.refs.Store(2) // the cache's and the caller's
	fs.mu.Lock()
	if old := fs.cache[string(rel)]; old != nil {
		old.release()
	} else if len(fs.cache) >= fs.maxEntries {
		for k, v := range fs.cache {
			delete(fs.cache, k)
			v.release()
			break
		}
	}
	fs.cache[string(rel)] = ne
	fs.mu.Unlock()
	return ne, nil
}

// stillValid reports whether e still describes what its path resolves to.
func (fs *FileServer) stillValid(e *fileEntry) bool {
	if e.redirect {
		return false
	}
	st, err := os.Stat(e.name)
	if err != nil || st.Size() != e.size || !st.ModTime().Equal(e.modTime) {
		return false
	}
	cur, err := e.f.Stat()
	return err == nil && os.SameFile(st, cur)
}

// load resolves rel inside the root and opens it.
func (fs *FileServer) load(rel string) (*fileEntry, error) {
	dirWanted := strings.HasSuffix(rel, "/") || rel == ""
	name := filepath.Join(fs.root, filepath.FromSlash(rel))
	real, err := fs.resolve(name)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if !dirWanted {
			return &fileEntry{name: real, redirect: true}, nil
		}
		real, err = fs.resolve(filepath.Join(real, "index.html"))
		if err != nil {
			return nil, err
		}
	} else if dirWanted {
		return nil, os.ErrNotExist
	}
	if st, err := os.Stat(real); err != nil || !st.Mode().IsRegular() {
		return nil, os.ErrNotExist // a FIFO or device would block the open or the read
	}
	// Non-blocking: a regular file swapped for a FIFO after the check
	// cannot hang the open (reads of a regular file ignore the flag).
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err = f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, os.ErrNotExist
	}
	ctype := contentType(real)
	mt := st.ModTime()
	var data []byte
	if size := st.Size(); size <= cachedFile {
		data = make([]byte, size)
		if n, err := f.ReadAt(data, 0); int64(n) != size || (err != nil && !errors.Is(err, io.EOF)) {
			data = nil // changing as we read: read it per request until revalidated
		}
	}
	return &fileEntry{
		data:    data,
		f:       f,
		name:    real,
		size:    st.Size(),
		modTime: mt,
		etag:    `"` + strconv.FormatInt(mt.UnixNano(), 16) + "-" + strconv.FormatInt(st.Size(), 16) + `"`,
		lastMod: mt.UTC().Format(httpTime),
		ctype:   ctype,
	}, nil
}

// resolve follows symbolic links in name and checks that the result stays
// under the root.
func (fs *FileServer) resolve(name string) (string, error) {
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return "", err
	}
	if real != fs.root && !strings.HasPrefix(real, fs.root+string(filepath.Separator)) {
		return "", errForbidden
	}
	return real, nil
}

const httpTime = "Mon, 02 Jan 2006 15:04:05 GMT"

// notModified evaluates If-None-Match, or else If-Modified-Since.
func notModified(e *fileEntry, fr FileRequest) bool {
	if len(fr.IfNoneMatch) > 0 {
		return etagListMatch(fr.IfNoneMatch, e.etag)
	}
	if len(fr.IfModifiedSince) > 0 {
		if string(fr.IfModifiedSince) == e.lastMod {
			return true
		}
		t, err := parseHTTPTime(string(fr.IfModifiedSince))
		return err == nil && !e.modTime.Truncate(time.Second).After(t)
	}
	return false
}

// parseHTTPTime parses an HTTP date in any of the three forms RFC 9110
// 5.6.7 has recipients accept: IMF-fixdate, and the obsolete RFC 850 and
// asctime forms.
func parseHTTPTime(v string) (time.Time, error) {
	var t time.Time
	var err error
	for _, layout := range []string{httpTime, time.RFC850, time.ANSIC} {
		if t, err = time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return t, err
}

// etagListMatch applies the weak comparison of RFC 9110 13.1.2.
func etagListMatch(list []byte, etag string) bool {
	for len(list) > 0 {
		var tok []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			tok, list = list[:i], list[i+1:]
		} else {
			tok, list = list, nil
		}
		tok = bytes.TrimSpace(tok)
		tok = bytes.TrimPrefix(tok, []byte("W/"))
		if string(tok) == "*" || string(tok) == etag {
			return true
		}
	}
	return false
}

// ifRangeMatches reports whether a Range may be honoured given If-Range.
func ifRangeMatches(e *fileEntry, ifRange []byte) bool {
	if len(ifRange) == 0 {
		return true
	}
	if ifRange[0] == '"' {
		return string(ifRange) == e.etag
	}
	return string(ifRange) == e.lastMod
}

// parseRange parses a single "bytes=" range against size. ok is false for
// a header to ignore (syntax errors, several ranges, other units); then the
// whole file is sent.
func parseRange(v []byte, size int64) (start, end int64, ok, satisfiable bool) {
	const unit = "bytes=" // the unit is case-insensitive (RFC 9110 14.1)
	if len(v) < len(unit) || !bytes.EqualFold(v[:len(unit)], []byte(unit)) {
		return 0, 0, false, false
	}
	spec := v[len(unit):]
	if bytes.IndexByte(spec, ',') >= 0 {
		return 0, 0, false, false
	}
	spec = bytes.TrimSpace(spec)
	dash := bytes.IndexByte(spec, '-')
	if dash < 0 {
		return 0, 0, false, false
	}
	first, last := spec[:dash], spec[dash+1:]
	if len(first) == 0 {
		n, good := parseLength(last)
		if !good {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		return max(size-n, 0), size - 1, true, true
	}
	s, good := parseLength(first)
	if !good {
		return 0, 0, false, false
	}
	e := size - 1
	if len(last) > 0 {
		l, good := parseLength(last)
		if !good || l < s {
			return 0, 0, false, false
		}
		e = min(l, size-1)
	}
	if s >= size {
		return 0, 0, true, false
	}
	return s, e, true, true
}

// contentType picks a MIME type by extension: a small built-in table first,
// then the system's table, then application/octet-stream.
func contentType(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	switch ext {
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".ico":
		return "image/x-icon"
	case ".wasm":
		return "application/wasm"
	case ".pdf":
		return "application/pdf"
	case ".xml":
		return "application/xml"
	case ".woff2":
		return "font/woff2"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
