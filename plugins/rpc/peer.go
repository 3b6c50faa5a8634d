package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtnode/mtnode/sdk"
)

// peerState says what a peer without a current link is doing.
type peerState uint8

const (
	peerIdle       peerState = iota // no dial loop; the next send starts one
	peerConnecting                  // dialling: sends wait in pending
	peerBackoff                     // the last dial failed: sends fail at once
)

// peer is a node address this node sends to. Its current link is either one
// it dialled or one the peer dialled and advertised this address on.
//
// A peer with no link, no dial loop and nothing pending is pruned from
// Service.peers (and marked gone); whoever still holds it looks it up again.
// Lock order: Service.mu, then peer.mu, then session.mu.
type peer struct {
	s    *Service
	addr string

	mu      sync.Mutex
	cur     *session
	state   peerState
	looping bool
	gone    bool // pruned: no longer in Service.peers
	pending []*sdk.Event
	lastErr error
	retryAt time.Time

	// used is set by every send and cleared by the dial loop, which keeps
	// the time it last found it set. Reading the clock on each send instead
	// cost the sender 5-10% of its time, for a timeout counted in minutes;
	// the idle time now starts at the first failed dial after the last send
	// rather than at the send itself.
	used atomic.Bool
}

// send carries a request to the peer, from any goroutine. It reports false,
// having done nothing, when the peer has been pruned: the caller looks the
// address up again.
func (p *peer) send(ev *sdk.Event) (bool, error) {
	if !p.used.Load() { // most sends find it set: a load is cheaper than a store
		p.used.Store(true)
	}
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return false, nil
	}
	if sess := p.cur; sess != nil {
		p.mu.Unlock()
		return true, sess.sendRequest(ev)
	}
	dial := false
	switch p.state {
	case peerBackoff:
		err := p.unreachable()
		p.mu.Unlock()
		return true, err
	case peerIdle:
		p.state = peerConnecting
		if !p.looping {
			p.looping, dial = true, true
		}
	}
	var err error
	if len(p.pending) >= p.s.cfg.maxPending {
		err = &sdk.DeliveryError{Code: sdk.CodeQueueFull, Hop: "node " + p.addr,
			Message: fmt.Sprintf("rpc: %d events already wait for the link to %s (raise RPC.maxPending)", len(p.pending), p.addr)}
	} else {
		p.pending = append(p.pending, ev)
	}
	p.mu.Unlock()
	if dial {
		p.s.startDial(p) // takes Service.mu: after peer.mu is released
	}
	return true, err
}

func (p *peer) unreachable() *sdk.DeliveryError {
	code := sdk.CodeLinkLost
	switch {
	case errors.Is(p.lastErr, sdk.ErrRefused):
		code = sdk.CodeRefused
	case errors.Is(p.lastErr, sdk.ErrNoService):
		code = sdk.CodeNoService // the address is this node's own
	}
	return &sdk.DeliveryError{Code: code, Hop: "node " + p.addr,
		Message: fmt.Sprintf("rpc: no link to %s (%v); retrying in %s", p.addr, p.lastErr, time.Until(p.retryAt).Round(time.Millisecond))}
}

// attach makes sess the peer's current link if it has none, and hands it
// the events that waited. A claim (an address an accepted link's Hello
// advertised) is taken only when this node has neither a link nor a dial
// loop of its own for the address. attach reports false, having done
// nothing, when the peer has been pruned.
func (p *peer) attach(sess *session, claim bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return false
	}
	if p.cur != nil || (claim && p.looping) {
		return true
	}
	p.cur = sess
	sess.mu.Lock()
	sess.peers = append(sess.peers, p)
	sess.mu.Unlock()
	pend := p.pending
	p.pending = nil
	for _, ev := range pend {
		if err := sess.sendRequest(ev); err != nil {
			p.s.wire.Fail(ev, sdk.CodeOf(err), err.Error())
		}
	}
	return true
}

// release drops sess as the current link; a peer left with nothing to do is
// pruned.
func (p *peer) release(sess *session) {
	p.mu.Lock()
	if p.cur != sess {
		p.mu.Unlock()
		return
	}
	p.cur = nil
	if p.state == peerIdle && !p.looping {
		p.mu.Unlock()
		p.s.prune(p)
		return
	}
	if p.state != peerBackoff {
		p.state = peerConnecting
	}
	p.mu.Unlock()
}

// prune forgets p if it has no link, no dial loop and nothing pending, so
// the peer table holds only addresses in use.
func (s *Service) prune(p *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone || p.cur != nil || p.looping || len(p.pending) > 0 || s.peers[p.addr] != p {
		return
	}
	p.gone = true
	delete(s.peers, p.addr)
}

// maxClaims is how many of a Hello's listen addresses an accepted link may
// become the current link of.
const maxClaims = 4

