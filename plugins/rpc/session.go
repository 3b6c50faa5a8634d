package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

// maxEpochs bounds the peer epochs remembered to tell a restarted peer.
const maxEpochs = 4096

// session is one established link: one socket link (or a client's gRPC
// stream) to one peer incarnation. Its link id (the LINK hops the kernel pushes for requests
// that arrive on it) is never reused, so a reply can only leave on the
// connection its request came in on.
type session struct {
	s       *Service
	id      uint64 // sdk.Wire link id
	addr    string // the peer's address: dialled, advertised or remote
	hello   *rpcpb.Hello
	dialled bool
	out     *link.Outbox
	cancel  func() // ends a dialled stream and its connection
	log     *slog.Logger

	mu       sync.Mutex
	inflight map[flightKey]*sdk.Event // nil once the session is closed
	peers    []*peer                  // peers this session is the current link of

	sent, received, refused atomic.Uint64 // refused: past RPC.maxInflight
	done                    chan struct{}
}

// flightKey identifies a request in flight on a link: its reply comes back
// on the same link with the same id and the same route it left with.
type flightKey struct {
	id  uint64
	n   int
	top sdk.Hop
}

func keyOf(ev *sdk.Event) (flightKey, bool) {
	n := len(ev.Route)
	if n == 0 {
		return flightKey{}, false // nobody to answer: not tracked
	}
	return flightKey{id: ev.ID, n: n, top: ev.Route[n-1]}, true
}

func (s *Service) newSession(addr string, h *rpcpb.Hello, dialled bool, cancel func()) *session {
	sess := &session{
		s: s, addr: addr, hello: h, dialled: dialled, cancel: cancel,
		out:      link.NewOutbox(s.cfg.maxPending),
		inflight: map[flightKey]*sdk.Event{},
		done:     make(chan struct{}),
	}
	sess.id = s.wire.AttachLink("node "+addr, sess.sendReply)
	sess.log = s.log.With(slog.String(sdk.KeyPeer, addr), slog.Uint64(sdk.KeyLink, sess.id))
	restarted := false
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	if old, ok := s.epochs[addr]; ok && old != h.GetEpoch() {
		restarted = true
	}
	if dialled || len(h.GetListen()) > 0 { // a node, not a client: its address is stable
		if _, ok := s.epochs[addr]; !ok && len(s.epochs) >= maxEpochs {
			for a := range s.epochs { // forget any one: only LinkUp.restarted depends on it
				delete(s.epochs, a)
				break
			}
		}
		s.epochs[addr] = h.GetEpoch()
	}
	s.mu.Unlock()
	sess.log.LogAttrs(context.Background(), slog.LevelInfo, "link up",
		slog.String(sdk.KeyPeerNode, h.GetNode()), slog.Uint64(sdk.KeyPeerEpoch, h.GetEpoch()),
		slog.Bool("dialled", dialled), slog.Bool("restarted", restarted))
	s.notify(sess.upEvent(restarted), nil)
	return sess
}

func (sess *session) upEvent(restarted bool) *rpcpb.LinkUp {
	return &rpcpb.LinkUp{Peer: sess.addr, Node: sess.hello.GetNode(), Epoch: sess.hello.GetEpoch(),
		Dialled: sess.dialled, Restarted: restarted}
}

func (sess *session) info() *rpcpb.LinkInfo {
	sess.mu.Lock()
	n := len(sess.inflight)
	sess.mu.Unlock()
	return &rpcpb.LinkInfo{Peer: sess.addr, Node: sess.hello.GetNode(), Epoch: sess.hello.GetEpoch(),
		Dialled: sess.dialled, Sent: sess.sent.Load(), Received: sess.received.Load(), InFlight: uint64(n)}
}

// sendRequest queues a request for the peer and tracks it until its reply
// comes back. Past RPC.maxInflight tracked requests it refuses the request
// with an ErrQueueFull *sdk.DeliveryError. It is called from any goroutine.
func (sess *session) sendRequest(ev *sdk.Event) error {
	k, track := keyOf(ev)
	if track {
		sess.mu.Lock()
		if sess.inflight == nil {
			sess.mu.Unlock()
			return sess.lostErr()
		}
		if n := len(sess.inflight); n >= sess.s.cfg.maxInflight {
			// Refused, not sent untracked: an untracked request would wait
			// forever if the link died before its answer.
			sess.mu.Unlock()
			sess.refused.Add(1)
			return &sdk.DeliveryError{Code: sdk.CodeQueueFull, Hop: "node " + sess.addr,
				Message: fmt.Sprintf("rpc: %d requests already await answers on the link to %s (raise RPC.maxInflight or wait for answers)", n, sess.addr)}
		}
		sess.inflight[k] = ev
		sess.mu.Unlock()
	}
	// Counted before the push: once pushed, the event may be written, and
	// its answer come back and be counted, before this goroutine runs on.
	sess.sent.Add(1)
	if err := sess.out.Push(ev); err != nil {
		sess.sent.Add(^uint64(0))
		if track && !sess.untrack(k, ev) {
			return nil // the closing session has already failed it
		}
		return err
	}
	return nil
}

