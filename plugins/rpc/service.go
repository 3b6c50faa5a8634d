package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the RPC service's name: its address, config prefix and Start= entry.
const Name = "RPC"

// Spec registers the RPC service.
var Spec = sdk.Define(Name, func() sdk.Service { return New() })

// Service is the RPC service. Create it with New; the node calls Start,
// Handle and Stop.
type Service struct {
	mux    sdk.Mux
	cfg    settings
	wire   sdk.Wire
	handle sdk.Handle
	log    *slog.Logger
	node   string
	srv    *grpc.Server   // clients' Link/Stream, on the connections accept hands it
	lis    []net.Listener // the RPC port(s), served by serve

	// TLS of socket links and of clients' gRPC connections, which accept
	// terminates for both; nil without RPC.tlsCert.
	tlsServer, tlsClient *tls.Config
	listen               []string // bound addresses, as peers should dial them

	mu       sync.Mutex
	peers    map[string]*peer
	sessions map[*session]struct{}
	subs     []*sdk.Event
	epochs   map[string]uint64 // node peer address -> last epoch seen (at most maxEpochs)
	self     []string          // addresses that mean this node
	dialQ    []*peer           // peers whose dial loop the supervisor must start
	dialWake chan struct{}
	stopping atomic.Bool
	quiesced atomic.Bool // the node is stopping: requests from peers are refused

	lost atomic.Uint64 // in-flight requests failed because their link died

	// helloRead, when set, is called by the acceptor with each dialler's
	// Hello before it is answered (tests hold handshakes with it).
	helloRead func(*rpcpb.Hello)
}

// New returns an RPC service.
func New() *Service {
	s := &Service{
		peers: map[string]*peer{}, sessions: map[*session]struct{}{},
		epochs: map[string]uint64{}, dialWake: make(chan struct{}, 1),
	}
	sdk.On(&s.mux, s.subscribe)
	sdk.On(&s.mux, s.unsubscribe)
	sdk.On(&s.mux, s.listLinks)
	return s
}

// Types lists the event types RPC takes (for the manifest and console).
func (s *Service) Types() []string { return s.mux.Types() }

// Handle implements sdk.Service.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Start binds RPC.bindAddr and becomes the node's carrier.
func (s *Service) Start(c sdk.Context) error {
	wc, ok := c.(sdk.WireContext)
	if !ok || wc.Wire() == nil {
		return errors.New("rpc: this node does not grant node links to its services (RPC must be linked into the node, not run as a plugin)")
	}
	s.wire, s.handle, s.log, s.node = wc.Wire(), c.Handle(), c.Logger(), c.NodeName()
	s.cfg = readSettings(c.Config())
	for _, r := range s.cfg.raised {
		s.log.Warn("rpc: config value raised", sdk.KeyErr, r)
	}

	srvOpts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(link.Codec{}),
		grpc.MaxRecvMsgSize(s.cfg.maxMessage),
		grpc.MaxSendMsgSize(s.cfg.maxMessage),
		grpc.ConnectionTimeout(s.cfg.handshakeTimeout),
		// A connection with no link stream (a peer that never opens one)
		// is closed; pings find peers that vanished without a FIN.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: s.cfg.handshakeTimeout,
			Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second}),
		grpc.InitialWindowSize(1 << 20),
		grpc.InitialConnWindowSize(4 << 20),
		grpc.WriteBufferSize(256 << 10),
		grpc.ReadBufferSize(256 << 10),
	}
	if s.cfg.tls.Enabled() {
		sc, err := s.cfg.tls.Server()
		if err != nil {
			return fmt.Errorf("rpc: %w", err)
		}
		cc, err := s.cfg.tls.Client()
		if err != nil {
			return fmt.Errorf("rpc: %w", err)
		}
		sc.NextProtos = []string{"h2", alpnSocket}
		s.tlsServer, s.tlsClient = sc, cc
	}
	s.srv = grpc.NewServer(srvOpts...)
	rpcpb.RegisterLinkServer(s.srv, linkServer{s: s})

	lis, err := sdk.ListenAll(context.Background(), s.cfg.bindAddrs)
	if err != nil {
		return fmt.Errorf("rpc: %w (change RPC.bindAddr or stop what holds the port)", err)
	}
	s.lis = lis
	for _, l := range s.lis {
		s.listen = append(s.listen, l.Addr().String())
	}
	s.self = append(s.self, s.listen...)
	s.self = append(s.self, s.cfg.bindAddrs...)
	s.self = append(s.self, wildcardAliases(s.listen)...)
	s.wire.SetSelfAddrs(s.self)
	s.wire.SetCarrier(s.carry)
	c.Go(s.run)
	for _, a := range s.listen {
		s.log.Info("rpc listening", slog.String("addr", a), slog.Bool("tls", s.cfg.tls.Enabled()),
			slog.Bool("token", s.cfg.token != ""), slog.Uint64(sdk.KeyEpoch, s.wire.Epoch()))
	}
	return nil
}

