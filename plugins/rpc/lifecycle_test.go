package rpc_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// TestNoGoroutinesLeft: after both nodes stop, the goroutines RPC started
// (listeners, links, writers, dial loops) are gone.
func TestNoGoroutinesLeft(t *testing.T) {
	base := runtime.NumGoroutine()
	a := startNode(t, nodeOpts{name: "a", noStop: true})
	b := startNode(t, nodeOpts{name: "b", noStop: true})
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, b, sdk.At(a.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	a.stop(t)
	b.stop(t)
	eventually(t, 5*time.Second, "goroutine count back to its baseline", func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// TestCleanStopLogsNoError: nodes that served a link and stop cleanly log
// no error: a listener closing because its node stops is not a failure.
func TestCleanStopLogsNoError(t *testing.T) {
	var logs sdktest.LogBuffer
	a := startNode(t, nodeOpts{name: "a", noStop: true, log: &logs})
	b := startNode(t, nodeOpts{name: "b", noStop: true, log: &logs})
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	a.stop(t)
	b.stop(t)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Errorf("a clean stop logged an error: %s", line)
		}
	}
}
