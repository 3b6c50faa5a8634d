package socket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtnode/mtnode/proto/socketpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name: its address, config prefix and Start= entry.
const Name = "SocketIO"

// Spec registers the SocketIO service.
var Spec = sdk.Define(Name, New)

// Defaults of the SocketIO.* config keys.
const (
	DefaultMaxOutBufferSize = 8 << 20
	DefaultReadWindow       = 256 << 10
	DefaultReadBufferSize   = 16 << 10
	DefaultConnectTimeout   = 10 * time.Second
)

// Service is the SocketIO service. Handler state (config) is written in
// Start and read-only afterwards; the connection and listener tables are
// shared with the connection goroutines and guarded by mu.
type Service struct {
	mux            sdk.Mux
	h              sdk.Handle
	maxOut         int64
	window         int64
	readBufSize    int
	connectTimeout time.Duration

	nextID atomic.Uint64
	wg     sync.WaitGroup // connection reader and writer goroutines

	mu       sync.Mutex
	stopping bool
	quiesced bool // the node is stopping: listeners closed, Listen refused
	conns    map[uint64]*conn
	groups   map[uint64][]net.Listener
}

// New builds the service; Start reads its config.
func New() sdk.Service {
	s := &Service{conns: make(map[uint64]*conn), groups: make(map[uint64][]net.Listener)}
	sdk.On(&s.mux, s.listen)
	sdk.On(&s.mux, s.unlisten)
	sdk.On(&s.mux, s.connect)
	sdk.On(&s.mux, s.write)
	sdk.On(&s.mux, s.ack)
	sdk.On(&s.mux, s.close)
	return s
}

// Start reads the SocketIO.* config.
func (s *Service) Start(c sdk.Context) error {
	cf := c.Config()
	s.h = c.Handle()
	s.maxOut = cf.Bytes("maxOutBufferSize", DefaultMaxOutBufferSize, "most bytes queued for writing on one connection; a write past it closes the connection")
	s.window = cf.Bytes("readWindow", DefaultReadWindow, "default read window: bytes delivered in Data events that may await the owner's Ack before reading pauses")
	s.readBufSize = int(cf.Bytes("readBufferSize", DefaultReadBufferSize, "size of each connection's read buffer (largest Data event)"))
	s.connectTimeout = cf.Duration("connectTimeout", DefaultConnectTimeout, "default bound on a Connect attempt")
	if s.maxOut < 1 {
		s.maxOut = DefaultMaxOutBufferSize
	}
	if s.window < 1 {
		s.window = DefaultReadWindow
	}
	if s.readBufSize < 512 {
		s.readBufSize = DefaultReadBufferSize
	}
	return nil
}

// Handle routes events by payload type.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Quiesce closes every listener when the node begins to stop, and refuses
// Listen from then on: no new connections come in. Open connections go on
// (their owners may still be answering over them) until Stop.
func (s *Service) Quiesce(sdk.Context) {
	s.mu.Lock()
	s.quiesced = true
	groups := s.groups
	s.groups = make(map[uint64][]net.Listener)
	s.mu.Unlock()
	for _, lns := range groups {
		for _, ln := range lns {
			ln.Close()
		}
	}
}

// Stop closes every listener and connection (reason "stopping") and waits
// for the connection goroutines, within ctx.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	for id, lns := range s.groups {
		for _, ln := range lns {
			ln.Close()
		}
		delete(s.groups, id)
	}
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.abort("stopping")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("socketio: connections still closing: %w", ctx.Err())
	}
}

