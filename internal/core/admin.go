package core

import (
	"errors"
	"log/slog"
	"time"

	"github.com/mtnode/mtnode/sdk"
)

// adminView implements sdk.Admin for services linked into the node.
type adminView struct{ n *Node }

func (a adminView) NodeName() string            { return a.n.cfg.Name }
func (a adminView) Epoch() uint64               { return a.n.Epoch() }
func (a adminView) StartedAt() time.Time        { return a.n.started }
func (a adminView) Services() []sdk.ServiceInfo { return a.n.Stats() }
func (a adminView) SetLogLevel(l slog.Level)    { a.n.level.Set(l) }
func (a adminView) LogLevel() slog.Level        { return a.n.level.Level() }
func (a adminView) ConfigEntries() []sdk.ConfigEntry {
	if a.n.cfg.ConfigEntries == nil {
		return nil
	}
	return a.n.cfg.ConfigEntries()
}

func (a adminView) SetConfig(key, value string) error {
	if a.n.cfg.SetConfig == nil {
		return errors.New("core: this node has no config file to write")
	}
	return a.n.cfg.SetConfig(key, value)
}

func (a adminView) ResetPlugin(name string) error {
	if a.n.cfg.ResetPlugin == nil {
		return errors.New("core: this node runs no plugin host, so it has no plugins to reset")
	}
	return a.n.cfg.ResetPlugin(name)
}

// Admin returns the node's operator interface.
func (n *Node) Admin() sdk.Admin { return adminView{n} }
