package timer

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name: its address, config prefix and Start= entry.
const Name = "Timer"

// Spec registers the Timer service.
var Spec = sdk.Define(Name, New)

// Defaults of the config keys.
const (
	DefaultMaxTimers = 10_000_000
	DefaultMinPeriod = time.Millisecond
	DefaultFireBatch = 10_000
)

// maxDelay bounds delays and periods (about 146 years), so that deadlines
// never overflow.
const maxDelay = math.MaxInt64 >> 1

// never is the deadline of an unarmed clock.
const never = math.MaxInt64

// Service is the Timer service. All its state belongs to its goroutine;
// only the clock goroutine's wake flag is shared.
type Service struct {
	mux  sdk.Mux
	heap heap4
	idx  index
	live int // entries not cancelled or fired

	maxTimers int
	minPeriod int64
	fireBatch int

	// Service time is nanoseconds since epoch, read from the node clock
	// (monotonic when the clock is time.Now).
	epoch     time.Time
	epochUnix int64

	armed       int64          // deadline the clock sleeps towards (never: none)
	arm         chan time.Time // latest wake-up instant, to the clock goroutine
	wakePending atomic.Bool    // a Wake is queued; the clock does not post another
	manual      bool           // no clock goroutine: tests send Wake themselves

	// to is the request a tick answers, rebuilt for each tick: ReplyTo
	// reads its id and route and keeps nothing, so one will do, and a fire
	// of many ticks allocates only the ticks and their events.
	to sdk.Event
}

// New returns a Timer service, ready for Spec.
func New() sdk.Service { return newService() }

func newService() *Service {
	s := &Service{idx: newIndex(), armed: never}
	sdk.On(&s.mux, s.onSetAlarm)
	sdk.On(&s.mux, s.onResetAlarm)
	sdk.On(&s.mux, s.onSetTimer)
	sdk.On(&s.mux, s.onStopAlarm)
	sdk.On(&s.mux, s.onStopTimer)
	sdk.On(&s.mux, s.onWake)
	sdk.On(&s.mux, s.onList)
	s.mux.OnError(func(sdk.Context, *sdk.Event) error { return nil }) // the Timer sends no requests
	return s
}

// Start reads the config and starts the clock goroutine.
func (s *Service) Start(c sdk.Context) error {
	conf := c.Config()
	s.maxTimers = int(conf.Int("maxTimers", DefaultMaxTimers, "pending alarms and timers at most; past it SetAlarm and SetTimer get an error event"))
	s.minPeriod = int64(conf.Duration("minPeriod", DefaultMinPeriod, "shortest period SetTimer accepts"))
	s.fireBatch = int(conf.Int("fireBatch", DefaultFireBatch, "ticks sent per wake-up before the Timer lets queued requests in"))
	if s.maxTimers < 1 {
		s.maxTimers = DefaultMaxTimers
	}
	if s.minPeriod < 1 {
		s.minPeriod = 1
	}
	if s.fireBatch < 1 {
		s.fireBatch = DefaultFireBatch
	}
	s.epoch = c.Now()
	s.epochUnix = s.epoch.UnixNano()
	if !s.manual {
		s.arm = make(chan time.Time, 1)
		h := c.Handle()
		c.Go(func(ctx context.Context) { s.runClock(ctx, h) })
	}
	return nil
}

// Stop releases the pending entries.
func (s *Service) Stop(context.Context) error {
	s.heap = heap4{}
	s.idx = newIndex()
	s.live = 0
	return nil
}

// Handle implements sdk.Service.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Types returns the event types the Timer takes, for the plugin manifest.
func (s *Service) Types() []string { return s.mux.Types() }

func (s *Service) onSetAlarm(c sdk.Context, m *timerpb.SetAlarm) error {
	d, err := seconds("SetAlarm", "delay", m.GetDelay())
	if err != nil {
		return err
	}
	return s.add(c, m.GetId(), m.GetData(), m.GetCookie(), d, 0)
}

