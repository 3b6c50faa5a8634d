package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// Errors that Dial wraps, so that a caller can tell which of its settings
// to change.
var (
	// ErrUnreachable: nothing accepted a connection at the address.
	ErrUnreachable = errors.New("client: nothing accepts connections there (is a node's RPC.bindAddr there?)")
	// ErrHandshake: the address accepted the connection, but no link
	// could be made over it: TLS on one side only, a certificate the other
	// side does not accept, or not an mtnode RPC port.
	ErrHandshake = errors.New("client: the connection was made but the handshake failed (TLS on one side only, a certificate the other side does not accept, or not an mtnode RPC port)")
)

// Option configures Dial.
type Option func(*options)

type options struct {
	name       string
	token      string
	tls        link.TLS
	maxPending int
	maxMessage int
}

// WithToken sets the shared token the node expects (its RPC.token).
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithTLS connects over TLS: ca verifies the node (system roots when empty);
// cert and key, when set, are presented for mutual TLS.
func WithTLS(cert, key, ca string) Option {
	return func(o *options) { o.tls = link.TLS{Cert: cert, Key: key, CA: ca} }
}

// WithName sets the name the node logs for this client (default: the
// program's name).
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithMaxPending bounds the events waiting to be written (default 65536);
// beyond it Request and Send fail with sdk.ErrQueueFull.
func WithMaxPending(n int) Option { return func(o *options) { o.maxPending = n } }

// Client is a connection to one node. Its methods are safe for concurrent
// use.
type Client struct {
	addr   string
	cc     *grpc.ClientConn
	cancel context.CancelFunc
	out    *link.Outbox
	lim    link.Limits // of the writer: frames within both ends' limits
	peer   *rpcpb.Hello

	mu    sync.Mutex
	calls map[uint64]chan *sdk.Event // nil once closed
	subs  map[uint64]*Subscription   // nil once closed
	err   error                      // why the link ended

	next atomic.Uint64
	wg   sync.WaitGroup
	done chan struct{}
}

