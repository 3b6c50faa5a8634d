package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtnode/mtnode/sdk"
)

// Service states.
const (
	stateStarting int32 = iota
	stateRunning
	stateStopping
	stateStopped
	stateFailed
)

var stateNames = [...]string{"starting", "running", "stopping", "stopped", "failed"}

// service is one constructed service: its implementation, its queues (one,
// N for Workers, none for Inline), its goroutines and its counters.
type service struct {
	n      *Node
	spec   sdk.Spec
	name   string
	impl   sdk.Service
	log    *slog.Logger
	conf   sdk.Config
	queues []*queue
	shard  func(*sdk.Event) uint64
	self   sdk.Route // [this service]: the route of every Send
	handle *svcHandle
	// quiesceAsked is set by quiesce and cleared by the loop that runs
	// Quiesce. The loop reads it per event: it sits among the fields
	// written once, away from the counters other goroutines write.
	quiesceAsked atomic.Bool
	// quiesceClaimed is won by whoever has Quiesce run: the node's
	// quiesce, or the service's own start once the node is quiescing.
	quiesceClaimed atomic.Bool

	state     atomic.Int32
	startDone chan struct{} // closed when Start has returned
	startErr  error         // set before startDone closes
	loops     sync.WaitGroup

	// Owned goroutines (Context.Go). The lifetime context is the one place a
	// context lives in a struct: it is the service's lifetime, created at
	// launch and cancelled at stop, as http.Server's base context is.
	life     context.Context
	cancel   context.CancelFunc
	owned    sync.WaitGroup
	ctxPool  sync.Pool // *svcContext, for Inline services
	stopOnce sync.Once
	stopErr  error
	stopBy   time.Time // the deadline of the service's Stop, set before its queues close

	quiesced chan struct{} // closed when Quiesce has returned (nil until asked)

	handled, sent, errs, queueFull, panics atomic.Uint64
	handlerNanos                           atomic.Int64
}

func newService(n *Node, spec sdk.Spec) *service {
	s := &service{
		n: n, spec: spec, name: spec.Name,
		log:       n.log.With(sdk.KeyService, spec.Name),
		conf:      n.cfg.Conf(spec.Name),
		shard:     spec.ShardKey(),
		startDone: make(chan struct{}),
	}
	s.self = sdk.Route{{Kind: sdk.HopService, Name: spec.Name}}
	s.handle = &svcHandle{s: s}
	s.life, s.cancel = context.WithCancel(context.Background())
	s.ctxPool.New = func() any { return &svcContext{s: s} }
	if !spec.IsInline() {
		limit := spec.QueueLimit()
		if limit <= 0 {
			limit = n.cfg.QueueLimit
		}
		limit = int(intMin(s.conf, s.log, "queueLimit", int64(limit), 1, "events queued for the service before senders get queue-full errors"))
		s.queues = make([]*queue, spec.WorkerCount())
		for i := range s.queues {
			s.queues[i] = newQueue(limit)
		}
	}
	return s
}

// launch constructs the implementation and starts the goroutines. Start
// runs first on worker 0's goroutine (or, for Inline services, right here,
// on the goroutine of the first sender).
func (s *service) launch() {
	if len(s.queues) == 0 {
		c := s.ctxPool.Get().(*svcContext)
		s.start(c)
		s.quiesceAfterStart(c)
		c.flush()
		return
	}
	for i, q := range s.queues {
		s.loops.Add(1)
		go s.run(i, q)
	}
}

// start calls New and Start, recovering a panic in either.
func (s *service) start(c *svcContext) {
	defer close(s.startDone)
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		s.impl = s.spec.New()
		if s.impl == nil {
			return errors.New("constructor returned nil")
		}
		if st, ok := s.impl.(sdk.Starter); ok {
			c.ev = nil
			defer c.flush()
			return st.Start(c)
		}
		return nil
	}()
	if err != nil {
		s.startFailed(err)
		return
	}
	s.state.Store(stateRunning)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.LogAttrs(context.Background(), slog.LevelDebug, "service started")
	}
}

// startFailed records a failed Start and fails what is queued.
//
//go:noinline
func (s *service) startFailed(err error) {
	s.startErr = err
	s.state.Store(stateFailed)
	s.log.LogAttrs(context.Background(), slog.LevelError, "service failed to start", slog.String(sdk.KeyErr, err.Error()))
	s.n.remove(s)
	de := &sdk.DeliveryError{Code: sdk.CodeStartFailed, Message: fmt.Sprintf("%s failed to start: %v", s.name, firstLine(err))}
	for _, q := range s.queues {
		q.close(de)
	}
	s.cancel()
}

