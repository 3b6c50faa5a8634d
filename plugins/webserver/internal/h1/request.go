package h1

import (
	"bytes"
	"net"
)

// Header is one request header field as it appeared on the wire. Name and
// Value alias the connection's read buffer.
type Header struct {
	Name  []byte
	Value []byte
}

// Request is one parsed HTTP/1.x request.
//
// Every byte slice in a Request aliases the connection's read buffer, and
// the Request itself is reused for the next request on the connection: a
// Request and everything reachable from it is valid only until ServeH1
// returns. A handler that answers later (see ResponseWriter.Detach) copies
// what it needs first, for example with Clone.
type Request struct {
	// Method is the request method, e.g. "GET".
	Method []byte
	// Target is the request-target exactly as sent, e.g. "/a/b?x=1".
	Target []byte
	// Path is the path part of Target (still percent-encoded); for an
	// absolute-form target it is the path after the authority.
	Path []byte
	// Query is the part of Target after the first '?', without it.
	Query []byte
	// Minor is the minor protocol version: 0 for HTTP/1.0, 1 for HTTP/1.1.
	Minor int
	// Headers holds the header fields in wire order.
	Headers []Header
	// Body is the complete request body, already de-chunked; nil if none.
	Body []byte
	// RemoteAddr is the peer's address.
	RemoteAddr net.Addr

	host          []byte
	contentLength int64 // -1 when absent
	chunked       bool
	keepAlive     bool
	expect        bool // Expect: 100-continue
}

// reset prepares r for parsing the next request, keeping its header slice.
func (r *Request) reset() {
	clear(r.Headers) // they point into the read buffer, which must be free to go
	hs := r.Headers[:0]
	addr := r.RemoteAddr
	*r = Request{Headers: hs, RemoteAddr: addr, contentLength: -1}
}

// Header returns the value of the first header field named name (compared
// case-insensitively), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// Host returns the Host header's value.
func (r *Request) Host() []byte { return r.host }

// ContentLength returns the declared Content-Length, or -1 when the request
// had none (no body, or a chunked body).
func (r *Request) ContentLength() int64 { return r.contentLength }

// KeepAlive reports whether the connection stays open after this request:
// the default for HTTP/1.1 unless "Connection: close", and for HTTP/1.0 only
// with "Connection: keep-alive".
func (r *Request) KeepAlive() bool { return r.keepAlive }

// IsHead reports whether the method is HEAD.
func (r *Request) IsHead() bool { return string(r.Method) == "HEAD" }

// Clone returns a deep copy of r that stays valid after ServeH1 returns.
// It allocates; use it only on paths that answer asynchronously.
func (r *Request) Clone() *Request {
	n := len(r.Method) + len(r.Target) + len(r.Body) + len(r.host)
	for _, h := range r.Headers {
		n += len(h.Name) + len(h.Value)
	}
	buf := make([]byte, 0, n)
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	c := *r
	c.Method = cp(r.Method)
	c.Target = cp(r.Target)
	c.Body = cp(r.Body)
	c.host = cp(r.host)
	c.Path, c.Query = splitTarget(c.Target)
	c.Headers = make([]Header, len(r.Headers))
	for i, h := range r.Headers {
		c.Headers[i] = Header{Name: cp(h.Name), Value: cp(h.Value)}
	}
	return &c
}

// equalFold reports whether the ASCII token b equals s ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// splitTarget returns the path and query of a request-target in origin,
// absolute or asterisk form.
func splitTarget(t []byte) (path, query []byte) {
	if len(t) > 0 && t[0] != '/' && t[0] != '*' {
		// absolute-form: scheme "://" authority path
		if i := bytes.Index(t, []byte("://")); i >= 0 {
			rest := t[i+3:]
			j := bytes.IndexAny(rest, "/?")
			if j < 0 {
				return []byte("/"), nil
			}
			t = rest[j:]
			if t[0] == '?' {
				return []byte("/"), t[1:]
			}
		}
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}