// sendReply is the link's send function: replies and error events whose
// route pops this link. An error event that names no hop failed on this
// node (the router's "no such service", for one): it leaves naming this
// node, so that the caller can tell where its request failed.
func (sess *session) sendReply(ev *sdk.Event) error {
	if ev.Kind == sdk.KindError && ev.Err != nil && ev.Err.Hop == "" {
		de := *ev.Err // the error may be shared with other events
		de.Hop = sess.s.node
		ev.Err = &de
	}
	sess.sent.Add(1) // before the push, as sendRequest counts
	if err := sess.out.Push(ev); err != nil {
		sess.sent.Add(^uint64(0))
		return err
	}
	return nil
}

// untrack forgets a request; it reports whether it was still tracked.
func (sess *session) untrack(k flightKey, ev *sdk.Event) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if cur, ok := sess.inflight[k]; ok && (ev == nil || cur == ev) {
		delete(sess.inflight, k)
		return true
	}
	return false
}

func (sess *session) lostErr() *sdk.DeliveryError {
	return &sdk.DeliveryError{Code: sdk.CodeLinkLost, Hop: "node " + sess.addr,
		Message: fmt.Sprintf("rpc: link to %s closed", sess.addr)}
}

// stream is the part of a link stream a session uses: a socket link's
// link.SocketStream, or a client's gRPC stream.
type stream interface {
	SendMsg(m any) error
	RecvMsg(m any) error
}

// run reads the stream until it ends, with a writer goroutine draining the
// outbox, then closes the session.
func (sess *session) run(ctx context.Context, st stream) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c, ok := st.(io.Closer); ok {
		// A socket's read does not watch ctx: closing it ends the read
		// when the writer fails or the service stops.
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
	}
	var (
		wg      sync.WaitGroup
		unsent  []*sdk.Event
		werr    error
		limits  = sess.s.cfg.limits.ForPeer(sess.s.cfg.maxMessage, sess.hello.GetMaxMessage())
		wireRef = sess.s.wire
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		unsent, werr = link.WriteLoop(ctx, sess.out, st, limits, func(ev *sdk.Event, err error) {
			if k, ok := keyOf(ev); ok && ev.Kind == sdk.KindRequest && !sess.untrack(k, ev) {
				return // the closing session fails it
			}
			if ev.Kind == sdk.KindReply && len(ev.Route) > 0 {
				// The requester is on the other side: it gets the error in
				// the reply's place, over this link, rather than wait.
				if sess.out.Push(&sdk.Event{Kind: sdk.KindError, ID: ev.ID, Route: ev.Route,
					Err: &sdk.DeliveryError{Code: sdk.CodeBadEvent, EventType: ev.Type(), Hop: sess.s.node,
						Message: "rpc: the reply could not be sent: " + err.Error()}}) == nil {
					return
				}
			}
			wireRef.Fail(ev, sdk.CodeBadEvent, err.Error())
		})
		cancel()
	}()
	var rerr error
	f := new(link.Frame)
	alloc := new(sdk.EventAlloc)
	for {
		if rerr = st.RecvMsg(f); rerr != nil {
			break
		}
		sess.receive(f.Envelopes(), alloc)
	}
	cancel()
	sess.cancel()
	wg.Wait()
	reason := rerr
	if werr != nil && !errors.Is(werr, context.Canceled) {
		reason = werr
	}
	sess.close(reason, unsent)
}

// receive hands a batch's events, made by alloc, to the node. The replies
// that Inline services send meanwhile on this link are written together,
// once the batch is handed over.
func (sess *session) receive(envs []*mtpb.Envelope, alloc *sdk.EventAlloc) {
	w := sess.s.wire
	sess.out.Hold()
	defer sess.out.Release()
	quiesced := sess.s.quiesced.Load()
	private := sess.s.cfg.private
	for _, env := range envs {
		if env.GetKind() == mtpb.Envelope_REQUEST {
			if quiesced {
				sess.received.Add(1)
				sess.answerError(env, errQuiesced)
				continue
			}
			if private[env.GetDst()] {
				sess.received.Add(1)
				sess.answerError(env, &sdk.DeliveryError{Code: sdk.CodeRefused,
					Message: fmt.Sprintf("rpc: %s takes no requests from other nodes or clients (it is in RPC.private on %s)", env.GetDst(), sess.s.node)})
				continue
			}
		} else if r := env.GetRoute(); len(r) > 0 && r[len(r)-1].GetKind() == mtpb.Hop_SERVICE && private[r[len(r)-1].GetName()] {
			// A private service sends no requests over links, so no answer
			// can be owed to it: this one is forged, to reach it anyway.
			sess.received.Add(1)
			sess.log.LogAttrs(context.Background(), slog.LevelWarn, "answer for a private service refused",
				slog.String(sdk.KeyService, r[len(r)-1].GetName()), slog.String(sdk.KeyEvent, env.GetType()))
			continue
		}
		ev, err := alloc.FromEnvelope(env)
		if err != nil {
			sess.refuse(env, err)
			continue
		}
		sess.received.Add(1)
		if ev.Kind == sdk.KindRequest {
			ev.SetDstNode("") // it has arrived: a peer cannot make this node dial a third one
		} else if k, ok := keyOf(ev); ok {
			sess.untrack(k, nil)
		}
		w.Inbound(sess.id, ev)
	}
}

