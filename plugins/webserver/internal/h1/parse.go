package h1

import (
	"bytes"
	"errors"
)

// errNeedMore means the buffer holds only part of what is being parsed.
var errNeedMore = errors.New("h1: need more data")

// statusError is a request the server refuses with Status before closing.
type statusError struct {
	Status int
	Reason string
}

func (e *statusError) Error() string { return "h1: " + e.Reason }

var (
	errBadRequestLine = &statusError{400, "malformed request line"}
	errBadMethod      = &statusError{400, "malformed method"}
	errBadTarget      = &statusError{400, "malformed request target"}
	errBadVersion     = &statusError{400, "malformed protocol version"}
	errVersion        = &statusError{505, "unsupported protocol version"}
	errBadHeader      = &statusError{400, "malformed header field"}
	errObsFold        = &statusError{400, "obsolete header line folding"}
	errHeaderTooLarge = &statusError{431, "request header fields too large"}
	errURITooLong     = &statusError{414, "request target too long"}
	errTooManyHeaders = &statusError{431, "too many header fields"}
	errBadLength      = &statusError{400, "malformed or conflicting Content-Length"}
	errBadTE          = &statusError{400, "malformed Transfer-Encoding"}
	errTEUnsupported  = &statusError{501, "unsupported Transfer-Encoding"}
	errLengthAndTE    = &statusError{400, "both Content-Length and Transfer-Encoding"}
	errNoHost         = &statusError{400, "missing or repeated Host header"}
	errExpect         = &statusError{417, "unsupported Expect"}
	errBodyTooLarge   = &statusError{413, "request body too large"}
	errBadChunk       = &statusError{400, "malformed chunked body"}
)

// tchar marks the token characters of RFC 9110 section 5.6.2.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// limits bounds what the parser accepts.
type limits struct {
	maxHeaderBytes int
	maxHeaders     int
}

// parseHead parses the request line and header fields at the start of buf
// into r. It returns the number of bytes the head occupies (including the
// blank line). It returns errNeedMore when buf holds an incomplete head
// that is still within the limits, and a *statusError for a request that
// must be refused. parseHead does not allocate once r.Headers has grown to
// the connection's usual header count.
func parseHead(r *Request, buf []byte, lim limits) (int, error) {
	r.reset()
	i := 0
	// RFC 9112 2.2: ignore empty lines before the request line.
	for i < len(buf) && (buf[i] == '\r' || buf[i] == '\n') {
		i++
		if i > lim.maxHeaderBytes {
			return 0, errHeaderTooLarge
		}
	}
	start := i
	end := start + lim.maxHeaderBytes // the head must end before this
	line, next, err := nextLine(buf, i, end)
	if err == errHeaderTooLarge {
		return 0, errURITooLong // the request line alone fills the head's limit
	}
	if err != nil {
		return 0, err
	}
	if err := parseRequestLine(r, line); err != nil {
		return 0, err
	}
	i = next
	var haveLength, haveTE, haveHost bool
	conClose, conKeep := false, false
	for {
		line, next, err := nextLine(buf, i, end)
		if err != nil {
			return 0, err
		}
		i = next
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, errObsFold
		}
		colon := 0
		for colon < len(line) && tchar[line[colon]] {
			colon++
		}
		if colon == 0 || colon == len(line) || line[colon] != ':' {
			return 0, errBadHeader
		}
		name := line[:colon]
		v := line[colon+1:]
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		for _, c := range v {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return 0, errBadHeader
			}
		}
		if len(r.Headers) >= lim.maxHeaders {
			return 0, errTooManyHeaders
		}
		r.Headers = append(r.Headers, Header{Name: name, Value: v})
		switch len(name) {
		case 4:
			if equalFold(name, "host") {
				if haveHost {
					return 0, errNoHost
				}
				haveHost = true
				r.host = v
			}
		case 6:
			if equalFold(name, "expect") {
				if !equalFold(v, "100-continue") {
					return 0, errExpect
				}
				r.expect = true
			}
		case 10:
			if equalFold(name, "connection") {
				c, k := connectionTokens(v)
				conClose = conClose || c
				conKeep = conKeep || k
			}
		case 14:
			if equalFold(name, "content-length") {
				n, ok := parseLength(v)
				if !ok || (haveLength && n != r.contentLength) {
					return 0, errBadLength
				}
				haveLength = true
				r.contentLength = n
			}
		case 17:
			if equalFold(name, "transfer-encoding") {
				if haveTE || r.Minor == 0 {
					return 0, errBadTE
				}
				haveTE = true
				if !equalFold(v, "chunked") {
					return 0, errTEUnsupported
				}
				r.chunked = true
			}
		}
	}
	if haveLength && haveTE {
		return 0, errLengthAndTE
	}
	if r.Minor >= 1 && !haveHost {
		return 0, errNoHost
	}
	if r.Minor == 0 {
		r.keepAlive = conKeep && !conClose
		r.expect = false
	} else {
		r.keepAlive = !conClose
	}
	return i, nil
}

// nextLine returns the line starting at buf[i] without its line ending, and
// the index just past that ending. A line ends in CRLF or a bare LF; a CR
// anywhere else is an error. Lines must end before buf[end].
func nextLine(buf []byte, i, end int) (line []byte, next int, err error) {
	lim := buf[i:]
	if len(buf) > end {
		lim = buf[i:end]
	}
	nl := bytes.IndexByte(lim, '\n')
	if nl < 0 {
		if len(buf) >= end {
			return nil, 0, errHeaderTooLarge
		}
		return nil, 0, errNeedMore
	}
	line = lim[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, errBadHeader
	}
	return line, i + nl + 1, nil
}

