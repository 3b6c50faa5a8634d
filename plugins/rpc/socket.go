package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// Node links run on a plain TCP connection (TLS when RPC.tlsCert is set)
// on the RPC port, each frame a 4-byte length and an mtnode.v1.Batch, as
// plugin event sockets do (link.SocketStream). Over gRPC, each frame went
// through gRPC's transport reader and loopy writer goroutines and HTTP/2
// framing on both nodes: a relay hop cost about 54 µs at p50 on a 2-core
// machine, and the kernel's TCP write alone was a quarter of it. Clients
// (package client) still link through the Link/Stream gRPC method on the
// same port: an accepted connection that starts with socketMagic is a node
// link, anything else is handed to the gRPC server.
//
// The handshake: the dialler writes socketMagic and its Hello as a frame,
// the acceptor answers with one rpcpb.Answer frame: its Hello, or why it
// refuses. Both have RPC.handshakeTimeout to complete it, TLS included.

// socketMagic starts a socket link. gRPC's connection preface starts with
// "PRI * HTTP/2.0", so one look at the first bytes tells them apart.
const socketMagic = "MTLINK/1\n"

// alpnSocket is the ALPN protocol a TLS socket link asks for; gRPC clients
// ask for "h2". The acceptor offers both.
const alpnSocket = "mtlink/1"

// maxAnswer bounds an Answer frame: a Hello and a refusal's text.
const maxAnswer = 2*link.MaxHelloBytes + 1024

// keepAlive finds a peer that vanished without closing its connection (a
// host that lost power, a cable pulled): probes after 30 s of silence,
// every 10 s, three unanswered close the link, as the gRPC link's pings
// did.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3}

// userTimeout is how long written data may stay unacknowledged before a
// link is given up (setUserTimeout): as long as keepalive takes to give up
// on an idle link.
const userTimeout = 60 * time.Second

// connListener is the listener the gRPC server serves: the connections
// the acceptor found to be gRPC, passed on with the bytes it looked at.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// hand passes c to the gRPC server; it closes c when the server is gone.
func (l *connListener) hand(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// prefixConn is a connection whose first bytes were already read.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// serve accepts connections on l until it is closed, each on its own
// goroutine: a socket link runs there for its lifetime; anything else goes
// to g, the gRPC server's listener.
func (s *Service) serve(ctx context.Context, l net.Listener, g *connListener, wg *sync.WaitGroup) {
	defer g.Close()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			// Out of descriptors, a connection reset before it was taken:
			// the listener is still good. Wait, longer each time in a row,
			// and go on, as net/http's server does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.LogAttrs(ctx, slog.LevelWarn, "rpc accept failed; retrying", slog.String("addr", l.Addr().String()),
				slog.String(sdk.KeyErr, err.Error()), slog.Duration("retry", delay))
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			continue
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.accept(ctx, c, g)
		}()
	}
}

// accept completes TLS, looks at the first bytes, and runs a socket link
// or hands the connection to gRPC.
func (s *Service) accept(ctx context.Context, c net.Conn, g *connListener) {
	remote := c.RemoteAddr().String()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetKeepAliveConfig(keepAlive)
		_ = tc.SetNoDelay(true)
	}
	setUserTimeout(c, userTimeout)
	_ = c.SetDeadline(time.Now().Add(s.cfg.handshakeTimeout))
	raw := c // closed as it is: a TLS close would first write an alert
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	if s.tlsServer != nil {
		tc := tls.Server(c, s.tlsServer)
		if err := tc.HandshakeContext(ctx); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "link refused", slog.String(sdk.KeyPeer, remote),
				slog.String("reason", tlsReason(err)))
			raw.Close()
			return
		}
		c = tc
	}
	head := make([]byte, len(socketMagic))
	n, err := io.ReadFull(c, head)
	if err != nil || string(head) != socketMagic {
		if n == 0 {
			raw.Close() // nothing arrived: not even gRPC
			return
		}
		// Not a socket link: gRPC's own handshake takes it from here (and
		// its ConnectionTimeout bounds it). Its deadline is gRPC's to set.
		_ = c.SetDeadline(time.Time{})
		if !stop() {
			return // the service stopped meanwhile: c is closed
		}
		g.hand(&prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(head[:n]), c)})
		return
	}
	s.acceptSocket(ctx, c, raw, remote)
}

