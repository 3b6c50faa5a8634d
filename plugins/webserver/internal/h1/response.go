package h1

import (
	"strconv"
	"sync/atomic"
	"time"
)

// smallFile is the size up to which a file body is read into the write
// buffer (one pread, batched with neighbouring responses) instead of being
// sent with sendfile after a flush.
const smallFile = 16 << 10

// ResponseWriter builds the response to one request.
//
// A handler either answers inline, by setting the status, headers and body
// before ServeH1 returns, or calls Detach before returning and then Finish
// exactly once, later, from any goroutine. Between Detach and Finish the
// writer belongs to the handler: only one goroutine at a time may call its
// methods. After Finish (or, inline, after ServeH1 returns) the writer must
// not be touched again; the server reuses it.
//
// Responses on a connection are written in request order whatever order
// detached handlers finish in. The server adds Server, Date and
// Content-Length, and Connection when the connection closes or an HTTP/1.0
// client asked for keep-alive; headers that frame the message
// (Content-Length, Transfer-Encoding, Connection) set by the handler are
// dropped.
type ResponseWriter struct {
	c      *conn
	status int
	hdr    []byte // "Name: value\r\n" lines
	body   []byte
	out    []byte // serialized response of a detached or queued writer

	file    *fileEntry // body from a file, after hdr
	fileOff int64
	fileLen int64

	minor     int
	head      bool // HEAD request: headers only
	close     bool // close the connection after this response
	hasCT     bool
	hasServer bool

	detached bool
	finished atomic.Bool
	inServe  atomic.Bool // ServeH1 is running: date is current
	date     []byte      // the Date line when ServeH1 was called
	// guarded by c.mu
	done   bool
	queued bool
	next   *ResponseWriter
}

// reset readies w for a request on c.
func (w *ResponseWriter) reset(c *conn, r *Request, closeAfter bool) {
	w.c = c
	w.status = 200
	w.hdr = w.hdr[:0]
	w.body = w.body[:0]
	w.out = w.out[:0]
	w.file, w.fileOff, w.fileLen = nil, 0, 0
	w.minor = r.Minor
	w.head = r.IsHead()
	w.close = closeAfter
	w.hasCT, w.hasServer = false, false
	w.detached = false
	w.finished.Store(false)
	w.done, w.queued, w.next = false, false, nil
}

// SetStatus sets the status code (default 200).
func (w *ResponseWriter) SetStatus(code int) {
	if code < 100 || code > 999 {
		code = 500
	}
	w.status = code
}

// Status returns the status code set so far.
func (w *ResponseWriter) Status() int { return w.status }

// AddHeader adds a header field. Line breaks and other control bytes in the
// value are replaced with spaces, and a name that is not a token is
// dropped, so a header can never split the response.
func (w *ResponseWriter) AddHeader(name, value string) {
	if name == "" {
		return
	}
	for i := 0; i < len(name); i++ {
		if !tchar[name[i]] {
			return
		}
	}
	switch len(name) {
	case 6:
		if equalFold([]byte(name), "server") {
			w.hasServer = true
		}
	case 10:
		if equalFold([]byte(name), "connection") {
			return
		}
	case 12:
		if equalFold([]byte(name), "content-type") {
			w.hasCT = true
		}
	case 14:
		if equalFold([]byte(name), "content-length") {
			return
		}
	case 17:
		if equalFold([]byte(name), "transfer-encoding") {
			return
		}
	}
	w.hdr = append(w.hdr, name...)
	w.hdr = append(w.hdr, ": "...)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			c = ' '
		}
		w.hdr = append(w.hdr, c)
	}
	w.hdr = append(w.hdr, "\r\n"...)
}

// Write appends p to the body. It never fails.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteString appends s to the body. It never fails.
func (w *ResponseWriter) WriteString(s string) (int, error) {
	w.body = append(w.body, s...)
	return len(s), nil
}

// Close asks for the connection to be closed after this response.
func (w *ResponseWriter) Close() { w.close = true }

// Detach tells the server that the handler will answer after ServeH1
// returns, by calling Finish exactly once from any goroutine. Call it only
// from within ServeH1. The Request must not be used after ServeH1 returns.
func (w *ResponseWriter) Detach() { w.detached = true }

