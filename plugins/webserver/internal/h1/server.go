package h1

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Handler answers HTTP requests.
//
// ServeH1 is called on the connection's goroutine, one request at a time
// per connection. It either answers inline (sets the response on w and
// returns) or calls w.Detach and answers later with w.Finish; see
// ResponseWriter. r and everything it references are valid only until
// ServeH1 returns. A panic in ServeH1 is recovered: the request gets a 500
// and the connection closes.
type Handler interface {
	ServeH1(w *ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeH1 calls f(w, r).
func (f HandlerFunc) ServeH1(w *ResponseWriter, r *Request) { f(w, r) }

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("h1: server closed")

// Defaults for the zero values of Server's fields.
const (
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxHeaders     = 100
	DefaultMaxBodyBytes   = 1 << 20
	DefaultReadTimeout    = 30 * time.Second
	DefaultIdleTimeout    = 120 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
)

// Server serves HTTP/1.x on the listeners given to Serve. The zero value
// serves with the defaults above; set fields before the first Serve and do
// not change them after.
type Server struct {
	// Handler answers every request. It must be set.
	Handler Handler
	// MaxHeaderBytes bounds the request line plus header fields (and a
	// chunked body's trailers); past it the answer is 431. Zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of header fields (431 past it). Zero
	// means DefaultMaxHeaders.
	MaxHeaders int
	// MaxBodyBytes bounds a request body (413 past it). Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ReadTimeout bounds reading one request, from its first byte to the
	// end of its body. Zero means DefaultReadTimeout.
	ReadTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the client, of an answer's bytes up
	// to a MiB at a time: a client that keeps reading is not cut off. Zero
	// means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger receives handler panics and accept errors; nil discards them.
	Logger *slog.Logger

	once     sync.Once
	cfg      config
	shutdown atomic.Bool
	closed   chan struct{} // closed when connections must end now
	closeMu  sync.Once
	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*conn]struct{}
	wg       sync.WaitGroup // connection goroutines
	date     atomic.Pointer[dateLine]
	connPool sync.Pool
	wPool    sync.Pool
	bufPool  sync.Pool // *bufHolder of initialReadBuf bytes
}

// bufHolder carries a pooled buffer (a pointer, so that pooling does not
// allocate).
type bufHolder struct{ b []byte }

func (s *Server) getBuf() *bufHolder {
	if h, ok := s.bufPool.Get().(*bufHolder); ok {
		return h
	}
	return &bufHolder{b: make([]byte, 0, initialReadBuf)}
}

func (s *Server) putBuf(h *bufHolder) {
	if cap(h.b) != initialReadBuf {
		h.b = make([]byte, 0, initialReadBuf) // a grown write buffer: let it go
	}
	s.bufPool.Put(h)
}

// config is the Server's settings with defaults applied.
type config struct {
	lim          limits
	maxBody      int64
	maxBuf       int
	readTimeout  time.Duration
	idleTimeout  time.Duration
	writeTimeout time.Duration
}

func (s *Server) init() {
	s.once.Do(func() {
		c := config{
			lim:          limits{maxHeaderBytes: s.MaxHeaderBytes, maxHeaders: s.MaxHeaders},
			maxBody:      s.MaxBodyBytes,
			readTimeout:  s.ReadTimeout,
			idleTimeout:  s.IdleTimeout,
			writeTimeout: s.WriteTimeout,
		}
		if c.lim.maxHeaderBytes <= 0 {
			c.lim.maxHeaderBytes = DefaultMaxHeaderBytes
		}
		if c.lim.maxHeaders <= 0 {
			c.lim.maxHeaders = DefaultMaxHeaders
		}
		if c.maxBody <= 0 {
			c.maxBody = DefaultMaxBodyBytes
		}
		if c.readTimeout <= 0 {
			c.readTimeout = DefaultReadTimeout
		}
		if c.idleTimeout <= 0 {
			c.idleTimeout = DefaultIdleTimeout
		}
		if c.writeTimeout <= 0 {
			c.writeTimeout = DefaultWriteTimeout
		}
		// A chunked body may carry framing overhead on top of its data.
		c.maxBuf = c.lim.maxHeaderBytes + int(2*c.maxBody) + 4096
		s.cfg = c
		s.closed = make(chan struct{})
		s.lns = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
	})
}

// Serve accepts connections on ln and serves them, each on its own
// goroutine, until Shutdown or Close; it then returns ErrServerClosed.
// Accept errors are retried with a backoff of up to a second; only a
// listener closed from elsewhere (an error matching net.ErrClosed) ends
// Serve early, with that error. Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	if s.Handler == nil {
		panic("h1: Server.Handler is nil")
	}
	s.init()
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err // closed by someone else: nothing more to accept
			}
			// Anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED,
			// timeouts) may pass: retry with a capped backoff, as net/http
			// does, rather than stop serving for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if s.Logger != nil {
				s.Logger.Warn("h1: accept failed, retrying", "err", err, "backoff", backoff)
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.closed:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		c := s.newConn(nc)
		s.mu.Lock()
		if s.shutdown.Load() {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops the server gracefully: it closes the listeners, closes
// connections as soon as they are idle, lets requests in progress (detached
// ones included) finish, and returns when every connection has ended. When
// ctx ends first it closes the remaining connections and returns ctx's
// error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.beginShutdown()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		for c := range s.conns {
			c.pokeIfIdle()
		}
		s.mu.Unlock()
		if n == 0 {
			s.wg.Wait()
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops the server at once: listeners and connections are closed,
// and Close waits for the connection goroutines to end. Detached handlers
// may still call Finish afterwards; their responses are discarded.
func (s *Server) Close() error {
	s.init()
	s.beginShutdown()
	s.closeMu.Do(func() { close(s.closed) })
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) beginShutdown() {
	s.mu.Lock()
	s.shutdown.Store(true)
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// dateLine is the cached "Date: ...\r\n" line of one second.
type dateLine struct {
	sec  int64
	line []byte
}

// dateBytes returns the Date header line for now, formatting it at most
// once per second.
func (s *Server) dateBytes(now time.Time) []byte {
	sec := now.Unix()
	if d := s.date.Load(); d != nil && d.sec == sec {
		return d.line
	}
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
	b = append(b, "\r\n"...)
	s.date.Store(&dateLine{sec: sec, line: b})
	return b
}

func (s *Server) getWriter() *ResponseWriter {
	if w, ok := s.wPool.Get().(*ResponseWriter); ok {
		return w
	}
	return new(ResponseWriter)
}

func (s *Server) putWriter(w *ResponseWriter) {
	w.c = nil
	if cap(w.body) > 64<<10 || cap(w.out) > 64<<10 {
		return // let oversized buffers go
	}
	s.wPool.Put(w)
}
