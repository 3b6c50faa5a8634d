package core

import (
	"strings"
	"time"
)

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