// run is one queue's consumer loop.
func (s *service) run(i int, q *queue) {
	defer s.loops.Done()
	c := &svcContext{s: s}
	if i == 0 {
		s.start(c)
		s.quiesceAfterStart(c)
	} else {
		<-s.startDone
	}
	if s.startErr != nil {
		de := &sdk.DeliveryError{Code: sdk.CodeStartFailed, Message: fmt.Sprintf("%s failed to start: %v", s.name, firstLine(s.startErr))}
		for _, ev := range q.take(s.name) {
			s.n.router.Fail(ev, de.Code, de.Message, s.n.cfg.Name)
		}
		return
	}
	var batch []item
	for {
		var done bool
		if batch, done = q.pop(batch); done {
			break
		}
		// Handler time is sampled: one batch in 16 is timed and counted 16
		// times, because reading the clock costs as much as a small handler.
		sampled := c.batches&15 == 0
		c.batches++
		var t0 time.Time
		if sampled {
			t0 = time.Now()
		}
		s.dispatchBatch(c, batch)
		if sampled {
			s.handlerNanos.Add(16 * int64(time.Since(t0)))
		}
	}
	// A queued service's last act on its goroutine: Stop, after the drain.
	// A Workers service is stopped by stop(), once every worker's loop has
	// ended.
	if len(s.queues) == 1 {
		s.stopImpl()
	}
}

// deliver hands ev to the service: into a queue, or straight to the handler
// for Inline services.
func (s *service) deliver(ev *sdk.Event) error {
	switch len(s.queues) {
	case 0:
		<-s.startDone
		if s.startErr != nil {
			return &sdk.DeliveryError{Code: sdk.CodeStartFailed, Message: fmt.Sprintf("%s failed to start: %v", s.name, firstLine(s.startErr))}
		}
		if st := s.state.Load(); st != stateRunning {
			return &sdk.DeliveryError{Code: sdk.CodeStopped, Message: s.name + " is stopped"}
		}
		c := s.ctxPool.Get().(*svcContext)
		s.dispatch(c, ev)
		c.ev = nil
		c.flush()
		s.ctxPool.Put(c)
		return nil
	case 1:
		return s.push(s.queues[0], ev)
	default:
		var k uint64
		if s.shard != nil {
			k = s.shard(ev)
		} else {
			k = ev.ID
		}
		return s.push(s.queues[k%uint64(len(s.queues))], ev)
	}
}

func (s *service) push(q *queue, ev *sdk.Event) error {
	err := q.push(ev)
	if err != nil {
		s.refused(err)
	}
	return err
}

// queueBatch queues evs, in order, into the one queue of s under one lock
// (see queue.pushBatch). The events it refuses are counted and answered
// with error events, as push's refusals are.
func (s *service) queueBatch(evs []*sdk.Event) {
	refused, err := s.queues[0].pushBatch(evs)
	for _, ev := range refused {
		s.refused(err)
		s.n.router.Refuse(ev, err)
	}
}

// refused counts an event refused by one of s's queues with err. A reply that
// is then dropped is counted by the router (Node.DroppedReplies); one
// refused to Handle.TryReplyTo is not dropped: its sender still holds it.
func (s *service) refused(err error) {
	if err == errQueueFull {
		s.queueFull.Add(1)
	}
}

// dispatch runs the handler for one event and turns a failure into an error
// event for the sender. It keeps its frame small (the slow paths are in
// functions of their own) so that an idle service's goroutine stays on its
// initial 2 KiB stack.
func (s *service) dispatch(c *svcContext, ev *sdk.Event) {
	if !ev.Decoded() {
		if err := ev.Decode(); err != nil {
			s.errs.Add(1)
			s.failEvent(ev, err)
			return
		}
	}
	c.ev = ev
	err := s.call(c, ev)
	s.handled.Add(1)
	if err != nil {
		s.handlerFailed(ev, err)
	}
}

// dispatchBatch runs the handler for each event of a batch, and counts them
// and the events they sent once for the batch (the counters are read by
// Stats, not by the handlers).
func (s *service) dispatchBatch(c *svcContext, batch []item) {
	c.calls = 0
	for i := 0; i < len(batch); {
		i = s.dispatchFrom(c, batch, i)
	}
	s.handled.Add(c.calls)
	c.flush()
}

