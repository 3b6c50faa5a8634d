package sdktest

import (
	"strconv"
	"time"

	"github.com/mtnode/mtnode/internal/core"
)

// mapConfig is an sdk.Config over a map; missing or unparsable keys give
// their defaults.
type mapConfig struct{ m map[string]string }

func (c mapConfig) get(key string) (string, bool) { v, ok := c.m[key]; return v, ok }

func (c mapConfig) String(key, def, desc string) string {
	if v, ok := c.get(key); ok {
		return v
	}
	return def
}

func (c mapConfig) Int(key string, def int64, desc string) int64 {
	if v, ok := c.get(key); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

func (c mapConfig) Bool(key string, def bool, desc string) bool {
	if v, ok := c.get(key); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

func (c mapConfig) Duration(key string, def time.Duration, desc string) time.Duration {
	if v, ok := c.get(key); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(f * float64(time.Second))
		}
	}
	return def
}

func (c mapConfig) Bytes(key string, def int64, desc string) int64 { return c.Int(key, def, desc) }

func (c mapConfig) Addrs(key, def, desc string) []string {
	return core.Defaults{}.Addrs("", c.String(key, def, desc), "")
}

func (c mapConfig) Problems() []error { return nil }