// Dial connects to the node listening at addr ("host:port") and completes
// the handshake before ctx ends.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := options{name: "client " + baseName(), maxPending: 65536, maxMessage: 16 << 20}
	for _, fn := range opts {
		fn(&o)
	}
	creds := insecure.NewCredentials()
	if o.tls.Enabled() {
		cfg, err := o.tls.Client()
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		creds = credentials.NewTLS(cfg)
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxMessage), grpc.MaxCallSendMsgSize(o.maxMessage),
			grpc.ForceCodecV2(link.Codec{})),
		grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(4<<20))
	if err != nil {
		return nil, fmt.Errorf("client: dialling %s: %w", addr, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	hello := &rpcpb.Hello{Protocol: link.Protocol, Node: o.name, Epoch: binary.LittleEndian.Uint64(b[:]) | 1, Token: o.token,
		MaxMessage: uint64(o.maxMessage)}

	// The stream outlives Dial's ctx; ctx bounds only the handshake. No
	// WaitForReady: a refused connection fails at once rather than being
	// retried until ctx ends.
	sctx, cancel := context.WithCancel(context.Background())
	stopHandshake := context.AfterFunc(ctx, cancel)
	st, err := rpcpb.NewLinkClient(cc).Stream(metadata.NewOutgoingContext(sctx, link.HelloMD(hello)))
	var md metadata.MD
	if err == nil {
		md, err = st.Header()
		if err == nil && len(md.Get(link.HelloKey)) == 0 {
			if err = st.RecvMsg(new(mtpb.Batch)); err == nil {
				err = errors.New("node sent no hello")
			}
		}
	}
	var peer *rpcpb.Hello
	if err == nil {
		peer, err = link.CheckHello(md, "")
	}
	if !stopHandshake() || err != nil {
		cancel()
		cc.Close()
		if err == nil || ctx.Err() != nil {
			return nil, fmt.Errorf("client: connecting to %s: %w", addr, ctx.Err())
		}
		if s, ok := status.FromError(err); ok {
			return nil, dialError(ctx, addr, s)
		}
		return nil, fmt.Errorf("client: connecting to %s: %w", addr, err)
	}
	c := &Client{addr: addr, cc: cc, cancel: cancel, out: link.NewOutbox(o.maxPending), peer: peer,
		lim:   link.Limits{}.ForPeer(o.maxMessage, peer.GetMaxMessage()),
		calls: map[uint64]chan *sdk.Event{}, subs: map[uint64]*Subscription{}, done: make(chan struct{})}
	c.wg.Add(2)
	go c.write(sctx, st)
	go c.read(st)
	return c, nil
}

// Node returns the name and epoch the node gave in its handshake.
func (c *Client) Node() (name string, epoch uint64) { return c.peer.GetNode(), c.peer.GetEpoch() }

// Request sends msg to the service to on the node and waits for the reply,
// an error event (a *sdk.DeliveryError) or the end of ctx (an ErrTimeout
// *sdk.DeliveryError). to.Node must be empty or the dialled address.
func (c *Client) Request(ctx context.Context, to sdk.Addr, msg proto.Message) (proto.Message, error) {
	req := &sdk.Event{Msg: msg, Kind: sdk.KindRequest, Dst: to.Service}
	req.SetDstNode(to.Node)
	ev, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return ev.Msg, nil
}

// Do sends the request ev (its Msg, or the undecoded payload of an event
// made with sdk.FromEnvelope) and waits for its answer, which it returns
// decoded. An error event is returned with its Err as the error.
func (c *Client) Do(ctx context.Context, ev *sdk.Event) (*sdk.Event, error) {
	if err := c.check(ev.DstNode()); err != nil {
		return nil, err
	}
	id := c.next.Add(1)
	req := *ev
	req.Kind, req.ID = sdk.KindRequest, id
	req.SetDstNode("")
	req.Route = sdk.Route{{Kind: sdk.HopEndpoint, Name: "client", ID: id}}
	ch := make(chan *sdk.Event, 1)
	if err := c.track(id, ch, nil); err != nil {
		return nil, err
	}
	forget := func() {
		c.mu.Lock()
		if c.calls != nil {
			delete(c.calls, id)
		}
		c.mu.Unlock()
	}
	if err := c.out.Push(&req); err != nil {
		forget()
		return nil, err
	}
	select {
	case rep := <-ch:
		if rep.Kind == sdk.KindError {
			return rep, rep.Err
		}
		if err := rep.Decode(); err != nil {
			return rep, err
		}
		return rep, nil
	case <-ctx.Done():
		forget()
		return nil, &sdk.DeliveryError{Code: sdk.CodeTimeout, Dst: ev.Dst, EventType: ev.Type(),
			Message: fmt.Sprintf("client: no answer from %s: %v", ev.Dst, ctx.Err())}
	}
}

// Send sends msg to the service to with no reply expected (a reply or an
// error event that comes back is dropped). It returns when the event is
// queued for the link.
func (c *Client) Send(to sdk.Addr, msg proto.Message) error {
	if err := c.check(to.Node); err != nil {
		return err
	}
	return c.out.Push(&sdk.Event{Msg: msg, Kind: sdk.KindRequest, ID: c.next.Add(1), Dst: to.Service})
}

func (c *Client) check(node string) error {
	if node != "" && node != "local" && node != c.addr {
		return &sdk.DeliveryError{Code: sdk.CodeNoService, Dst: node,
			Message: fmt.Sprintf("client: connected to %s, not %s: dial that node, or send to a relay service", c.addr, node)}
	}
	return nil
}

// Close closes the link; waiting requests return ErrLinkLost.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	return c.cc.Close()
}

// Done is closed when the link has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the link ended (nil while it is up).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) write(ctx context.Context, st grpc.ClientStream) {
	defer c.wg.Done()
	_, _ = link.WriteLoop(ctx, c.out, st, c.lim, func(ev *sdk.Event, err error) {
		c.deliver(&sdk.Event{Kind: sdk.KindError, ID: ev.ID,
			Err: &sdk.DeliveryError{Code: sdk.CodeBadEvent, EventType: ev.Type(), Message: err.Error()}})
	})
	c.cancel() // a failed write ends the stream, and so the reader
}