func (s *Service) onResetAlarm(c sdk.Context, m *timerpb.ResetAlarm) error {
	d, err := seconds("ResetAlarm", "delay", m.GetDelay())
	if err != nil {
		return err
	}
	s.cancel(c, false, m.GetId(), m.GetData())
	return s.add(c, m.GetId(), m.GetData(), m.GetCookie(), d, 0)
}

func (s *Service) onSetTimer(c sdk.Context, m *timerpb.SetTimer) error {
	p, err := seconds("SetTimer", "period", m.GetPeriod())
	if err != nil {
		return err
	}
	if p < s.minPeriod {
		return sdk.Errorf(sdk.CodeBadEvent, "timer: SetTimer period %gs is shorter than Timer.minPeriod (%v); use a longer period or lower Timer.minPeriod",
			m.GetPeriod(), time.Duration(s.minPeriod))
	}
	return s.add(c, m.GetId(), m.GetData(), m.GetCookie(), p, p)
}

func (s *Service) onStopAlarm(c sdk.Context, m *timerpb.StopAlarm) error {
	s.cancel(c, false, m.GetId(), m.GetData())
	return nil
}

func (s *Service) onStopTimer(c sdk.Context, m *timerpb.StopTimer) error {
	s.cancel(c, true, m.GetId(), m.GetData())
	return nil
}

func (s *Service) onWake(c sdk.Context, _ *timerpb.Wake) error {
	s.wakePending.Store(false)
	s.fire(c)
	return nil
}

// seconds converts a delay in seconds to nanoseconds, refusing what no clock
// can wait for.
func seconds(req, field string, v float64) (int64, error) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, sdk.Errorf(sdk.CodeBadEvent, "timer: %s %s is %v; give a finite number of seconds", req, field, v)
	case v < 0:
		return 0, sdk.Errorf(sdk.CodeBadEvent, "timer: %s %s is %gs; give a number of seconds >= 0", req, field, v)
	case v*1e9 > maxDelay:
		return 0, sdk.Errorf(sdk.CodeBadEvent, "timer: %s %s is %gs, more than the longest delay (%.0fs)", req, field, v, maxDelay/1e9)
	}
	return int64(math.Round(v * 1e9)), nil
}

// now returns the service time.
func (s *Service) now(c sdk.Context) int64 { return int64(c.Now().Sub(s.epoch)) }

// add arms an entry for the current event's requester.
func (s *Service) add(c sdk.Context, id uint64, data, cookie []byte, delay, period int64) error {
	ev := c.Event()
	if len(ev.Route) == 0 {
		return sdk.Errorf(sdk.CodeBadEvent, "timer: request has no route for its ticks; send it from a service or an endpoint")
	}
	if s.live >= s.maxTimers {
		return sdk.Errorf(sdk.CodeRefused, "timer: %d alarms and timers are pending, the limit; raise Timer.maxTimers or stop unused timers", s.live)
	}
	if len(data) == 0 {
		data = nil
	}
	if len(cookie) == 0 {
		cookie = nil
	}
	i := s.idx.add(entry{period: period, reqID: ev.ID, id: id, req: s.idx.intern(ev.Route), data: data, cookie: cookie})
	s.live++
	at := s.now(c) + delay
	s.heap.Push(item{at: at, idx: i})
	if at < s.armed {
		s.rearm(c, at)
	}
	return nil
}

// cancel stops the current requester's entries with the key.
func (s *Service) cancel(c sdk.Context, periodic bool, id uint64, data []byte) {
	if len(data) == 0 {
		data = nil
	}
	s.live -= s.idx.cancel(c.Event().Route, periodic, id, data)
	s.compact()
}

// compact drops tombstones once they are more than half of the heap, so the
// slots of cancelled entries can be reused.
func (s *Service) compact() {
	if n := s.heap.Len(); n >= 64 && n-s.live > n/2 {
		s.heap.Filter(func(it item) bool {
			if s.idx.at(it.idx).dead() {
				s.idx.release(it.idx)
				return false
			}
			return true
		})
	}
	s.shrink()
}

// shrink gives back the slab's memory once nothing is pending (the heap
// refers to no slot, so every slot is free), unless it is a single chunk.
func (s *Service) shrink() {
	if s.heap.Len() == 0 && len(s.idx.chunks) > 1 {
		s.idx.reset()
	}
}

