package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/sdk"
)

// stderrLines keeps the last lines of a plugin process's stderr, for crash
// messages.
const stderrLines = 8

// stderrLog receives a plugin process's stderr (go-plugin's
// ClientConfig.Stderr), re-logs each line in the node's log and keeps the
// last few. Lines in hclog's JSON form keep their level, message and
// attributes; other lines (a panic, a stray print) are logged as they are.
type stderrLog struct {
	log  *slog.Logger // has plugin=<name>, and node=<the node's name>
	name string       // the plugin's name, which its runtime logs as node=

	mu     sync.Mutex
	buf    []byte
	last   []string
	panics bool
}

func newStderrLog(log *slog.Logger, name string) *stderrLog {
	return &stderrLog{log: log.With(sdk.KeyPlugin, name), name: name}
}

// Write implements io.Writer; it is called by one go-plugin goroutine.
func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			if len(s.buf) > 64<<10 { // a line without end: log what there is
				s.line(string(s.buf))
				s.buf = s.buf[:0]
			}
			return len(p), nil
		}
		s.line(string(s.buf[:i]))
		s.buf = s.buf[i+1:]
	}
}

func (s *stderrLog) line(l string) {
	l = strings.TrimRight(l, "\r")
	if l == "" {
		return
	}
	if len(s.last) == stderrLines {
		s.last = slices.Delete(s.last, 0, 1)
	}
	s.last = append(s.last, l)

	var m map[string]any
	if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &m) == nil {
		msg, _ := m["@message"].(string)
		lvl, _ := m["@level"].(string)
		level, _ := pluginrt.ParseLevel(lvl)
		ctx := context.Background()
		if !s.log.Enabled(ctx, level) {
			return
		}
		delete(m, "@message")
		delete(m, "@level")
		delete(m, "@timestamp")
		if m[sdk.KeyNode] == s.name { // the plugin's runtime: plugin= says it, node= is the node's
			delete(m, sdk.KeyNode)
		}
		attrs := make([]slog.Attr, 0, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			attrs = append(attrs, slog.Any(k, m[k]))
		}
		s.log.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	level := slog.LevelInfo
	if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
		s.panics = true
	}
	if s.panics {
		level = slog.LevelError
	}
	s.log.LogAttrs(context.Background(), level, "plugin output", slog.String("line", l))
}

// tail returns the last stderr lines, joined for an error message.
func (s *stderrLog) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.last, " | ")
}
