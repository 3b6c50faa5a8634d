package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/pwhash"
)

// Defaults for the zero fields of [Config].
const (
	DefaultName           = "mtnode"
	DefaultMaxSessions    = 8
	DefaultIdleTimeout    = 15 * time.Minute
	DefaultCommandTimeout = 10 * time.Second
	DefaultMaxLineLength  = 1024
	DefaultHistorySize    = 100
	DefaultWriteTimeout   = 10 * time.Second
	DefaultLoginTimeout   = time.Minute
	DefaultLoginFailDelay = time.Second
)

// ErrServerClosed is returned by [Server.Serve] after [Server.Close].
var ErrServerClosed = errors.New("console: server closed")

// Config configures a [Server]. The zero value is valid: each zero field
// takes the default named beside it.
type Config struct {
	Name           string        // node name shown in the prompt; DefaultName
	PasswordHash   string        // a pwhash string; empty asks for no password
	MaxSessions    int           // concurrent sessions; DefaultMaxSessions
	IdleTimeout    time.Duration // a session with no input this long is closed; DefaultIdleTimeout
	CommandTimeout time.Duration // how long a command may take to answer; DefaultCommandTimeout
	MaxLineLength  int           // in characters; DefaultMaxLineLength
	HistorySize    int           // lines of history per session; DefaultHistorySize
	WriteTimeout   time.Duration // a client that does not read for this long is dropped; DefaultWriteTimeout
	LoginTimeout   time.Duration // a session not logged in this long after it opened is closed; DefaultLoginTimeout
	LoginFailDelay time.Duration // the pause after a wrong password before the next prompt; DefaultLoginFailDelay
	Logger         *slog.Logger  // nil discards
}

// withDefaults returns c with zero fields set and checks it.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.PasswordHash != "" {
		if _, _, _, err := pwhash.Parse(c.PasswordHash); err != nil {
			errs = append(errs, fmt.Errorf("console: password: %w", err))
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxSessions", int64(c.MaxSessions)}, {"IdleTimeout", int64(c.IdleTimeout)},
		{"CommandTimeout", int64(c.CommandTimeout)}, {"MaxLineLength", int64(c.MaxLineLength)},
		{"HistorySize", int64(c.HistorySize)}, {"WriteTimeout", int64(c.WriteTimeout)},
		{"LoginTimeout", int64(c.LoginTimeout)}, {"LoginFailDelay", int64(c.LoginFailDelay)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("console: %s is negative (%d), want 0 for the default or more", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	setDefault(&c.Name, DefaultName)
	setDefault(&c.MaxSessions, DefaultMaxSessions)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.CommandTimeout, DefaultCommandTimeout)
	setDefault(&c.MaxLineLength, DefaultMaxLineLength)
	setDefault(&c.HistorySize, DefaultHistorySize)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.LoginTimeout, DefaultLoginTimeout)
	setDefault(&c.LoginFailDelay, DefaultLoginFailDelay)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Server accepts console sessions on any number of listeners and serves
// the commands of one [Tree].
type Server struct {
	cfg  Config
	tree *Tree
	done chan struct{} // closed by Close

	mu        sync.Mutex
	closed    bool
	nextID    uint64
	listeners map[net.Listener]struct{}
	sessions  map[uint64]*session
	wg        sync.WaitGroup // one per session goroutine
}

// NewServer returns a server for tree. It fails on a negative limit or a
// malformed password hash.
func NewServer(cfg Config, tree *Tree) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:       cfg,
		tree:      tree,
		done:      make(chan struct{}),
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[uint64]*session),
	}, nil
}

// Serve accepts sessions on ln until [Server.Close], then returns
// [ErrServerClosed]. It closes ln. Serve may run for several listeners at
// once, each on its own goroutine.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return ErrServerClosed
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of descriptors: wait rather than spin, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-s.done:
					return ErrServerClosed
				}
			}
			return fmt.Errorf("console: accepting on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		s.start(conn)
	}
}

// start begins a session on conn, or turns conn away when the server is
// full or closed.
func (s *Server) start(conn net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.sessions) >= s.cfg.MaxSessions {
		s.cfg.Logger.Warn("console session refused", "peer", conn.RemoteAddr().String(), "sessions", len(s.sessions))
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(conn, "%% too many console sessions (limit %d), try again later\r\n", s.cfg.MaxSessions)
		conn.Close()
		return
	}
	s.nextID++
	sess := newSession(s, s.nextID, conn)
	s.sessions[sess.id] = sess
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.remove(sess.id)
		sess.run()
	}()
}

func (s *Server) remove(id uint64) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close stops the listeners, tells every session that the console is
// going away, and waits for the sessions to end. Each session ends within
// the write timeout. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		for ln := range s.listeners {
			ln.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
