package heartbeat

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtnode/mtnode/plugins/timer"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestHeartbeatTicks(t *testing.T) {
	var buf syncBuf
	sdktest.New(t, []sdk.Spec{Spec, timer.Spec},
		sdktest.WithStart(Name),
		sdktest.WithConfig(map[string]map[string]string{Name: {"period": "10ms"}}),
		sdktest.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "tick=3") {
		if time.Now().After(deadline) {
			t.Fatalf("no third tick logged; log:\n%s", buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