// Quiesce stops taking work from other nodes when this node begins to stop:
// the RPC port closes, and requests that peers and clients send on open
// links are answered with ErrStopped. The links stay up while the node's
// queues drain, so the answers to requests taken before, and to this node's
// own requests to its peers, still arrive; Stop closes them.
func (s *Service) Quiesce(sdk.Context) {
	s.quiesced.Store(true)
	for _, l := range s.lis {
		l.Close()
	}
	s.log.Info("rpc: the node is stopping; refusing new requests from peers")
}

// Stop stops carrying events and closes every link, once the links have
// written what they hold (answers the node's services sent last, from
// their own Stops, say), within ctx; requests in flight on them then fail
// with ErrLinkLost.
func (s *Service) Stop(ctx context.Context) error {
	s.stopping.Store(true)
	if s.wire != nil {
		s.wire.SetCarrier(nil)
	}
	for _, l := range s.lis {
		l.Close()
	}
	s.flushLinks(ctx)
	if s.srv != nil {
		s.srv.Stop() // closes the clients' links
	}
	s.mu.Lock()
	for sess := range s.sessions {
		sess.cancel() // node links: closes their connections
	}
	s.mu.Unlock()
	return nil
}

// flushLinks waits until every link has written what it holds, or ctx
// ends (a peer that reads nothing).
func (s *Service) flushLinks(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		idle := true
		s.mu.Lock()
		for sess := range s.sessions {
			if !sess.out.Idle() {
				idle = false
				break
			}
		}
		s.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-ctx.Done():
			s.log.Warn("rpc: stopping with events not yet written to a peer that does not read them (they are failed)")
			return
		case <-t.C:
		}
	}
}

// run serves the listeners and starts dial loops, until the service stops.
// It is the owner of every goroutine RPC starts.
func (s *Service) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range s.lis {
		g := newConnListener(l.Addr())
		wg.Add(2)
		go func() {
			defer wg.Done()
			s.serve(ctx, l, g, &wg)
		}()
		go func() {
			defer wg.Done()
			// g closes when serve ends, which is when the service stops:
			// gRPC then reports net.ErrClosed, and that is no failure.
			if err := s.srv.Serve(g); err != nil && !errors.Is(err, grpc.ErrServerStopped) && !errors.Is(err, net.ErrClosed) {
				s.log.Error("rpc listener failed", slog.String("addr", l.Addr().String()), slog.String(sdk.KeyErr, err.Error()))
			}
		}()
	}
	for {
		select {
		case <-s.dialWake:
			s.mu.Lock()
			q := s.dialQ
			s.dialQ = nil
			s.mu.Unlock()
			for _, p := range q {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p.loop(ctx)
				}()
			}
		case <-ctx.Done():
			for _, l := range s.lis {
				l.Close()
			}
			s.srv.Stop()
			wg.Wait()
			return
		}
	}
}

// startDial asks run to start p's dial loop.
func (s *Service) startDial(p *peer) {
	s.mu.Lock()
	s.dialQ = append(s.dialQ, p)
	s.mu.Unlock()
	select {
	case s.dialWake <- struct{}{}:
	default:
	}
}

// carry is the node's carrier: it takes every request addressed to another
// node, from any goroutine.
func (s *Service) carry(ev *sdk.Event) error {
	if s.stopping.Load() {
		return &sdk.DeliveryError{Code: sdk.CodeStopped, Message: "rpc: the RPC service is stopping"}
	}
	for range 3 { // a peer pruned meanwhile is looked up again
		if ok, err := s.peer(ev.DstNode()).send(ev); ok {
			return err
		}
	}
	return &sdk.DeliveryError{Code: sdk.CodeLinkLost, Hop: "node " + ev.DstNode(),
		Message: fmt.Sprintf("rpc: the link to %s keeps closing; send again", ev.DstNode())}
}

// peer returns the peer at addr, creating it.
func (s *Service) peer(addr string) *peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[addr]
	if p == nil {
		p = &peer{s: s, addr: addr}
		s.peers[addr] = p
	}
	return p
}