func (c *Client) read(st grpc.ClientStream) {
	defer c.wg.Done()
	f := new(link.Frame)
	var err error
recv:
	for {
		if err = st.RecvMsg(f); err != nil {
			break
		}
		for _, env := range f.Envelopes() {
			ev, ferr := sdk.FromEnvelope(env)
			if ferr != nil {
				if err = c.malformed(env, ferr); err != nil {
					break recv
				}
				continue
			}
			if ev.Kind == sdk.KindRequest {
				// A client serves nothing: answer so the sender is not left waiting.
				if len(ev.Route) > 0 {
					_ = c.out.Push(&sdk.Event{Kind: sdk.KindError, ID: ev.ID, Route: ev.Route,
						Err: &sdk.DeliveryError{Code: sdk.CodeNoService, Dst: ev.Dst, EventType: ev.Type(),
							Message: "client: a client connection serves no services"}})
				}
				continue
			}
			c.deliver(ev)
		}
	}
	c.cancel()
	lost := &sdk.DeliveryError{Code: sdk.CodeLinkLost, Hop: "node " + c.addr,
		Message: fmt.Sprintf("client: link to %s closed before the answer came (%v)", c.addr, err)}
	var bad *sdk.DeliveryError
	if errors.As(err, &bad) && bad.Code == sdk.CodeBadEvent {
		lost.Message = fmt.Sprintf("client: link to %s closed: %s", c.addr, bad.Message)
	}
	c.out.Close(lost)
	c.mu.Lock()
	calls, subs := c.calls, c.subs
	c.calls, c.subs, c.err = nil, nil, lost
	c.mu.Unlock()
	for id, ch := range calls {
		ch <- &sdk.Event{Kind: sdk.KindError, ID: id, Err: lost}
	}
	for _, sub := range subs {
		sub.end(lost)
	}
	close(c.done)
}

// malformed handles an envelope from the node that does not decode. An
// answer whose id matches a waiting call fails that call with
// ErrBadEvent. Anything else cannot be matched to a caller (its id may be
// the broken part), so the link is ended, with the returned error, rather
// than leave a call with no deadline waiting forever.
func (c *Client) malformed(env *mtpb.Envelope, err error) error {
	if env.GetKind() != mtpb.Envelope_REQUEST {
		bad := &sdk.Event{Kind: sdk.KindError, ID: env.GetId(), Err: &sdk.DeliveryError{Code: sdk.CodeBadEvent,
			EventType: env.GetType(), Hop: "node " + c.addr,
			Message: fmt.Sprintf("client: %s sent a malformed answer: %v", c.addr, err)}}
		if c.deliver(bad) {
			return nil
		}
	}
	return &sdk.DeliveryError{Code: sdk.CodeBadEvent, EventType: env.GetType(), Hop: "node " + c.addr,
		Message: fmt.Sprintf("%s sent a malformed envelope (kind %d, id %d) no call can be matched to: %v; check that client and node run the same protocol",
			c.addr, env.GetKind(), env.GetId(), err)}
}

// track registers the call ch, or the subscription sub, as waiting for
// the answers to id. Once the link has ended it returns why instead.
func (c *Client) track(id uint64, ch chan *sdk.Event, sub *Subscription) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil { // the link has ended: subs is nil too
		return c.err
	}
	if sub != nil {
		c.subs[id] = sub
	} else {
		c.calls[id] = ch
	}
	return nil
}

// deliver completes the call an answer belongs to, or passes it to its
// subscription. It reports whether either was waiting for it.
func (c *Client) deliver(ev *sdk.Event) bool {
	c.mu.Lock()
	ch := c.calls[ev.ID]
	delete(c.calls, ev.ID)
	sub := c.subs[ev.ID]
	c.mu.Unlock()
	switch {
	case ch != nil:
		ch <- ev
	case sub != nil:
		sub.offer(ev)
	default:
		return false
	}
	return true
}

// Subscribe sends the request msg to the service to and returns a
// Subscription that receives every answer to it, for services that answer
// one request many times: a Timer's ticks (timerpb.SetTimer), RPC's link
// events (rpcpb.Subscribe), a service of your own that pushes updates.
// Answers arrive in order, decoded; an error event arrives as an event with
// Kind sdk.KindError and its Err set. After an error that means nothing
// more can come (the request or the way back did not get through: no such
// service, an event type it does not take, a lost link...) the subscription
// ends with that error; after a service's own failure (a handler error, a
// full queue) it goes on.
//
// The Subscription buffers up to buffer answers (64 when buffer < 1). The
// link's reader never waits for a slow subscriber: when the buffer is full,
// the subscription ends, Err says how many answers it held, and later
// answers to it are dropped. Close it when done; the service may go on
// answering (stop it with its own request, such as timerpb.StopTimer), and
// those answers are dropped by the client.
func (c *Client) Subscribe(to sdk.Addr, msg proto.Message, buffer int) (*Subscription, error) {
	if err := c.check(to.Node); err != nil {
		return nil, err
	}
	if buffer < 1 {
		buffer = 64
	}
	id := c.next.Add(1)
	sub := &Subscription{c: c, id: id, ch: make(chan *sdk.Event, buffer), ended: make(chan struct{})}
	if err := c.track(id, nil, sub); err != nil {
		return nil, err
	}
	req := &sdk.Event{Msg: msg, Kind: sdk.KindRequest, ID: id, Dst: to.Service,
		Route: sdk.Route{{Kind: sdk.HopEndpoint, Name: "client", ID: id}}}
	if err := c.out.Push(req); err != nil {
		sub.Close()
		return nil, err
	}
	return sub, nil
}