// refuse answers a malformed envelope: a request gets an error envelope back
// along its raw route (the peer pops its own hops); anything else is logged.
func (sess *session) refuse(env *mtpb.Envelope, err error) {
	de, _ := err.(*sdk.DeliveryError)
	if de == nil {
		de = &sdk.DeliveryError{Code: sdk.CodeBadEvent, Message: err.Error()}
	}
	sess.log.LogAttrs(context.Background(), slog.LevelWarn, "malformed envelope from peer",
		slog.String(sdk.KeyEvent, env.GetType()), slog.Uint64(sdk.KeyReq, env.GetId()), slog.String(sdk.KeyErr, de.Error()))
	sess.answerError(env, de)
}

// errQuiesced answers the requests that peers send once this node has begun
// to stop.
var errQuiesced = &sdk.DeliveryError{Code: sdk.CodeStopped,
	Message: "rpc: the node is stopping and takes no new requests; send to another node, or again once it is back"}

// answerError answers the request env with an error event of de's code and
// message, sent back over this link along env's raw route (the peer pops
// its own hops). Anything but a request with a usable route gets nothing.
func (sess *session) answerError(env *mtpb.Envelope, de *sdk.DeliveryError) {
	if env.GetKind() != mtpb.Envelope_REQUEST || len(env.GetRoute()) == 0 || len(env.GetRoute()) > sdk.MaxRoute {
		return
	}
	ev, ferr := sdk.FromEnvelope(&mtpb.Envelope{Kind: mtpb.Envelope_ERROR, Id: env.GetId(), Route: env.GetRoute(),
		Error: &mtpb.Error{Code: mtpb.Code(de.Code), Message: de.Message, EventType: env.GetType(), Dst: env.GetDst(), Hop: sess.s.node}})
	if ferr != nil {
		return // the route itself is malformed: nowhere to answer
	}
	_ = sess.out.Push(ev)
}

// close ends the session: later replies for its link fail with
// ErrLinkLost, every request in flight on it fails with ErrLinkLost, and
// the peers it served look for another link.
func (sess *session) close(reason error, unsent []*sdk.Event) {
	s := sess.s
	s.wire.DetachLink(sess.id)
	rest := append(unsent, sess.out.Close(sess.lostErr())...)
	sess.mu.Lock()
	fl := sess.inflight
	sess.inflight = nil
	peers := sess.peers
	sess.peers = nil
	sess.mu.Unlock()

	for _, p := range peers {
		p.release(sess)
	}
	s.mu.Lock()
	delete(s.sessions, sess)
	// Subscribers that came over this link can never be reached again
	// (link ids are not reused): forget them.
	s.subs = s.withoutSubs(func(sub *sdk.Event) bool {
		n := len(sub.Route)
		return n > 0 && sub.Route[n-1].Kind == sdk.HopLink && sub.Route[n-1].ID == sess.id
	})
	s.mu.Unlock()

	why := "stream ended"
	switch {
	case status.Code(reason) == codes.Canceled:
		why = "the peer closed its stream" // a client's Close
	case reason != nil:
		why = reason.Error()
	}
	msg := fmt.Sprintf("rpc: link to %s lost before the answer came (%s)", sess.addr, why)
	dropped := 0
	for _, ev := range rest {
		if ev.Kind == sdk.KindRequest {
			if k, ok := keyOf(ev); ok && fl[k] == ev {
				continue // failed below
			}
			s.wire.Fail(ev, sdk.CodeLinkLost, msg)
			continue
		}
		// A reply the peer will never see (its request fails there with
		// ErrLinkLost): the node counts it as undeliverable.
		dropped++
		s.wire.Fail(ev, sdk.CodeLinkLost, msg)
	}
	for _, ev := range fl {
		s.wire.Fail(ev, sdk.CodeLinkLost, msg)
	}
	s.lost.Add(uint64(len(fl)))
	sess.log.LogAttrs(context.Background(), slog.LevelInfo, "link down",
		slog.String("reason", why), slog.Int("failed", len(fl)), slog.Int("replies_dropped", dropped),
		slog.Uint64("refused_inflight", sess.refused.Load()))
	s.notify(nil, &rpcpb.LinkDown{Peer: sess.addr, Node: sess.hello.GetNode(), Epoch: sess.hello.GetEpoch(),
		Reason: why, Failed: uint64(len(fl))})
	close(sess.done)
}
