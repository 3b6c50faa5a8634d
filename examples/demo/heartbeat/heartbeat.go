// Package heartbeat is the demo service of "make run": it asks the Timer for
// a periodic tick and logs each one, showing a request, a reply route and a
// service that keeps state without a lock.
package heartbeat

import (
	"fmt"
	"time"

	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name.
const Name = "Heartbeat"

// Spec registers the service.
var Spec = sdk.Define(Name, New)

// Service logs a line on every Timer tick.
type Service struct {
	mux   sdk.Mux
	ticks uint64
	every time.Duration
}

// New builds the service.
func New() sdk.Service {
	s := &Service{}
	sdk.On(&s.mux, s.onTick)
	s.mux.OnError(s.onError)
	return s
}

// Start asks the Timer for a tick every Heartbeat.period.
func (s *Service) Start(c sdk.Context) error {
	s.every = c.Config().Duration("period", time.Second, "how often Heartbeat logs a tick")
	if s.every <= 0 {
		return fmt.Errorf("heartbeat: Heartbeat.period must be positive, got %v", s.every)
	}
	c.Send(sdk.To("Timer"), &timerpb.SetTimer{Id: 1, Period: s.every.Seconds()})
	return nil
}

// Handle routes the ticks and errors.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Types lists the events the service takes.
func (s *Service) Types() []string { return s.mux.Types() }

func (s *Service) onTick(c sdk.Context, t *timerpb.TickTimer) error {
	s.ticks++
	late := c.Now().Sub(time.Unix(0, t.GetDeadlineUnixNano()))
	c.Logger().Info("heartbeat", "tick", s.ticks, "late", late.Round(time.Microsecond).String(), "missed", t.GetMissed())
	return nil
}

func (s *Service) onError(c sdk.Context, ev *sdk.Event) error {
	c.Logger().Error("heartbeat: the Timer refused the request", sdk.KeyErr, ev.Err.Error())
	return nil
}

// Interface guards.
var (
	_ sdk.Service = (*Service)(nil)
	_ sdk.Starter = (*Service)(nil)
)