// dispatchFrom runs the handler for batch[i:] under one deferred recover,
// which costs far less than one per event. After a panic it returns the
// index of the event after the one that panicked, and dispatchBatch carries
// on from there.
func (s *service) dispatchFrom(c *svcContext, batch []item, i int) (next int) {
	defer func() {
		if p := recover(); p != nil {
			// An event made from an item's parts is c.ev: Handle,
			// the one call that can panic, runs just after it is set.
			ev := batch[next].ev
			if ev == nil {
				ev = c.ev
			}
			s.panicked(ev, p)
			next++
		}
	}()
	for next = i; next < len(batch); next++ {
		it := &batch[next]
		if s.quiesceAsked.Load() && s.quiesceAsked.CompareAndSwap(true, false) {
			s.runQuiesce(c) // between two events, even within a batch
		}
		if it.kind == kindQuiesce {
			continue // its work was done just above
		}
		ev := it.ev
		if ev == nil {
			ev = c.received(it, len(batch)-next)
		} else if !ev.Decoded() {
			if err := ev.Decode(); err != nil {
				s.errs.Add(1)
				s.failEvent(ev, err)
				continue
			}
		}
		c.ev = ev
		c.calls++
		if err := s.impl.Handle(c, ev); err != nil {
			s.handlerFailed(ev, err)
		}
	}
	return next
}

// handlerFailed logs and counts a handler's error and answers a request
// with an error event.
//
//go:noinline
func (s *service) handlerFailed(ev *sdk.Event, err error) {
	if sdk.IsUnhandledError(err) {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "unhandled error event",
			slog.Uint64(sdk.KeyReq, ev.ID), slog.String(sdk.KeyErr, ev.Err.Error()))
		return
	}
	s.errs.Add(1)
	level := slog.LevelError
	if errors.Is(err, sdk.ErrUnknownEvent) {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.Background(), level, "handler failed",
		slog.String(sdk.KeyEvent, ev.Type()), slog.String("kind", ev.Kind.String()),
		slog.Uint64(sdk.KeyReq, ev.ID), slog.String(sdk.KeyErr, err.Error()))
	if ev.Kind == sdk.KindRequest {
		s.failEvent(ev, err)
	}
}

func (s *service) failEvent(ev *sdk.Event, err error) {
	var de *sdk.DeliveryError
	if !errors.As(err, &de) {
		de = &sdk.DeliveryError{Code: sdk.CodeHandlerFailed, Message: fmt.Sprintf("%s: %s", s.name, firstLine(err))}
	}
	s.n.router.Fail(ev, de.Code, de.Message, s.n.cfg.Name)
}

// call runs Handle; a panic is recovered and handled by panicked.
func (s *service) call(c *svcContext, ev *sdk.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.panicked(ev, p)
			err = nil
		}
	}()
	return s.impl.Handle(c, ev)
}

