package webserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mtnode/mtnode/plugins/webserver/internal/h1"
	"github.com/mtnode/mtnode/proto/webpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name: its address, config prefix and Start= entry.
const Name = "WebServer"

// Spec registers the WebServer service.
var Spec = sdk.Define(Name, New)

// Service is the WebServer service. Its fields are touched only on its own
// goroutine; listeners carry their own locking.
type Service struct {
	mux       sdk.Mux
	settings  settings
	listeners map[uint64]*listener
	nextID    uint64
	quiesced  bool // the node is stopping: no new listeners
}

// settings are the WebServer.* config values.
type settings struct {
	readTimeout     time.Duration
	idleTimeout     time.Duration
	writeTimeout    time.Duration
	maxHeaderBytes  int64
	maxHeaders      int64
	maxBodyBytes    int64
	shutdownTimeout time.Duration
	replyTimeout    time.Duration
}

// New builds the service; Start reads its config.
func New() sdk.Service {
	s := &Service{listeners: make(map[uint64]*listener)}
	sdk.On(&s.mux, s.listen)
	sdk.On(&s.mux, s.unlisten)
	return s
}

// Start reads the WebServer.* config.
func (s *Service) Start(c sdk.Context) error {
	cf := c.Config()
	s.settings = settings{
		readTimeout:     cf.Duration("readTimeout", h1.DefaultReadTimeout, "longest time to read one request, head and body, from its first byte"),
		idleTimeout:     cf.Duration("idleTimeout", h1.DefaultIdleTimeout, "how long a kept-alive connection may wait for its next request"),
		writeTimeout:    cf.Duration("writeTimeout", h1.DefaultWriteTimeout, "longest time a client may take to read each MiB of an answer (or the whole answer if smaller) before it is dropped"),
		maxHeaderBytes:  cf.Bytes("maxHeaderBytes", h1.DefaultMaxHeaderBytes, "largest request line plus header fields (431 past it)"),
		maxHeaders:      cf.Int("maxHeaders", h1.DefaultMaxHeaders, "most header fields in one request (431 past it)"),
		maxBodyBytes:    cf.Bytes("maxBodyBytes", h1.DefaultMaxBodyBytes, "largest request body (413 past it)"),
		shutdownTimeout: cf.Duration("shutdownTimeout", 5*time.Second, "how long stopping waits for requests in progress"),
		replyTimeout:    cf.Duration("replyTimeout", DefaultReplyTimeout, "how long a request waits for the owning service's reply before the client gets 504 Gateway Timeout"),
	}
	return nil
}

// Handle routes events by payload type.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Quiesce begins a graceful shutdown of every listener when the node
// starts to stop: the listening sockets close, kept-alive connections close
// once idle (a response in progress is sent with "Connection: close"), and
// requests in progress go on. Stop then waits for them.
func (s *Service) Quiesce(c sdk.Context) {
	s.quiesced = true
	for _, l := range s.listeners {
		c.Go(func(ctx context.Context) {
			// Returns when every connection has ended, or at the service's
			// stop, when Stop has shut the listener down in its own time.
			_ = l.srv.Shutdown(ctx)
		})
	}
}