// Finish completes a detached response; the writer must not be used after.
// It panics when called twice or without Detach. It does not wait for the
// client: what the socket does not take at once is written by a goroutine
// of the connection's.
func (w *ResponseWriter) Finish() {
	if !w.detached {
		panic("h1: Finish called without Detach")
	}
	if !w.finished.CompareAndSwap(false, true) {
		panic("h1: ResponseWriter finished twice")
	}
	c := w.c
	if c.srv.shutdown.Load() {
		w.close = true
	}
	date := w.date
	if !w.inServe.Load() {
		date = c.srv.dateBytes(time.Now())
	}
	w.out = w.appendResponse(w.out[:0], date)
	c.mu.Lock()
	w.done = true
	if w.queued && c.head == w {
		c.drainLocked(true)
	}
	c.mu.Unlock()
}

// sendFile makes the byte range [off, off+n) of e the body; the writer
// takes over the caller's reference to e.
func (w *ResponseWriter) sendFile(e *fileEntry, off, n int64) {
	w.file, w.fileOff, w.fileLen = e, off, n
}

// appendResponse serializes the status line, headers and body (or, for a
// large file, everything but the file's bytes) to dst.
func (w *ResponseWriter) appendResponse(dst, date []byte) []byte {
	s := w.status
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendStatus(dst, s)
	if !w.hasServer {
		dst = append(dst, "Server: mtnode\r\n"...)
	}
	dst = append(dst, date...)
	noBody := s < 200 || s == 204 || s == 304
	if w.file == nil && !w.hasCT && len(w.body) > 0 {
		dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\n"...)
	}
	dst = append(dst, w.hdr...)
	if !noBody {
		n := int64(len(w.body))
		if w.file != nil {
			n = w.fileLen
		}
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, n, 10)
		dst = append(dst, "\r\n"...)
	}
	if w.close {
		dst = append(dst, "Connection: close\r\n"...)
	} else if w.minor == 0 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if noBody || w.head {
		w.dropFile()
		return dst
	}
	if w.file != nil {
		if d := w.file.data; d != nil {
			dst = append(dst, d[w.fileOff:w.fileOff+w.fileLen]...)
			w.dropFile()
		} else if w.fileLen <= smallFile {
			l := len(dst)
			dst = grow(dst, int(w.fileLen))
			n, _ := w.file.f.ReadAt(dst[l:l+int(w.fileLen)], w.fileOff)
			if int64(n) != w.fileLen {
				// The file shrank since it was opened. The length is already
				// promised: send the bytes that are real, never the rest of
				// a reused buffer, and close, so that the client sees a
				// short body rather than another response's bytes.
				dst = dst[:l+n]
				w.close = true
			}
			w.dropFile()
		}
		return dst
	}
	return append(dst, w.body...)
}

func (w *ResponseWriter) dropFile() {
	if w.file != nil {
		w.file.release()
		w.file = nil
	}
}

// grow extends b by n bytes of length.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func appendStatus(dst []byte, code int) []byte {
	if code == 200 {
		return append(dst, "200 OK\r\n"...)
	}
	if t, ok := statusLines[code]; ok {
		return append(dst, t...)
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	return append(dst, " Status\r\n"...)
}

// statusLines maps a code to the rest of its status line.
var statusLines = map[int]string{
	100: "100 Continue\r\n",
	200: "200 OK\r\n",
	201: "201 Created\r\n",
	202: "202 Accepted\r\n",
	204: "204 No Content\r\n",
	206: "206 Partial Content\r\n",
	301: "301 Moved Permanently\r\n",
	302: "302 Found\r\n",
	303: "303 See Other\r\n",
	304: "304 Not Modified\r\n",
	307: "307 Temporary Redirect\r\n",
	308: "308 Permanent Redirect\r\n",
	400: "400 Bad Request\r\n",
	401: "401 Unauthorized\r\n",
	403: "403 Forbidden\r\n",
	404: "404 Not Found\r\n",
	405: "405 Method Not Allowed\r\n",
	408: "408 Request Timeout\r\n",
	411: "411 Length Required\r\n",
	412: "412 Precondition Failed\r\n",
	413: "413 Content Too Large\r\n",
	414: "414 URI Too Long\r\n",
	416: "416 Range Not Satisfiable\r\n",
	417: "417 Expectation Failed\r\n",
	429: "429 Too Many Requests\r\n",
	431: "431 Request Header Fields Too Large\r\n",
	500: "500 Internal Server Error\r\n",
	501: "501 Not Implemented\r\n",
	502: "502 Bad Gateway\r\n",
	503: "503 Service Unavailable\r\n",
	504: "504 Gateway Timeout\r\n",
	505: "505 HTTP Version Not Supported\r\n",
}
