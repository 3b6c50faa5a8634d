package webserver

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtnode/mtnode/plugins/webserver/internal/h1"
	"github.com/mtnode/mtnode/proto/webpb"
	"github.com/mtnode/mtnode/sdk"
)

// maxEarly bounds replies held for requests not registered yet (see
// onReply). Live ones are taken within microseconds; the rest are answers
// to requests that were already answered or timed out.
const maxEarly = 1 << 16

// replyTicks is the number of sweeper ticks in one reply timeout: a request
// whose reply does not come is answered 504 between one and
// 1+1/replyTicks reply timeouts after it was sent.
const replyTicks = 4

// DefaultReplyTimeout is the default of WebServer.replyTimeout.
const DefaultReplyTimeout = 30 * time.Second

// listener is one Listen: an h1 server whose requests go to target through
// an endpoint, and whose replies complete the waiting responses.
type listener struct {
	id          uint64
	target      sdk.Addr
	files       *h1.FileServer
	withHeaders bool
	srv         *h1.Server
	ep          sdk.Endpoint

	// What the Listen asked for (its addresses as given, its docRoot) and
	// the addresses bound: a Listen that asks again gets this listener.
	asked, docRoot string
	bound          []string
	pool           sync.Pool // *pending
	log            *slog.Logger

	// replyTimeout bounds the wait for a reply; the sweeper (sweep) answers
	// 504 past it. stop ends the sweeper.
	replyTimeout time.Duration
	stop         chan struct{}
	stopOnce     sync.Once

	// Counters.
	timedOut       atomic.Uint64 // requests answered 504: no reply in time
	droppedReplies atomic.Uint64 // replies refused because early was full

	mu      sync.Mutex
	tick    uint64              // sweeper ticks so far
	pending map[uint64]*pending // request id → waiting response
	early   map[uint64]earlyReply
}

// pending is a response waiting for its reply event.
type pending struct {
	w    *h1.ResponseWriter
	fr   h1.FileRequest // copies of what serving a file needs
	tick uint64         // listener.tick when the request was sent
}

// earlyReply is a reply that came before its request was registered.
type earlyReply struct {
	ev   *sdk.Event
	tick uint64
}

func newListener(id uint64, target sdk.Addr, files *h1.FileServer, withHeaders bool, replyTimeout time.Duration, log *slog.Logger) *listener {
	if replyTimeout <= 0 {
		replyTimeout = DefaultReplyTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &listener{
		id:           id,
		target:       target,
		files:        files,
		withHeaders:  withHeaders,
		log:          log,
		replyTimeout: replyTimeout,
		stop:         make(chan struct{}),
		pending:      make(map[uint64]*pending),
		early:        make(map[uint64]earlyReply),
	}
}

// ServeH1 turns an HTTP request into a webpb.Request event. It runs on the
// connection goroutine.
func (l *listener) ServeH1(w *h1.ResponseWriter, r *h1.Request) {
	req := &webpb.Request{
		Listener: l.id,
		Method:   method(r.Method),
		Target:   target(r),
	}
	if len(r.Body) > 0 {
		req.Body = append([]byte(nil), r.Body...)
	}
	if l.withHeaders {
		req.Headers = make([]*webpb.Header, len(r.Headers))
		for i, h := range r.Headers {
			req.Headers[i] = &webpb.Header{Name: string(h.Name), Value: string(h.Value)}
		}
		if r.RemoteAddr != nil {
			req.RemoteAddr = r.RemoteAddr.String()
		}
	}
	p, _ := l.pool.Get().(*pending)
	if p == nil {
		p = new(pending)
	}
	p.w = w
	if l.files != nil {
		fr := h1.FileRequestOf(r)
		p.fr = h1.FileRequest{
			Method:          []byte(req.Method),
			IfNoneMatch:     clone(fr.IfNoneMatch),
			IfModifiedSince: clone(fr.IfModifiedSince),
			Range:           clone(fr.Range),
			IfRange:         clone(fr.IfRange),
		}
	}
	w.Detach()
	// An inline service (or a quick one on another goroutine) may answer
	// before Send returns the id: onReply then parks the reply in early.
	id := l.ep.Send(l.target, req)
	l.mu.Lock()
	if e, ok := l.early[id]; ok {
		delete(l.early, id)
		l.mu.Unlock()
		l.complete(p, e.ev)
		return
	}
	p.tick = l.tick
	l.pending[id] = p
	l.mu.Unlock()
}

// onReply receives replies and error events, on whichever goroutine
// delivers them. A reply for no pending request is kept in early, because
// its request may still be between Send and its registration in ServeH1
// (an inline service answers before Send returns). The sweeper drops early
// entries after a reply timeout; when early is full before that, entries
// from earlier ticks (which no request can still be waiting to collect) go
// first, and only when all are from the current tick is the new reply
// refused and counted; its request then times out with a 504.
func (l *listener) onReply(ev *sdk.Event) {
	l.mu.Lock()
	p, ok := l.pending[ev.ID]
	if !ok {
		if len(l.early) >= maxEarly {
			for id, e := range l.early {
				if e.tick != l.tick {
					delete(l.early, id)
				}
			}
			if len(l.early) >= maxEarly {
				l.mu.Unlock()
				if n := l.droppedReplies.Add(1); n&(n-1) == 0 {
					l.log.Warn("webserver: replies for unknown requests overflow; reply dropped",
						"listener", l.id, "dropped_total", n, "limit", maxEarly)
				}
				return
			}
		}
		l.early[ev.ID] = earlyReply{ev: ev, tick: l.tick}
		l.mu.Unlock()
		return
	}
	delete(l.pending, ev.ID)
	l.mu.Unlock()
	l.complete(p, ev)
}

// sweep runs until the listener stops: every replyTimeout/replyTicks it
// answers 504 to requests that waited a reply timeout, and forgets early
// replies as old. One goroutine and one map scan per tick keep the request
// path free of timers.
func (l *listener) sweep(ctx context.Context) {
	t := time.NewTicker(max(l.replyTimeout/replyTicks, time.Millisecond))
	defer t.Stop()
	var expired []*pending
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.stop:
			return
		case <-t.C:
		}
		expired = l.expire(expired[:0])
		for _, p := range expired {
			l.timeout(p)
		}
		if n := len(expired); n > 0 {
			total := l.timedOut.Add(uint64(n))
			l.log.Warn("webserver: no reply in time; answered 504", "listener", l.id, "to", l.target.Service,
				"timeout", l.replyTimeout, "requests", n, "timed_out_total", total)
		}
		clear(expired)
	}
}

