package core

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/mtnode/mtnode/sdk"
)

// intMinConfig is the getter a config.Section (in a node or a plugin)
// offers for an integer with a lower bound: a smaller value is recorded and
// logged as a bad value, with where it came from, and gives the default.
type intMinConfig interface {
	IntMin(key string, def, min int64, desc string) int64
}

// intMin reads key as an integer of at least min from c, through its IntMin
// when it has one. For another sdk.Config, a smaller value is logged at Warn
// and gives the default (or min, if the default is smaller).
func intMin(c sdk.Config, log *slog.Logger, key string, def, min int64, desc string) int64 {
	if m, ok := c.(intMinConfig); ok {
		return m.IntMin(key, def, min, desc)
	}
	n := c.Int(key, def, desc)
	if n >= min {
		return n
	}
	use := max(def, min)
	log.LogAttrs(context.Background(), slog.LevelWarn, "config: bad value, using the default",
		slog.String("key", key), slog.Int64("value", n), slog.Int64("min", min), slog.Int64("default", use))
	return use
}

// Defaults is an sdk.Config with no file: every getter returns its default.
// Nodes built without a config store use it.
type Defaults struct{}

func (Defaults) String(_, def, _ string) string                               { return def }
func (Defaults) Int(_ string, def int64, _ string) int64                      { return def }
func (Defaults) Bool(_ string, def bool, _ string) bool                       { return def }
func (Defaults) Duration(_ string, def time.Duration, _ string) time.Duration { return def }
func (Defaults) Bytes(_ string, def int64, _ string) int64                    { return def }
func (Defaults) Problems() []error                                            { return nil }
func (Defaults) Addrs(_, def, _ string) []string {
	var out []string
	for _, a := range strings.Split(def, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