// parseRequestLine parses "METHOD SP target SP HTTP/d.d".
func parseRequestLine(r *Request, line []byte) error {
	m := 0
	for m < len(line) && tchar[line[m]] {
		m++
	}
	if m == 0 || m == len(line) || line[m] != ' ' {
		return errBadMethod
	}
	r.Method = line[:m]
	rest := line[m+1:]
	t := 0
	for t < len(rest) && rest[t] > ' ' && rest[t] < 0x7f {
		t++
	}
	if t == 0 || t == len(rest) || rest[t] != ' ' {
		if t < len(rest) && rest[t] != ' ' {
			return errBadTarget
		}
		return errBadRequestLine
	}
	r.Target = rest[:t]
	switch c := r.Target[0]; {
	case c == '/':
	case c == '*' && len(r.Target) == 1:
	case bytes.HasPrefix(r.Target, []byte("http://")) || bytes.HasPrefix(r.Target, []byte("https://")):
	default:
		return errBadTarget
	}
	r.Path, r.Query = splitTarget(r.Target)
	v := rest[t+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return errBadVersion
	}
	if v[5] != '1' {
		return errVersion
	}
	r.Minor = int(v[7] - '0')
	if r.Minor > 1 {
		r.Minor = 1 // RFC 9110 2.5: treat a higher minor as the highest we speak
	}
	return nil
}

// connectionTokens reports whether a Connection value lists close and
// keep-alive.
func connectionTokens(v []byte) (closeTok, keepTok bool) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		tok = bytes.TrimSpace(tok)
		switch {
		case equalFold(tok, "close"):
			closeTok = true
		case equalFold(tok, "keep-alive"):
			keepTok = true
		}
	}
	return closeTok, keepTok
}

// parseLength parses a Content-Length value: 1 to 18 decimal digits.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// chunkDecoder decodes a chunked body incrementally: feed it the buffered
// bytes after the head as they grow; it remembers how far it got.
type chunkDecoder struct {
	pos  int    // offset in src of the next unparsed chunk header
	body []byte // decoded data so far
}

func (d *chunkDecoder) reset() {
	d.pos = 0
	d.body = d.body[:0]
}

// decode continues decoding src (the bytes after the head; src grows
// between calls, and its prefix never changes but for the decoded chunks
// of src[:pos], which the caller may drop, setting pos to 0). It returns
// the number of bytes of src the rest of the chunked body occupies once
// complete, errNeedMore while incomplete, or a *statusError. Chunk extensions and trailer fields
// are validated for form and discarded.
func (d *chunkDecoder) decode(src []byte, maxBody int64, lim limits) (int, error) {
	for {
		line, next, err := chunkLine(src, d.pos, lim.maxHeaderBytes)
		if err != nil {
			return 0, err
		}
		if semi := bytes.IndexByte(line, ';'); semi >= 0 {
			for _, c := range line[semi:] {
				if (c < 0x20 && c != '\t') || c == 0x7f {
					return 0, errBadChunk
				}
			}
			line = line[:semi]
		}
		line = bytes.TrimRight(line, " \t")
		if len(line) == 0 || len(line) > 15 {
			return 0, errBadChunk
		}
		var size int64
		for _, c := range line {
			var v byte
			switch {
			case '0' <= c && c <= '9':
				v = c - '0'
			case 'a' <= c && c <= 'f':
				v = c - 'a' + 10
			case 'A' <= c && c <= 'F':
				v = c - 'A' + 10
			default:
				return 0, errBadChunk
			}
			size = size<<4 | int64(v)
		}
		if size == 0 {
			// trailer section: header lines up to an empty line, discarded
			i := next
			for {
				tl, tn, err := chunkLine(src, i, lim.maxHeaderBytes)
				if err != nil {
					return 0, err
				}
				i = tn
				if len(tl) == 0 {
					return i, nil
				}
				colon := 0
				for colon < len(tl) && tchar[tl[colon]] {
					colon++
				}
				if colon == 0 || colon == len(tl) || tl[colon] != ':' {
					return 0, errBadChunk
				}
				if i-next > lim.maxHeaderBytes {
					return 0, errHeaderTooLarge
				}
			}
		}
		if int64(len(d.body))+size > maxBody {
			return 0, errBodyTooLarge
		}
		dataEnd := int64(next) + size
		if int64(len(src)) < dataEnd+2 {
			if int64(len(src)) >= dataEnd+1 && src[dataEnd] != '\r' && src[dataEnd] != '\n' {
				return 0, errBadChunk
			}
			return 0, errNeedMore
		}
		n := int(dataEnd)
		switch {
		case src[n] == '\r' && src[n+1] == '\n':
			n += 2
		case src[n] == '\n':
			n++
		default:
			return 0, errBadChunk
		}
		d.body = append(d.body, src[next:dataEnd]...)
		d.pos = n
	}
}

// chunkLine is nextLine for chunk headers and trailers, bounded to max bytes.
func chunkLine(src []byte, i, max int) ([]byte, int, error) {
	line, next, err := nextLine(src, i, i+max)
	if err == errHeaderTooLarge {
		return nil, 0, errBadChunk
	}
	return line, next, err
}