// adopt makes an accepted session the current link of the addresses its
// peer listens on, within limits, because a Hello's addresses are claims: an
// authenticated peer could advertise another node's address to draw this
// node's traffic for it. Only the first maxClaims addresses count; one is
// taken only if its host is the address the link came from (or both are
// loopback), and only while this node has no link or dial of its own to it
// (attach); an adopted claim never replaces a peer's link. A peer that
// listens on an unspecified address (0.0.0.0:P, [::]:P) claims, on this
// side, the address the link came from with that port, when it came over
// that family (a [::] listener takes IPv6 only).
func (s *Service) adopt(sess *session, remote string, addrs []string) {
	rhost, _, err := net.SplitHostPort(remote)
	if err != nil {
		return
	}
	rip := net.ParseIP(rhost)
	for _, a := range addrs[:min(len(addrs), maxClaims)] {
		host, port, err := net.SplitHostPort(a)
		ip := net.ParseIP(host)
		if err == nil && ip != nil && rip != nil && ip.IsUnspecified() && (ip.To4() != nil) == (rip.To4() != nil) {
			ip, a = rip, net.JoinHostPort(rhost, port) // its listener serves the family it came over
		}
		if err != nil || ip == nil || rip == nil || !(ip.Equal(rip) || ip.IsLoopback() && rip.IsLoopback()) {
			continue
		}
		for range 3 { // a pruned peer is looked up again
			if s.peer(a).attach(sess, true) {
				break
			}
		}
	}
}

// loop dials the peer, runs the link, and dials again with backoff when it
// dies, until ctx ends or nobody has sent to the unreachable peer for
// RPC.idleAfter.
func (p *peer) loop(ctx context.Context) {
	s := p.s
	defer func() {
		p.mu.Lock()
		pend := p.pending
		p.pending, p.looping = nil, false
		if p.cur == nil {
			p.state = peerIdle
		}
		p.mu.Unlock()
		for _, ev := range pend {
			s.wire.Fail(ev, sdk.CodeStopped, "rpc: the RPC service is stopping")
		}
		s.prune(p)
	}()
	failures := 0
	lastUse := time.Now() // when this loop last found used set
	for ctx.Err() == nil {
		p.mu.Lock()
		cur := p.cur
		if cur == nil {
			p.state = peerConnecting
		}
		p.mu.Unlock()
		if cur != nil {
			// The peer dialled us and we use its link; dial again only
			// when it ends.
			select {
			case <-cur.done:
				continue
			case <-ctx.Done():
				return
			}
		}
		sess, st, err := s.dial(ctx, p.addr)
		if err != nil {
			failures++
			wait := backoff(failures, s.cfg.reconnectMin, s.cfg.reconnectMax)
			p.mu.Lock()
			pend := p.pending
			p.pending = nil
			p.lastErr, p.retryAt = err, time.Now().Add(wait)
			if p.cur == nil {
				p.state = peerBackoff
			}
			de := p.unreachable()
			p.mu.Unlock()
			for _, ev := range pend {
				s.wire.Fail(ev, de.Code, de.Message)
			}
			level := slog.LevelDebug
			if failures == 1 {
				level = slog.LevelWarn
			}
			s.log.LogAttrs(ctx, level, "link dial failed", slog.String(sdk.KeyPeer, p.addr),
				slog.String(sdk.KeyErr, err.Error()), slog.Duration("retry", wait), slog.Int("failures", failures))
			if errors.Is(err, sdk.ErrNoService) {
				return // the address is this node's: later sends are local
			}
			if p.used.Swap(false) {
				lastUse = time.Now()
			}
			if time.Since(lastUse) > s.cfg.idleAfter {
				return
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		failures = 0
		p.attach(sess, false) // a looping peer is never pruned: it takes sess
		sess.run(ctx, st)
		// Reconnect at once the first time: a restarted peer is usually
		// back; a dead one fails fast and backs off.
	}
}

// backoff returns the delay before dial attempt n+1: doubling from lo,
// capped at hi, with ±20% jitter so peers do not dial in step.
func backoff(n int, lo, hi time.Duration) time.Duration {
	return jittered(n, lo, hi, rand.Float64())
}

// jittered is backoff with its random draw r, in [0, 1), given: the delay
// before the cap is lo·2^(n-1), and the result lies in [0.8, 1.2] times the
// capped delay. It never overflows, whatever n and hi, and its loop runs at
// most 63 times.
func jittered(n int, lo, hi time.Duration, r float64) time.Duration {
	d := lo
	for i := 1; i < n && d > 0 && d < hi; i++ {
		if d > hi/2 {
			d = hi
			break
		}
		d *= 2
	}
	d = min(d, hi)
	j := float64(d) * (0.8 + 0.4*r)
	if j >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(j)
}