// Stop shuts every listener down, letting requests in progress finish
// within WebServer.shutdownTimeout (and ctx).
func (s *Service) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(s.settings.shutdownTimeout, time.Millisecond))
	defer cancel()
	var errs []error
	for id, l := range s.listeners {
		delete(s.listeners, id)
		if err := l.shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("webserver: stopping listener %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) listen(c sdk.Context, m *webpb.Listen) error {
	target := m.GetService()
	if target == "" {
		if top, _, ok := c.Event().Route.Pop(); ok && top.Kind == sdk.HopService {
			target = top.Name
		} else {
			return errors.New("webserver: Listen from outside a service: set Listen.service to the service that takes the requests")
		}
	}
	if s.quiesced {
		return fmt.Errorf("webserver: Listen refused: the node is stopping: %w", sdk.ErrStopped)
	}
	addrs := sdk.SplitAddrs(m.GetAddrs())
	if len(addrs) == 0 {
		return fmt.Errorf("webserver: Listen without addresses: set Listen.addrs (e.g. 127.0.0.1:8080,[::1]:8080)")
	}
	if l := s.same(target, addrs, m); l != nil {
		// The same service asking again for what it has: a plugin that
		// was relaunched (its listener outlived its process) does so at
		// every start. The address would be in use; the answer is the
		// listener it already has.
		c.Logger().Info("webserver: already listening", "addrs", strings.Join(l.bound, ","), "to", target, "listener", l.id)
		c.Reply(&webpb.Listening{Id: l.id, Addrs: l.bound})
		return nil
	}
	var files *h1.FileServer
	if m.GetDocRoot() != "" {
		fs, err := h1.NewFileServer(m.GetDocRoot())
		if err != nil {
			return fmt.Errorf("webserver: Listen: %w", err)
		}
		files = fs
	}
	lns, err := sdk.ListenAll(context.Background(), addrs)
	if err != nil {
		if files != nil {
			files.Close()
		}
		return fmt.Errorf("webserver: %w (is the address in use or not local?)", err)
	}
	bound := make([]string, len(lns))
	for i, ln := range lns {
		bound[i] = ln.Addr().String()
	}
	s.nextID++
	st := s.settings
	l := newListener(s.nextID, sdk.To(target), files, m.GetWithHeaders(), st.replyTimeout, c.Logger())
	l.asked, l.bound, l.docRoot = strings.Join(addrs, ","), bound, m.GetDocRoot()
	l.ep = c.Handle().Endpoint(l.onReply)
	l.srv = &h1.Server{
		Handler:        l,
		ReadTimeout:    st.readTimeout,
		IdleTimeout:    st.idleTimeout,
		WriteTimeout:   st.writeTimeout,
		MaxHeaderBytes: int(st.maxHeaderBytes),
		MaxHeaders:     int(st.maxHeaders),
		MaxBodyBytes:   st.maxBodyBytes,
		Logger:         c.Logger(),
	}
	s.listeners[l.id] = l
	c.Go(l.sweep)
	log := c.Logger()
	for _, ln := range lns {
		c.Go(func(ctx context.Context) {
			if err := l.srv.Serve(ln); err != nil && !errors.Is(err, h1.ErrServerClosed) {
				log.Error("webserver: accept loop ended", sdk.KeyErr, err, "addr", ln.Addr().String())
			}
		})
	}
	log.Info("webserver: listening", "addrs", strings.Join(bound, ","), "to", target, "listener", l.id)
	c.Reply(&webpb.Listening{Id: l.id, Addrs: bound})
	return nil
}

// same returns the listener that a Listen from target for addrs would
// make again (the same addresses, none of them an ephemeral port, and the
// same options), or nil.
func (s *Service) same(target string, addrs []string, m *webpb.Listen) *listener {
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			return nil // :0 asks for a new port each time
		}
	}
	asked := strings.Join(addrs, ",")
	for _, l := range s.listeners {
		if l.target.Service == target && l.asked == asked && l.docRoot == m.GetDocRoot() && l.withHeaders == m.GetWithHeaders() {
			return l
		}
	}
	return nil
}

func (s *Service) unlisten(c sdk.Context, m *webpb.Unlisten) error {
	l := s.listeners[m.GetId()]
	if l == nil {
		return fmt.Errorf("webserver: Unlisten: no listener %d", m.GetId())
	}
	delete(s.listeners, l.id)
	ev, h, timeout := c.Event(), c.Handle(), s.settings.shutdownTimeout
	// Draining may take a while: do it off the service goroutine.
	c.Go(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := l.shutdown(ctx); err != nil {
			h.Logger().Warn("webserver: listener closed before its requests finished", sdk.KeyErr, err, "listener", l.id)
		}
		h.ReplyTo(ev, &webpb.Unlistened{Id: l.id})
	})
	return nil
}

// Interface guards.
var (
	_ sdk.Service  = (*Service)(nil)
	_ sdk.Starter  = (*Service)(nil)
	_ sdk.Stopper  = (*Service)(nil)
	_ sdk.Quiescer = (*Service)(nil)
)