// fire sends the ticks that are due, up to fireBatch, and re-arms the clock.
func (s *Service) fire(c sdk.Context) {
	s.armed = never
	t := c.Now()
	now := int64(t.Sub(s.epoch))
	firedAt := t.UnixNano()
	for n := 0; s.heap.Len() > 0; {
		top := s.heap.Top()
		e := s.idx.at(top.idx)
		if e.dead() {
			s.heap.Pop()
			s.idx.release(top.idx)
			continue
		}
		if top.at > now {
			break
		}
		if n == s.fireBatch {
			s.to = sdk.Event{}
			s.wakeSoon(c, now)
			return
		}
		n++
		s.to = sdk.Event{Kind: sdk.KindRequest, ID: e.reqID, Route: e.req.route}
		if e.period == 0 {
			tick := &timerpb.TickAlarm{Id: e.id, Data: e.data, Cookie: e.cookie,
				DeadlineUnixNano: s.epochUnix + top.at, FiredAtUnixNano: firedAt}
			s.heap.Pop()
			s.idx.unlink(top.idx)
			s.idx.release(top.idx)
			s.live--
			c.ReplyTo(&s.to, tick)
			continue
		}
		missed := (now - top.at) / e.period
		at := top.at + missed*e.period
		tick := &timerpb.TickTimer{Id: e.id, Data: e.data, Cookie: e.cookie,
			DeadlineUnixNano: s.epochUnix + at, FiredAtUnixNano: firedAt, Missed: uint64(missed)}
		if err := s.sendTick(c, tick); err != nil {
			// The requester is gone (its link, endpoint or plugin is no
			// more): its timer would tick into nothing forever.
			c.Logger().Info("timer: periodic timer stopped: its requester cannot be reached",
				"id", e.id, sdk.KeyReq, e.reqID, sdk.KeyErr, err.Error())
			s.heap.Pop()
			s.idx.unlink(top.idx)
			s.idx.release(top.idx)
			s.live--
			continue
		}
		s.heap.ReplaceTop(item{at: at + e.period, idx: top.idx})
	}
	s.to = sdk.Event{} // keeps no route alive
	if s.heap.Len() > 0 {
		s.rearm(c, s.heap.Top().at)
	}
	s.shrink()
}

// sendTick answers s.to with a periodic tick. It returns an error when the
// requester cannot be reached any more. A requester on this node takes the
// context's direct path; it is there for as long as the node runs. A tick
// that a full queue refuses is dropped and counted as any reply would be
// (sdk.ReplyToLive), and the next one comes a period later.
func (s *Service) sendTick(c sdk.Context, tick *timerpb.TickTimer) error {
	if n := len(s.to.Route); n > 0 && s.to.Route[n-1].Kind == sdk.HopService {
		c.ReplyTo(&s.to, tick)
		return nil
	}
	return sdk.ReplyToLive(c.Handle(), &s.to, tick)
}

// wakeSoon queues a Wake behind the requests already queued, so that a large
// batch of due entries does not hold them up.
func (s *Service) wakeSoon(c sdk.Context, now int64) {
	if s.wakePending.Swap(true) {
		return
	}
	if err := c.Handle().Post(&timerpb.Wake{}); err != nil {
		// The queue is full: let the clock try again shortly.
		s.wakePending.Store(false)
		s.rearm(c, now+int64(retryDelay))
	}
}

// rearm points the clock at deadline at (service time).
func (s *Service) rearm(c sdk.Context, at int64) {
	s.armed = at
	if s.arm == nil {
		return
	}
	when := time.Now().Add(time.Duration(at - s.now(c)))
	for {
		select {
		case s.arm <- when:
			return
		default:
			// Replace the instant the clock has not taken yet. The service
			// goroutine is the only sender, so the next send succeeds.
			select {
			case <-s.arm:
			default:
			}
		}
	}
}

// Interface guards.
var (
	_ sdk.Service = (*Service)(nil)
	_ sdk.Starter = (*Service)(nil)
	_ sdk.Stopper = (*Service)(nil)
)