// expire advances the tick and takes the requests that waited more than
// replyTicks ticks out of pending, appending them to dst; it drops early
// replies as old.
func (l *listener) expire(dst []*pending) []*pending {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	for id, p := range l.pending {
		if l.tick-p.tick > replyTicks {
			delete(l.pending, id)
			dst = append(dst, p)
		}
	}
	for id, e := range l.early {
		if l.tick-e.tick > replyTicks {
			delete(l.early, id)
		}
	}
	return dst
}

// timeout answers p with 504 Gateway Timeout; the connection goes on.
func (l *listener) timeout(p *pending) {
	w := p.w
	w.SetStatus(504)
	w.WriteString("webserver: ")
	w.WriteString(l.target.Service)
	w.WriteString(" did not answer within ")
	w.WriteString(l.replyTimeout.String())
	w.WriteString(" (WebServer.replyTimeout)\n")
	w.Finish()
	*p = pending{}
	l.pool.Put(p)
}

// complete writes the reply ev as the response of p.
func (l *listener) complete(p *pending, ev *sdk.Event) {
	w := p.w
	resp, ok := ev.Msg.(*webpb.Response)
	switch {
	case ev.Kind == sdk.KindError:
		w.SetStatus(errorStatus(ev.Err))
		w.WriteString(l.target.Service)
		w.WriteString(" failed: ")
		if ev.Err != nil {
			w.WriteString(ev.Err.Error())
		}
		w.WriteString("\n")
	case !ok:
		w.SetStatus(500)
		w.WriteString("webserver: the service replied with " + ev.Type() + ", want mtnode.web.v1.Response\n")
	default:
		if s := resp.GetStatus(); s != 0 {
			w.SetStatus(int(s))
		}
		for _, h := range resp.GetHeaders() {
			w.AddHeader(h.GetName(), h.GetValue())
		}
		if resp.GetClose() {
			w.Close()
		}
		if f := resp.GetFile(); f != "" {
			if l.files == nil {
				w.SetStatus(500)
				w.WriteString("webserver: file response on a listener without doc_root\n")
				break
			}
			fr := p.fr
			fr.Path = []byte(f)
			l.files.Serve(w, fr)
			break
		}
		w.Write(resp.GetBody())
	}
	w.Finish()
	*p = pending{}
	l.pool.Put(p)
}

// shutdown stops the listener gracefully within ctx, then fails whatever
// still waits.
func (l *listener) shutdown(ctx context.Context) error {
	// The sweeper still runs here, so that a lost reply ends in a 504
	// rather than holding Shutdown for all of ctx.
	err := l.srv.Shutdown(ctx)
	l.stopOnce.Do(func() { close(l.stop) })
	l.ep.Close()
	if l.files != nil {
		l.files.Close()
	}
	l.mu.Lock()
	clear(l.pending)
	clear(l.early)
	l.mu.Unlock()
	return err
}

// errorStatus is the HTTP status of an error event in place of a reply:
// 500 for a handler's failure, 503 for a service too busy or stopping, 504
// for no answer in time, and 502 Bad Gateway for every failure to reach a
// service or to get its answer back (no such service, a lost link, a
// crashed plugin, an event the service does not take).
func errorStatus(err *sdk.DeliveryError) int {
	if err == nil {
		return 500
	}
	switch err.Code {
	case sdk.CodeHandlerFailed, sdk.CodeUnspecified:
		return 500
	case sdk.CodeQueueFull, sdk.CodeStopped, sdk.CodeStartFailed:
		return 503
	case sdk.CodeTimeout:
		return 504
	}
	return 502
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// method returns m as a string, without allocating for common methods.
func method(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	}
	return string(m)
}

// target returns t as a string, without allocating for "/".
// target returns r's request-target in origin form, as services route on
// it: an absolute-form target ("http://host/a?x", which a server must take
// though only proxies are sent it) becomes its path and query ("/a?x").
func target(r *h1.Request) string {
	t := r.Target
	if string(t) == "/" {
		return "/"
	}
	if len(t) > 0 && t[0] != '/' && t[0] != '*' {
		if r.Query == nil {
			return string(r.Path)
		}
		return string(r.Path) + "?" + string(r.Query)
	}
	return string(t)
}