// acceptSocket reads a socket link's Hello on c, answers it, and runs the
// link until it ends; raw is the TCP connection under c (c itself without
// TLS), which closing ends the link at once.
func (s *Service) acceptSocket(ctx context.Context, c, raw net.Conn, remote string) {
	refuse := func(a *rpcpb.Answer, reason string) {
		if reason != "" {
			s.log.LogAttrs(ctx, slog.LevelWarn, "link refused", slog.String(sdk.KeyPeer, remote), slog.String("reason", reason))
		}
		_ = writeFrame(c, nil, a)
		c.Close()
	}
	h, err := readHello(c, s.cfg.token)
	if err == nil && h.GetEpoch() == s.wire.Epoch() {
		// This node dialled itself under an address it did not know as its
		// own: show it its own Hello, so it learns the address.
		refuse(&rpcpb.Answer{Hello: s.hello(), Refused: "rpc: a node cannot link to itself", Permanent: true}, "")
		return
	}
	if err != nil {
		reason := helloErr(err, s.cfg.handshakeTimeout)
		refuse(&rpcpb.Answer{Refused: reason, Permanent: true}, reason)
		return
	}
	if s.helloRead != nil {
		s.helloRead(h)
	}
	if s.stopping.Load() || s.quiesced.Load() {
		refuse(&rpcpb.Answer{Refused: "rpc: node is stopping"}, "")
		return
	}
	if err := writeFrame(c, nil, &rpcpb.Answer{Hello: s.hello()}); err != nil {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	key := remote
	if len(h.GetListen()) > 0 {
		key = h.GetListen()[0]
	}
	sess := s.newSession(key, h, false, func() { raw.Close() })
	s.adopt(sess, remote, h.GetListen())
	st := link.NewSocketStream(c, s.cfg.maxMessage)
	st.SetSpin(s.cfg.spin)
	sess.run(ctx, st)
}

// dial connects to addr and exchanges Hellos. The session it returns owns
// the connection.
func (s *Service) dial(ctx context.Context, addr string) (*session, stream, error) {
	hctx, cancel := context.WithTimeout(ctx, s.cfg.dialTimeout+s.cfg.handshakeTimeout)
	defer cancel()
	d := net.Dialer{Timeout: s.cfg.dialTimeout, KeepAliveConfig: keepAlive}
	c, err := d.DialContext(hctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("rpc: cannot reach %s: %w", addr, unwrapOp(err))
	}
	setUserTimeout(c, userTimeout)
	raw := c // c becomes the TLS connection over it
	ok := false
	defer func() {
		if !ok {
			raw.Close()
		}
	}()
	if dl, has := hctx.Deadline(); has {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(hctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	timedOut := func(err error) error {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || hctx.Err() != nil {
			return fmt.Errorf("rpc: %s did not complete the handshake in time", addr)
		}
		return fmt.Errorf("rpc: cannot reach %s: %w", addr, unwrapOp(err))
	}
	if s.tlsClient != nil {
		cfg := s.tlsClient.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		cfg.NextProtos = []string{alpnSocket}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(hctx); err != nil {
			return nil, nil, timedOut(fmt.Errorf("tls: %w", err))
		}
		c = tc
	}
	if err := writeFrame(c, []byte(socketMagic), s.hello()); err != nil {
		return nil, nil, timedOut(err)
	}
	a, h, err := readAnswer(c)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("rpc: %s closed the connection during the handshake (is it an mtnode RPC port of this version? does it require TLS, RPC.tlsCert, or a client certificate, RPC.tlsCA, that this node lacks?)", addr)
		}
		if errors.Is(err, link.ErrBadHello) {
			return nil, nil, fmt.Errorf("rpc: %s: %w", addr, err)
		}
		return nil, nil, timedOut(err)
	}
	if h != nil && h.GetEpoch() == s.wire.Epoch() {
		s.markSelf(addr)
		return nil, nil, fmt.Errorf("rpc: %s turned out to be this node itself (%w): this request is not delivered, later ones to that address are delivered here (send to the service locally, or name the address in RPC.bindAddr)", addr, sdk.ErrNoService)
	}
	if a.GetRefused() != "" {
		if a.GetPermanent() {
			return nil, nil, fmt.Errorf("rpc: %s refused the link: %s (%w)", addr, a.GetRefused(), sdk.ErrRefused)
		}
		return nil, nil, fmt.Errorf("rpc: cannot reach %s: %s", addr, a.GetRefused())
	}
	if h == nil {
		return nil, nil, fmt.Errorf("rpc: %s: %w: an Answer with neither a hello nor a refusal", addr, link.ErrBadHello)
	}
	if !stop() {
		return nil, nil, timedOut(context.DeadlineExceeded)
	}
	_ = c.SetDeadline(time.Time{})
	ok = true
	st := link.NewSocketStream(c, s.cfg.maxMessage)
	st.SetSpin(s.cfg.spin)
	return s.newSession(addr, h, true, func() { raw.Close() }), st, nil
}

// readHello reads the dialler's Hello frame and checks it against token.
func readHello(r io.Reader, token string) (*rpcpb.Hello, error) {
	b, err := readFrame(r, link.MaxHelloBytes)
	if err != nil {
		return nil, err
	}
	h, err := link.DecodeHello(b)
	if err != nil {
		return nil, err
	}
	if err := link.CheckToken(h, token); err != nil {
		return nil, err
	}
	return h, nil
}

// helloErr says why a dialler's Hello could not be read, in the acceptor's
// log: a bare "EOF" or "i/o timeout" names neither the peer's side nor the
// setting that bounds it.
func helloErr(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the peer closed the connection before its hello was complete"
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no complete hello within RPC.handshakeTimeout (%v)", timeout)
	}
	return err.Error()
}

