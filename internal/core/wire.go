package core

import (
	"github.com/mtnode/mtnode/sdk"
)

// Wire implements sdk.WireContext, unless the node withholds it.
func (c *svcContext) Wire() sdk.Wire {
	if c.s.n.cfg.NoAdmin {
		return nil
	}
	return wireView{c.s.n}
}

// Wire returns the node's sdk.Wire.
func (n *Node) Wire() sdk.Wire { return wireView{n} }

type wireView struct{ n *Node }

type funcLink struct {
	name string
	send func(*sdk.Event) error
}

func (l funcLink) Send(ev *sdk.Event) error { return l.send(ev) }
func (l funcLink) Name() string             { return l.name }

type funcCarrier func(*sdk.Event) error

func (f funcCarrier) Carry(ev *sdk.Event) error { return f(ev) }

func (w wireView) Epoch() uint64 { return w.n.Epoch() }
func (w wireView) AttachLink(name string, send func(*sdk.Event) error) uint64 {
	return w.n.router.AddLink(funcLink{name, send})
}
func (w wireView) DetachLink(id uint64)               { w.n.router.RemoveLink(id) }
func (w wireView) Inbound(link uint64, ev *sdk.Event) { w.n.router.Inbound(link, ev) }
func (w wireView) SetSelfAddrs(addrs []string)        { w.n.router.SetSelfAddrs(addrs) }
func (w wireView) Fail(ev *sdk.Event, code sdk.Code, msg string) {
	w.n.router.Fail(ev, code, msg, w.n.cfg.Name)
}
func (w wireView) SetCarrier(carry func(*sdk.Event) error) {
	if carry == nil {
		w.n.router.SetCarrier(nil)
		return
	}
	w.n.router.SetCarrier(funcCarrier(carry))
}

var _ sdk.WireContext = (*svcContext)(nil)