// wildcardAliases returns the addresses that reach a listener bound to an
// unspecified address on this host, with the listener's port: for
// 0.0.0.0:P, 127.0.0.1:P and every IPv4 interface address; for [::]:P
// (IPv6 only, as sdk.Listen binds it), [::1]:P and every IPv6 interface
// address. A request to one of them is then known at once to be for this
// node, rather than dialled and found to be so.
func wildcardAliases(listen []string) []string {
	var out []string
	var ifaddrs []net.Addr // read once, when first needed
	for _, a := range listen {
		host, port, err := net.SplitHostPort(a)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || !ip.IsUnspecified() {
			continue
		}
		v4 := ip.To4() != nil
		if v4 {
			out = append(out, net.JoinHostPort("127.0.0.1", port))
		} else {
			out = append(out, net.JoinHostPort("::1", port))
		}
		if ifaddrs == nil {
			ifaddrs, _ = net.InterfaceAddrs()
		}
		for _, ia := range ifaddrs {
			if n, ok := ia.(*net.IPNet); ok && (n.IP.To4() != nil) == v4 {
				out = append(out, net.JoinHostPort(n.IP.String(), port))
			}
		}
	}
	return out
}

// hello is this node's handshake.
func (s *Service) hello() *rpcpb.Hello {
	return &rpcpb.Hello{Protocol: link.Protocol, Node: s.node, Epoch: s.wire.Epoch(), Token: s.cfg.token, Listen: s.listen,
		MaxMessage: uint64(s.cfg.maxMessage)}
}

// markSelf records addr as an address of this node (a peer that turned out
// to be this node itself).
func (s *Service) markSelf(addr string) {
	s.mu.Lock()
	s.self = append(s.self, addr)
	self := append([]string(nil), s.self...)
	s.mu.Unlock()
	s.wire.SetSelfAddrs(self)
}

func (s *Service) subscribe(c sdk.Context, _ *rpcpb.Subscribe) error {
	ev := c.Event()
	s.mu.Lock()
	s.subs = append(s.withoutSubs(func(sub *sdk.Event) bool { return slices.Equal(sub.Route, ev.Route) }), ev)
	var up []*session
	for sess := range s.sessions {
		up = append(up, sess)
	}
	s.mu.Unlock()
	for _, sess := range up {
		c.ReplyTo(ev, sess.upEvent(false))
	}
	return nil
}

func (s *Service) unsubscribe(c sdk.Context, m *rpcpb.Unsubscribe) error {
	route := c.Event().Route
	s.mu.Lock()
	s.subs = s.withoutSubs(func(sub *sdk.Event) bool { return slices.Equal(sub.Route, route) })
	s.mu.Unlock()
	c.Reply(m)
	return nil
}

// withoutSubs returns a new slice of the subscribers for which drop is
// false: notify reads s.subs outside the lock, so it is never changed in
// place. s.mu must be held.
func (s *Service) withoutSubs(drop func(sub *sdk.Event) bool) []*sdk.Event {
	out := make([]*sdk.Event, 0, len(s.subs)+1)
	for _, sub := range s.subs {
		if !drop(sub) {
			out = append(out, sub)
		}
	}
	return out
}

func (s *Service) listLinks(c sdk.Context, _ *rpcpb.ListLinks) error {
	out := &rpcpb.Links{Listen: s.listen}
	s.mu.Lock()
	out.Subscribers = uint32(len(s.subs))
	out.Peers = uint32(len(s.peers))
	for sess := range s.sessions {
		out.Links = append(out.Links, sess.info())
	}
	s.mu.Unlock()
	c.Reply(out)
	return nil
}

// notify sends msg (or down) to every subscriber. A subscriber that can no
// longer be reached (a stopped service, a closed endpoint) is forgotten; one
// whose queue is full misses this event, which is dropped and counted as
// any reply would be.
func (s *Service) notify(msg *rpcpb.LinkUp, down *rpcpb.LinkDown) {
	s.mu.Lock()
	subs := s.subs
	s.mu.Unlock()
	var m proto.Message = down
	if msg != nil {
		m = msg
	}
	var gone []*sdk.Event
	for _, ev := range subs {
		if err := sdk.ReplyToLive(s.handle, ev, m); err != nil {
			gone = append(gone, ev)
			s.log.Info("rpc: link subscriber cannot be reached; forgotten", sdk.KeyErr, err.Error())
		}
	}
	if len(gone) > 0 {
		s.mu.Lock()
		s.subs = s.withoutSubs(func(sub *sdk.Event) bool { return slices.Contains(gone, sub) })
		s.mu.Unlock()
	}
}

// Interface guards.
var (
	_ sdk.Service  = (*Service)(nil)
	_ sdk.Starter  = (*Service)(nil)
	_ sdk.Stopper  = (*Service)(nil)
	_ sdk.Quiescer = (*Service)(nil)
)
