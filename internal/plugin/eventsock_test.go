package plugin

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

func withLog(l *sdktest.LogBuffer) envOpt {
	return func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(l, nil)) }
}

// transport returns the link transport of plugin name's running process.
func (e *env) transport(t testing.TB, name string) string {
	t.Helper()
	pr := e.proc(t, name)
	if pr == nil {
		t.Fatalf("plugin %s is not running", name)
	}
	return pr.transport
}

// TestEventSocket: a plugin of this SDK carries its link over the event
// socket, whose file is gone once the plugin is connected.
func TestEventSocket(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	if got, err := e.call(t, "TEcho", "x"); err != nil || got != "x" {
		t.Fatalf("TEcho: got %q, %v", got, err)
	}
	if got := e.transport(t, "testplugin"); got != transportSocket {
		t.Fatalf("got link %q, want %q", got, transportSocket)
	}
	ents, err := os.ReadDir(e.host.sockDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), "events-") {
			t.Errorf("event socket %s left in %s after the plugin connected", ent.Name(), e.host.sockDir)
		}
	}
}

// TestEventListenerToken: the event socket takes only a connection that
// starts with the launch's token, and says why it refused the others.
func TestEventListenerToken(t *testing.T) {
	var logs sdktest.LogBuffer
	l, err := listenEvents(t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if fi, err := os.Stat(l.path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("event socket %s: %v, %v; want a socket", l.path, fi, err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	// dial connects and writes token, then reports whether the host hung up.
	dial := func(token []byte, wait time.Duration) (net.Conn, bool) {
		c, err := net.Dial("unix", l.path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(token); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		_, err = c.Read(make([]byte, 1))
		return c, err == io.EOF
	}
	wrong := append([]byte(nil), l.token...)
	wrong[0] ^= 1
	for name, token := range map[string][]byte{"wrong token": wrong, "short token": l.token[:8], "no token": nil} {
		c, closed := dial(token, 3*tokenWait)
		c.Close()
		if !closed {
			t.Errorf("%s: the connection was not closed", name)
		}
	}
	c, closed := dial(l.token, 100*time.Millisecond)
	defer c.Close()
	if closed {
		t.Fatal("the connection with the right token was closed")
	}
	select {
	case got := <-accepted:
		if got == nil {
			t.Fatal("accept failed")
		}
		got.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the connection with the right token was not accepted")
	}
	if n := strings.Count(logs.String(), "refused a connection to the plugin's event socket"); n != 3 {
		t.Errorf("logged %d refusals, want 3:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "wrong token") {
		t.Errorf("the log does not say the token was wrong:\n%s", logs.String())
	}
	l.close()
	if _, err := os.Stat(l.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after close: stat %s: %v, want the file gone", l.path, err)
	}
}

// TestEventSocketWrongToken: a connection with a wrong token is refused
// and logged, and the plugin's own link still comes up over the socket.
func TestEventSocketWrongToken(t *testing.T) {
	t.Setenv("MTTEST_BAD_TOKEN", "1")
	var logs sdktest.LogBuffer
	e := newEnv(t, []string{"testplugin"}, withLog(&logs))
	if got, err := e.call(t, "TEcho", "x"); err != nil || got != "x" {
		t.Fatalf("TEcho: got %q, %v", got, err)
	}
	if got := e.transport(t, "testplugin"); got != transportSocket {
		t.Fatalf("got link %q, want %q", got, transportSocket)
	}
	// The plugin's line, not the host's refusal, which may come first.
	waitFor(t, "the plugin's report", func() bool { return strings.Contains(logs.String(), "testplugin: wrong token") })
	for _, want := range []string{"refused a connection to the plugin's event socket", "it sent the wrong token", "wrong token refused: the host hung up"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestLinkGarbage: a plugin that writes what is not a link frame is
// treated as crashed, on either transport: its requests in flight fail
// with ErrPluginCrashed saying the link broke, and it is relaunched.
func TestLinkGarbage(t *testing.T) {
	for _, tt := range []struct{ transport, env string }{{transportSocket, "0"}, {transportGRPC, "1"}} {
		t.Run(tt.transport, func(t *testing.T) {
			t.Setenv("MTTEST_GARBAGE", "1")
			t.Setenv("MTTEST_GRPC_LINK", tt.env)
			e := newEnv(t, []string{"testplugin"})
			if _, err := e.call(t, "TEcho", "warm up"); err != nil {
				t.Fatal(err)
			}
			if got := e.transport(t, "testplugin"); got != tt.transport {
				t.Fatalf("got link %q, want %q", got, tt.transport)
			}
			const held = 3
			errs := make(chan *sdk.Event, held+1)
			ep := e.node.OpenEndpoint(func(ev *sdk.Event) { errs <- ev })
			defer ep.Close()
			for i := range held {
				ep.Send(sdk.To("Hold"), wrapperspb.String("keep "+strconv.Itoa(i)))
			}
			waitFor(t, "the held requests", func() bool { return e.status(t, "testplugin").InFlight == held })
			ep.Send(sdk.To("Hold"), wrapperspb.String("garbage"))
			for i := range held + 1 {
				select {
				case ev := <-errs:
					if ev.Kind != sdk.KindError || !errors.Is(ev.Err, sdk.ErrPluginCrashed) || !strings.Contains(ev.Err.Error(), "its link broke") {
						t.Fatalf("event %d: got %v %v, want an ErrPluginCrashed error saying the link broke", i, ev.Kind, ev.Err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("got %d error events, want %d", i, held+1)
				}
			}
			if got, err := e.call(t, "TEcho", "again"); err != nil || got != "again" {
				t.Fatalf("after the garbage: got %q, %v; want a relaunch and the echo", got, err)
			}
		})
	}
}

// TestGRPCLinkFallback: a plugin built before the event socket (it
// ignores Hello's offer) gets its events over the gRPC Link stream, with
// every behaviour of the link.
func TestGRPCLinkFallback(t *testing.T) {
	t.Setenv("MTTEST_GRPC_LINK", "1")
	t.Run("transport", func(t *testing.T) {
		e := newEnv(t, []string{"testplugin"})
		if _, err := e.call(t, "TEcho", "x"); err != nil {
			t.Fatal(err)
		}
		if got := e.transport(t, "testplugin"); got != transportGRPC {
			t.Fatalf("got link %q, want %q", got, transportGRPC)
		}
		ents, _ := os.ReadDir(e.host.sockDir)
		for _, ent := range ents {
			if strings.HasPrefix(ent.Name(), "events-") {
				t.Errorf("the unused event socket %s is left in %s", ent.Name(), filepath.Base(e.host.sockDir))
			}
		}
	})
	for name, test := range map[string]func(*testing.T){
		"LazyLaunch":         TestLazyLaunch,
		"QueuedDuringLaunch": TestQueuedDuringLaunchInOrder,
		"CrashMidStream":     TestCrashMidStream,
		"CrashLoop":          TestCrashLoopMarkedFailed,
		"RelayPluginToHost":  TestRelayPluginToHost,
		"Config":             TestConfig,
		"IdleStop":           TestIdleStop,
		"InProcessPair":      TestInProcessPair,
		"UnsentEventsFailed": TestUnsentEventsFailedOnCrash,
		"ReplaceWhileBusy":   TestReplaceWhileBusy,
		"HangAfterHandshake": TestHangAfterHandshake,
		"ConcurrentSenders":  TestConcurrentSenders,
	} {
		t.Run(name, test)
	}
}
