package sdktest

import (
	"bytes"
	"sync"
)

// LogBuffer is a goroutine-safe io.Writer that collects output for
// assertions: a node's log (slog.NewTextHandler(buf, nil) with WithLogger),
// or a child process's stdout and stderr. The zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