// Subscription receives the answers to one request; see Client.Subscribe.
type Subscription struct {
	c  *Client
	id uint64
	ch chan *sdk.Event

	mu    sync.Mutex // orders offer, end and Close
	err   error
	ended chan struct{}
}

// Events returns the answers, in order. The channel is closed when the
// subscription ends: Close, the end of the link, or a full buffer (see
// Err).
func (s *Subscription) Events() <-chan *sdk.Event { return s.ch }

// Err says why the subscription ended: nil while it runs and after Close,
// ErrLinkLost when the link ended, ErrQueueFull when the subscriber fell
// behind, or the error event after which nothing more can come.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription; answers that come later are dropped.
func (s *Subscription) Close() {
	s.forget()
	s.end(nil)
}

// offer passes an answer to the subscriber, or ends the subscription when
// the subscriber has not kept up. It never blocks.
func (s *Subscription) offer(ev *sdk.Event) {
	if ev.Kind != sdk.KindError {
		if err := ev.Decode(); err != nil {
			de, _ := err.(*sdk.DeliveryError)
			ev = &sdk.Event{Kind: sdk.KindError, ID: ev.ID, Err: de}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.ended:
		return
	default:
	}
	select {
	case s.ch <- ev:
		if ev.Kind == sdk.KindError && final(ev.Err) {
			s.forget()
			s.endLocked(ev.Err)
		}
		return
	default:
	}
	s.forget()
	s.endLocked(&sdk.DeliveryError{Code: sdk.CodeQueueFull, EventType: ev.Type(),
		Message: fmt.Sprintf("client: the subscriber fell behind: %d answers unread (read Events faster, or give Subscribe a larger buffer)", cap(s.ch))})
}

// final reports whether an error event means that no more answers can
// come: the request, or the way back, did not get through. A service's own
// failure (a handler error, a full queue, a refusal) leaves it running.
func final(err *sdk.DeliveryError) bool {
	switch sdk.CodeOf(err) {
	case sdk.CodeNoService, sdk.CodeUnknownEvent, sdk.CodeBadEvent, sdk.CodeStartFailed, sdk.CodeStopped,
		sdk.CodeRouteTooLong, sdk.CodeLinkLost, sdk.CodeNodeRestarted, sdk.CodePluginCrashed:
		return true
	}
	return false
}

// forget removes the subscription from its client: later answers to it are
// dropped.
func (s *Subscription) forget() {
	s.c.mu.Lock()
	if s.c.subs != nil {
		delete(s.c.subs, s.id)
	}
	s.c.mu.Unlock()
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(err)
}

func (s *Subscription) endLocked(err error) {
	select {
	case <-s.ended:
		return
	default:
	}
	s.err = err
	close(s.ended)
	close(s.ch)
}

// dialError says why the node at addr answered the link's stream with st:
// a refused token wraps link.ErrBadToken; otherwise one more TCP
// connection tells ErrUnreachable from ErrHandshake, which gRPC's error
// text does not.
func dialError(ctx context.Context, addr string, st *status.Status) error {
	if st.Code() == codes.Unauthenticated {
		return fmt.Errorf("client: %s refused the link: %w", addr, link.ErrBadToken)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(pctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %s: %s", ErrUnreachable, addr, st.Message())
	}
	conn.Close()
	return fmt.Errorf("%w: %s: %s", ErrHandshake, addr, st.Message())
}

func baseName() string {
	if len(os.Args) == 0 {
		return "?"
	}
	return filepath.Base(os.Args[0])
}
