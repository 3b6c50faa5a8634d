package pluginrt

import (
	"strconv"
	"sync"
	"time"

	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// pluginConfig is the config of a plugin's services: the values the host
// sent in Hello, parsed by the same rules as the node's store. A key the
// host did not send gets its default, and a Define goes to the host, which
// writes the key and its description into the node's config file.
type pluginConfig struct {
	vals   map[string]string
	store  *config.Store
	define func(*pluginpb.Define)

	mu      sync.Mutex
	defined map[string]bool
}

func newConfig(vals map[string]string, define func(*pluginpb.Define)) *pluginConfig {
	// Open with no path and no environment cannot fail: the host already
	// resolved files, environment and --set flags into vals.
	st, err := config.Open(config.Options{Overrides: vals, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		st, _ = config.Open(config.Options{Env: func(string) (string, bool) { return "", false }})
	}
	return &pluginConfig{vals: vals, store: st, define: define, defined: map[string]bool{}}
}

func (p *pluginConfig) section(service string) sdk.Config {
	return &section{p: p, prefix: service, sec: p.store.Sub(service)}
}

// missing sends a Define for key, once, when the host has no value for it.
func (p *pluginConfig) missing(key, def, desc string) {
	if _, ok := p.vals[key]; ok {
		return
	}
	p.mu.Lock()
	first := !p.defined[key]
	p.defined[key] = true
	p.mu.Unlock()
	if first {
		p.define(&pluginpb.Define{Key: key, Default: def, Description: desc})
	}
}

// section implements sdk.Config for one service of the plugin.
type section struct {
	p      *pluginConfig
	prefix string
	sec    *config.Section
}

func (s *section) full(k string) string { return s.prefix + "." + k }

func (s *section) String(key, def, desc string) string {
	s.p.missing(s.full(key), def, desc)
	return s.sec.String(key, def, desc)
}

func (s *section) Int(key string, def int64, desc string) int64 {
	s.p.missing(s.full(key), strconv.FormatInt(def, 10), desc)
	return s.sec.Int(key, def, desc)
}

// IntMin is config.Section.IntMin, for the node's own keys of a plugin's
// services (queueLimit).
func (s *section) IntMin(key string, def, min int64, desc string) int64 {
	s.p.missing(s.full(key), strconv.FormatInt(def, 10), desc)
	return s.sec.IntMin(key, def, min, desc)
}

func (s *section) Bool(key string, def bool, desc string) bool {
	s.p.missing(s.full(key), strconv.FormatBool(def), desc)
	return s.sec.Bool(key, def, desc)
}

func (s *section) Duration(key string, def time.Duration, desc string) time.Duration {
	s.p.missing(s.full(key), def.String(), desc)
	return s.sec.Duration(key, def, desc)
}

func (s *section) Bytes(key string, def int64, desc string) int64 {
	s.p.missing(s.full(key), strconv.FormatInt(def, 10), desc)
	return s.sec.Bytes(key, def, desc)
}

func (s *section) Addrs(key, def, desc string) []string {
	s.p.missing(s.full(key), def, desc)
	return s.sec.Addrs(key, def, desc)
}

func (s *section) Problems() []error { return s.sec.Problems() }

var _ sdk.Config = (*section)(nil)
