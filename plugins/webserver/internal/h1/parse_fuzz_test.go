package h1

import (
	"bytes"
	"testing"
)

// FuzzRequestParse checks that the head parser never panics, never reads
// past what it reports, and that a head it accepts, written out again,
// parses to the same request.
func FuzzRequestParse(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a?b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"\r\n\r\nOPTIONS * HTTP/1.1\nHost: x\n\n",
		"GET http://h/p?q HTTP/1.1\r\nHost: h\r\nConnection: close, TE\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX:  spaced value \t\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n a\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	lim := limits{maxHeaderBytes: 4096, maxHeaders: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		n, err := parseHead(&r, data, lim)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("n=%d out of range for %d bytes", n, len(data))
		}
		// Write the head out again and parse it: same request.
		var b bytes.Buffer
		b.Write(r.Method)
		b.WriteByte(' ')
		b.Write(r.Target)
		b.WriteString(" HTTP/1.")
		b.WriteByte(byte('0' + r.Minor))
		b.WriteString("\r\n")
		for _, h := range r.Headers {
			b.Write(h.Name)
			b.WriteString(": ")
			b.Write(h.Value)
			b.WriteString("\r\n")
		}
		b.WriteString("\r\n")
		var r2 Request
		n2, err := parseHead(&r2, b.Bytes(), limits{maxHeaderBytes: 1 << 20, maxHeaders: 64})
		if err != nil || n2 != b.Len() {
			t.Fatalf("reparse of %q: n=%d err=%v", b.Bytes(), n2, err)
		}
		if !bytes.Equal(r.Method, r2.Method) || !bytes.Equal(r.Target, r2.Target) ||
			!bytes.Equal(r.Path, r2.Path) || !bytes.Equal(r.Query, r2.Query) || r.Minor != r2.Minor ||
			r.keepAlive != r2.keepAlive || r.chunked != r2.chunked ||
			r.contentLength != r2.contentLength || r.expect != r2.expect || !bytes.Equal(r.host, r2.host) {
			t.Fatalf("reparse differs:\n%+v\n%+v", r, r2)
		}
		if len(r.Headers) != len(r2.Headers) {
			t.Fatalf("got %d headers, want %d", len(r2.Headers), len(r.Headers))
		}
		for i := range r.Headers {
			if !bytes.Equal(r.Headers[i].Name, r2.Headers[i].Name) || !bytes.Equal(r.Headers[i].Value, r2.Headers[i].Value) {
				t.Fatalf("header %d: got %q: %q, want %q: %q", i, r2.Headers[i].Name, r2.Headers[i].Value, r.Headers[i].Name, r.Headers[i].Value)
			}
		}
	})
}

// FuzzChunkedDecode checks that the chunked decoder never panics and gives
// the same body whether the input arrives at once or byte by byte, and
// byte by byte with the decoded chunks dropped between calls, as the
// connection drops them (conn.dropDecoded).
func FuzzChunkedDecode(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n"))
	f.Add([]byte("fffffffffffffff\r\n"))
	f.Add([]byte("1\nx\n0\n\n"))
	lim := limits{maxHeaderBytes: 1024, maxHeaders: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		var whole chunkDecoder
		n, err := whole.decode(data, 1<<16, lim)
		if err == nil && (n <= 0 || n > len(data)) {
			t.Fatalf("n=%d out of range for %d bytes", n, len(data))
		}
		var inc chunkDecoder
		var n2 int
		var err2 error = errNeedMore
		for i := 0; i <= len(data) && err2 == errNeedMore; i++ {
			n2, err2 = inc.decode(data[:i], 1<<16, lim)
		}
		if (err == nil) != (err2 == nil) {
			t.Fatalf("whole: %d %v; incremental: %d %v", n, err, n2, err2)
		}
		if err == nil && (n != n2 || !bytes.Equal(whole.body, inc.body)) {
			t.Fatalf("whole: %d %q; incremental: %d %q", n, whole.body, n2, inc.body)
		}
		var drop chunkDecoder
		var n3, dropped int
		var err3 error = errNeedMore
		for i := 0; i <= len(data) && err3 == errNeedMore; i++ {
			n3, err3 = drop.decode(data[dropped:i], 1<<16, lim)
			if err3 == errNeedMore {
				dropped += drop.pos
				drop.pos = 0
			}
		}
		if (err == nil) != (err3 == nil) {
			t.Fatalf("whole: %d %v; dropping: %d+%d %v", n, err, dropped, n3, err3)
		}
		if err == nil && (n != dropped+n3 || !bytes.Equal(whole.body, drop.body)) {
			t.Fatalf("whole: %d %q; dropping: %d+%d %q", n, whole.body, dropped, n3, drop.body)
		}
	})
}