// readAnswer reads the acceptor's Answer frame; h is its Hello, checked,
// when it has one. Bytes that are not an Answer wrap link.ErrBadHello.
func readAnswer(r io.Reader) (a *rpcpb.Answer, h *rpcpb.Hello, err error) {
	b, err := readFrame(r, maxAnswer)
	if err != nil {
		return nil, nil, err
	}
	a = new(rpcpb.Answer)
	if err := proto.Unmarshal(b, a); err != nil {
		return nil, nil, fmt.Errorf("%w: %d bytes that are not an Answer (is the peer an mtnode RPC port?): %v", link.ErrBadHello, len(b), err)
	}
	if a.Hello != nil {
		hb, err := proto.Marshal(a.Hello)
		if err == nil {
			h, err = link.DecodeHello(hb)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return a, h, nil
}

// writeFrame writes prefix, then m as a handshake frame (a 4-byte length
// and the message), with one write.
func writeFrame(w io.Writer, prefix []byte, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	out := binary.BigEndian.AppendUint32(append([]byte(nil), prefix...), uint32(len(b)))
	_, err = w.Write(append(out, b...))
	return err
}

// readFrame reads one handshake frame of at most limit bytes.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > uint32(limit) {
		return nil, fmt.Errorf("%w: a handshake frame of %d bytes, more than %d", link.ErrBadHello, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// unwrapOp drops net.OpError's addresses, which the caller's message
// already names.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// tlsReason is a failed TLS handshake's error for the log, said to be one
// once: most of crypto/tls's errors begin with "tls: " already.
func tlsReason(err error) string {
	if r := err.Error(); strings.HasPrefix(r, "tls: ") {
		return r
	}
	return "tls: " + err.Error()
}