// panicked counts and logs a handler's panic once, with its stack (call it
// from the deferred recover, while the panicking frames are still on the
// stack), and answers a request with an error event.
//
//go:noinline
func (s *service) panicked(ev *sdk.Event, p any) {
	s.panics.Add(1)
	s.log.LogAttrs(context.Background(), slog.LevelError, "handler panicked",
		slog.String(sdk.KeyEvent, ev.Type()), slog.String("kind", ev.Kind.String()), slog.Uint64(sdk.KeyReq, ev.ID),
		slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
	if ev.Kind == sdk.KindRequest {
		s.failEvent(ev, &sdk.DeliveryError{Code: sdk.CodeHandlerFailed, Message: fmt.Sprintf("%s panicked: %v", s.name, p)})
	}
}

// kindQuiesce marks the node's control event that wakes a queued service to
// quiesce (see sdk.Quiescer). It never leaves the node and is never handled.
const kindQuiesce sdk.Kind = 255

// quiesce asks the service to take no new outside work, when it implements
// sdk.Quiescer: on its own goroutine, between the event it is handling and
// the next one (for Inline services, on a new goroutine). It returns a
// channel closed once Quiesce has returned, or nil when there is nothing to
// wait for.
func (s *service) quiesce() <-chan struct{} {
	if s.state.Load() != stateRunning {
		return nil
	}
	if _, ok := s.impl.(sdk.Quiescer); !ok {
		return nil
	}
	if !s.quiesceClaimed.CompareAndSwap(false, true) {
		return nil // it quiesced at its start
	}
	s.quiesced = make(chan struct{})
	if len(s.queues) == 0 {
		// An Inline service is safe on any goroutine; one of its own keeps
		// a slow Quiesce from holding up the other services' and the drain.
		go func() {
			c := s.ctxPool.Get().(*svcContext)
			s.runQuiesce(c)
			c.flush()
			s.ctxPool.Put(c)
		}()
		return s.quiesced
	}
	// The flag makes the loop run Quiesce before its next event, even in
	// the middle of a batch; the control event wakes an idle loop.
	s.quiesceAsked.Store(true)
	if err := s.queues[0].pushFront(&sdk.Event{Kind: kindQuiesce}); err != nil {
		return nil // already stopping
	}
	return s.quiesced
}

// quiesceAfterStart has a service that started once its node was
// quiescing (Node.Quiesce) quiesce at once, on the goroutine that started
// it: for a queued service, before its first event. It runs after
// startDone has closed, so that either it sees the node quiescing or the
// node's quiesce sees it started.
func (s *service) quiesceAfterStart(c *svcContext) {
	if s.startErr != nil || !s.n.quiescing.Load() {
		return
	}
	if _, ok := s.impl.(sdk.Quiescer); !ok || !s.quiesceClaimed.CompareAndSwap(false, true) {
		return
	}
	s.quiesced = make(chan struct{})
	s.runQuiesce(c)
}

// runQuiesce calls Quiesce, recovering a panic, and closes s.quiesced.
//
//go:noinline
func (s *service) runQuiesce(c *svcContext) {
	defer close(s.quiesced)
	defer func() {
		if p := recover(); p != nil {
			s.panics.Add(1)
			s.log.LogAttrs(context.Background(), slog.LevelError, "quiesce panicked",
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		}
	}()
	c.ev = nil
	s.impl.(sdk.Quiescer).Quiesce(c)
}

// stop closes the queues (the loops drain them), calls Stop, cancels owned
// goroutines and waits for everything, bounded by ctx.
func (s *service) stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		<-s.startDone
		if s.startErr != nil {
			return
		}
		s.stopBy = time.Now().Add(s.n.cfg.ShutdownTimeout)
		if d, ok := ctx.Deadline(); ok {
			s.stopBy = d
		}
		s.state.Store(stateStopping)
		de := &sdk.DeliveryError{Code: sdk.CodeStopped, Message: s.name + " is stopping"}
		for _, q := range s.queues {
			q.close(de)
		}
		done := make(chan struct{})
		go func() {
			s.loops.Wait()
			if len(s.queues) != 1 {
				s.stopImpl() // inline and multi-worker services stop here
			}
			s.cancel()
			s.owned.Wait()
			close(done)
		}()
		select {
		case <-done:
			s.state.Store(stateStopped)
		case <-ctx.Done():
			s.stopErr = fmt.Errorf("core: %s did not stop in time: %w", s.name, ctx.Err())
			s.cancel()
		}
	})
	return s.stopErr
}

// stopImpl calls the service's Stop once the queue is drained.
func (s *service) stopImpl() {
	if st, ok := s.impl.(sdk.Stopper); ok {
		ctx, cancel := context.WithDeadline(context.Background(), s.stopBy)
		defer cancel()
		func() {
			defer func() {
				if p := recover(); p != nil {
					s.log.LogAttrs(ctx, slog.LevelError, "stop panicked", slog.Any("panic", p))
				}
			}()
			if err := st.Stop(ctx); err != nil {
				s.log.LogAttrs(ctx, slog.LevelError, "service stop failed", slog.String(sdk.KeyErr, err.Error()))
			}
		}()
	}
}

func (s *service) pending() int {
	total := 0
	for _, q := range s.queues {
		l, _, _ := q.stats()
		total += l
	}
	return total
}

func (s *service) info() sdk.ServiceInfo {
	in := sdk.ServiceInfo{
		Name: s.name, Where: "node", State: stateNames[s.state.Load()], Delivery: delivery(s.spec),
		Handled: s.handled.Load(), Sent: s.sent.Load(), Errors: s.errs.Load(),
		QueueFull: s.queueFull.Load(), Panics: s.panics.Load(),
		HandlerTime: time.Duration(s.handlerNanos.Load()),
	}
	for _, q := range s.queues {
		l, h, lim := q.stats()
		in.QueueLen += l
		in.QueueHigh = max(in.QueueHigh, h)
		in.QueueLimit += lim
	}
	return in
}

func delivery(spec sdk.Spec) string {
	switch {
	case spec.IsInline():
		return "inline"
	case spec.WorkerCount() > 1:
		return fmt.Sprintf("workers=%d", spec.WorkerCount())
	}
	return "queue"
}

func firstLine(err error) string {
	msg := err.Error()
	for i := 0; i < len(msg); i++ {
		if msg[i] == '\n' {
			return msg[:i]
		}
	}
	return msg
}