func (s *Service) listen(c sdk.Context, m *socketpb.Listen) error {
	addrs := sdk.SplitAddrs(m.GetAddrs())
	if len(addrs) == 0 {
		return errors.New("socketio: Listen without addresses: set Listen.addrs (e.g. 127.0.0.1:7000,[::1]:7000)")
	}
	lns, err := sdk.ListenAll(context.Background(), addrs)
	if err != nil {
		return fmt.Errorf("socketio: %w (is the address in use or not local?)", err)
	}
	bound := make([]string, len(lns))
	for i, ln := range lns {
		bound[i] = ln.Addr().String()
	}
	id := s.nextID.Add(1)
	s.mu.Lock()
	if s.stopping || s.quiesced {
		s.mu.Unlock()
		for _, l := range lns {
			l.Close()
		}
		return fmt.Errorf("socketio: Listen refused: the node is stopping: %w", sdk.ErrStopped)
	}
	s.groups[id] = lns
	s.mu.Unlock()
	owner, window := c.Event(), s.windowOf(m.GetWindow())
	c.Reply(&socketpb.Bound{ListenerId: id, Addrs: bound})
	for _, ln := range lns {
		c.Go(func(ctx context.Context) { s.acceptLoop(ctx, ln, id, owner, window) })
	}
	return nil
}

func (s *Service) acceptLoop(ctx context.Context, ln net.Listener, id uint64, owner *sdk.Event, window int64) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.h.Logger().Warn("socketio: accept failed, retrying", sdk.KeyErr, err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		cn := s.newConn(nc, owner, window)
		if cn == nil {
			return
		}
		why := cn.offer(&socketpb.Accepted{ConnId: cn.id, ListenerId: id,
			LocalAddr: nc.LocalAddr().String(), RemoteAddr: nc.RemoteAddr().String()})
		cn.run()
		if why != "" {
			cn.abort(why)
		}
	}
}

func (s *Service) unlisten(c sdk.Context, m *socketpb.Unlisten) error {
	s.mu.Lock()
	lns, ok := s.groups[m.GetListenerId()]
	delete(s.groups, m.GetListenerId())
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("socketio: Unlisten: no listener %d", m.GetListenerId())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return nil
}

func (s *Service) connect(c sdk.Context, m *socketpb.Connect) error {
	addr := strings.TrimSpace(m.GetAddr())
	timeout := s.connectTimeout
	if m.GetTimeoutMs() > 0 {
		timeout = time.Duration(m.GetTimeoutMs()) * time.Millisecond
	}
	owner, window := c.Event(), s.windowOf(m.GetWindow())
	c.Go(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			s.h.ReplyTo(owner, &socketpb.ConnectFailed{Addr: addr, Reason: err.Error()})
			return
		}
		cn := s.newConn(nc, owner, window)
		if cn == nil {
			s.h.ReplyTo(owner, &socketpb.ConnectFailed{Addr: addr, Reason: "socketio: stopping"})
			return
		}
		why := cn.offer(&socketpb.Connected{ConnId: cn.id,
			LocalAddr: nc.LocalAddr().String(), RemoteAddr: nc.RemoteAddr().String()})
		cn.run()
		if why != "" {
			cn.abort(why)
		}
	})
	return nil
}

func (s *Service) write(c sdk.Context, m *socketpb.Write) error {
	cn := s.conn(m.GetConnId())
	if cn == nil {
		return fmt.Errorf("socketio: Write: no connection %d (it has closed)", m.GetConnId())
	}
	return cn.queue(m.GetData(), m.GetClose())
}

func (s *Service) ack(c sdk.Context, m *socketpb.Ack) error {
	if cn := s.conn(m.GetConnId()); cn != nil {
		cn.credit(m.GetBytes())
	}
	return nil // an Ack racing a close is harmless
}

func (s *Service) close(c sdk.Context, m *socketpb.Close) error {
	cn := s.conn(m.GetConnId())
	if cn == nil {
		return fmt.Errorf("socketio: Close: no connection %d (it has closed)", m.GetConnId())
	}
	if m.GetAbort() {
		cn.abort("closed")
		return nil
	}
	return cn.queue(nil, true)
}

func (s *Service) conn(id uint64) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

func (s *Service) windowOf(w int64) int64 {
	if w > 0 {
		return w
	}
	return s.window
}

// Interface guards.
var (
	_ sdk.Service  = (*Service)(nil)
	_ sdk.Starter  = (*Service)(nil)
	_ sdk.Stopper  = (*Service)(nil)
	_ sdk.Quiescer = (*Service)(nil)
)
