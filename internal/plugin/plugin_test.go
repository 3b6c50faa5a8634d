package plugin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/internal/testwait"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// The test programs (test plugins and a host) are built once per test
// binary, on first use: fuzz workers, which re-run the binary, never build.
var (
	binsOnce sync.Once
	binsDir  string
	binsErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binsDir != "" {
		os.RemoveAll(binsDir)
	}
	os.Exit(code)
}

// testProgram returns the path of test program name, building them all
// the first time.
func testProgram(t testing.TB, name string) string {
	t.Helper()
	binsOnce.Do(func() { binsDir, binsErr = buildTestPrograms() })
	if binsErr != nil {
		t.Fatal(binsErr)
	}
	return filepath.Join(binsDir, name)
}

func buildTestPrograms() (string, error) {
	dir, err := os.MkdirTemp("", "mtnode-plugin-test-")
	if err != nil {
		return "", err
	}
	builds := [][]string{
		{"-o", dir + "/", "./testdata/testplugin", "./testdata/garbage", "./testdata/hang",
			"./testdata/exitnow", "./testdata/notplugin", "./testdata/liar", "./testdata/host"},
		{"-o", filepath.Join(dir, "testplugin-v2"), "-ldflags", "-X main.version=v2", "./testdata/testplugin"},
	}
	for _, args := range builds {
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return dir, fmt.Errorf("building test programs: %v\n%s", err, out)
		}
	}
	return dir, nil
}

// install copies test program bin into dir as name, atomically.
func install(t testing.TB, dir, bin, name string) string {
	t.Helper()
	b, err := os.ReadFile(testProgram(t, bin))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(dir), "."+name+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// env is a node with a plugin host in a temporary prefix.
type env struct {
	node  *core.Node
	host  *Host
	dir   string
	cache string
}

type envOpt func(*Config)

func newEnv(t testing.TB, plugins []string, opts ...envOpt) *env {
	t.Helper()
	prefix := t.TempDir()
	dir := filepath.Join(prefix, "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range plugins {
		bin, name, _ := strings.Cut(p, ":")
		if name == "" {
			name = bin
		}
		install(t, dir, bin, name)
	}
	return startEnv(t, dir, filepath.Join(prefix, "cache", "plugins.json"), opts...)
}

func startEnv(t testing.TB, dir, cache string, opts ...envOpt) *env {
	t.Helper()
	hostEcho := sdk.Define("HostEcho", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind == sdk.KindRequest {
				c.Reply(wrapperspb.String("host:" + ev.Msg.(*wrapperspb.StringValue).Value))
			}
			return nil
		})
	})
	var h *Host // the node waits for what it holds when it stops, as boot's does
	n, err := core.New(core.Config{Services: []sdk.Spec{hostEcho}, Logger: testLogger(t),
		Held: func() int { return h.Held() }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Router: n.Router(), Logger: testLogger(t), Dir: dir, CacheFile: cache,
		Local: n.Has, StartTimeout: 3 * time.Second, BackoffMin: 5 * time.Millisecond, DrainTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	h, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx, h.Known); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := n.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return &env{node: n, host: h, dir: dir, cache: cache}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// answers opens an endpoint on e's node that passes the text of each
// answer it gets to the channel it returns, of capacity n: a string
// reply's value, or "error: " and the error of an error event.
func (e *env) answers(n int) (<-chan string, sdk.Endpoint) {
	ch := make(chan string, n)
	ep := e.node.OpenEndpoint(func(ev *sdk.Event) {
		if ev.Kind == sdk.KindReply {
			ch <- ev.Msg.(*wrapperspb.StringValue).Value
		} else {
			ch <- "error: " + ev.Err.Error()
		}
	})
	return ch, ep
}

// call sends s to service and returns the reply's string or the error.
func (e *env) call(t testing.TB, service, s string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := e.node.Request(ctx, sdk.To(service), wrapperspb.String(s))
	if err != nil {
		return "", err
	}
	return ev.Msg.(*wrapperspb.StringValue).Value, nil
}

func (e *env) status(t testing.TB, name string) PluginStatus {
	t.Helper()
	for _, st := range e.host.Status() {
		if st.Name == name {
			return st
		}
	}
	return PluginStatus{}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLazyLaunch(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	if st := e.status(t, "testplugin"); st.State != "idle" || st.PID != 0 {
		t.Fatalf("before any event: got state %q pid %d, want idle and no process", st.State, st.PID)
	}
	if !e.host.Known("TEcho") {
		t.Fatal("Known(TEcho) = false, want true")
	}
	got, err := e.call(t, "TEcho", "ping")
	if err != nil || got != "ping" {
		t.Fatalf("TEcho: got %q, %v; want ping", got, err)
	}
	st := e.status(t, "testplugin")
	if st.State != "running" || st.PID == 0 || st.Launches != 1 {
		t.Fatalf("after an event: got %+v, want running with a pid and 1 launch", st)
	}
}

func TestQueuedDuringLaunchInOrder(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	const n = 500
	got, ep := e.answers(n)
	defer ep.Close()
	for i := range n {
		ep.Send(sdk.To("TEcho"), wrapperspb.String(strconv.Itoa(i)))
	}
	timeout := time.After(10 * time.Second)
	for i := range n {
		select {
		case s := <-got:
			if s != strconv.Itoa(i) {
				t.Fatalf("reply %d: got %q, want %q", i, s, strconv.Itoa(i))
			}
		case <-timeout:
			t.Fatalf("got %d replies, want %d", i, n)
		}
	}
	if st := e.status(t, "testplugin"); st.Launches != 1 {
		t.Fatalf("got %d launches, want 1", st.Launches)
	}
}

func TestCrashMidStream(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	if _, err := e.call(t, "TEcho", "warm up"); err != nil {
		t.Fatal(err)
	}
	const held = 20
	errs := make(chan *sdk.Event, held+1)
	ep := e.node.OpenEndpoint(func(ev *sdk.Event) { errs <- ev })
	defer ep.Close()
	for i := range held {
		ep.Send(sdk.To("Hold"), wrapperspb.String("keep "+strconv.Itoa(i)))
	}
	ep.Send(sdk.To("Hold"), wrapperspb.String("crash"))
	timeout := time.After(10 * time.Second)
	for i := range held + 1 {
		select {
		case ev := <-errs:
			if ev.Kind != sdk.KindError || !errors.Is(ev.Err, sdk.ErrPluginCrashed) {
				t.Fatalf("event %d: got %v %v, want an ErrPluginCrashed error event", i, ev.Kind, ev.Err)
			}
			msg := ev.Err.Error()
			if !strings.Contains(msg, "exit status 7") || !strings.Contains(msg, "crashing on request") {
				t.Fatalf("error %q: want the exit status and the last stderr line", msg)
			}
		case <-timeout:
			t.Fatalf("got %d error events, want %d", i, held+1)
		}
	}
	got, err := e.call(t, "TEcho", "again")
	if err != nil || got != "again" {
		t.Fatalf("after the crash: got %q, %v; want a relaunch and the echo", got, err)
	}
	if st := e.status(t, "testplugin"); st.Launches != 2 || st.Crashes != 1 {
		t.Fatalf("got %d launches %d crashes, want 2 and 1", st.Launches, st.Crashes)
	}
}

func TestCrashLoopMarkedFailed(t *testing.T) {
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.CrashLimit = 3 })
	for i := range 3 {
		_, err := e.call(t, "Hold", "crash")
		if !errors.Is(err, sdk.ErrPluginCrashed) {
			t.Fatalf("crash %d: got %v, want ErrPluginCrashed", i, err)
		}
		waitFor(t, "the crash to be recorded", func() bool { return e.status(t, "testplugin").Crashes == uint64(i+1) })
	}
	st := e.status(t, "testplugin")
	if st.State != "failed" || !strings.Contains(st.LastError, "crash loop") {
		t.Fatalf("got state %q (%s), want failed by crash loop", st.State, st.LastError)
	}
	start := time.Now()
	_, err := e.call(t, "TEcho", "x")
	if !errors.Is(err, sdk.ErrPluginCrashed) || !strings.Contains(err.Error(), "marked failed") {
		t.Fatalf("while failed: got %v, want a fast ErrPluginCrashed", err)
	}
	if launches := e.status(t, "testplugin").Launches; launches != 3 {
		t.Fatalf("while failed: got %d launches, want 3 (no new launch)", launches)
	}
	_ = start
	if err := e.host.Reset("testplugin"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.call(t, "TEcho", "back"); err != nil || got != "back" {
		t.Fatalf("after Reset: got %q, %v", got, err)
	}
}

func TestReplaceWhileBusy(t *testing.T) {
	var logs sdktest.LogBuffer
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.Watch = true }, withLog(&logs))
	if got, _ := e.call(t, "Version", ""); got != "v1" {
		t.Fatalf("got version %q, want v1", got)
	}
	replies, ep := e.answers(10)
	defer ep.Close()
	for range 3 {
		// Long enough that the watcher sees the new binary while these are in
		// flight, even on a loaded machine (the test then waits for draining).
		ep.Send(sdk.To("Hold"), wrapperspb.String("hold 3s"))
	}
	waitFor(t, "the held requests to be in flight", func() bool { return e.status(t, "testplugin").InFlight == 3 })
	oldPID := e.status(t, "testplugin").PID
	install(t, e.dir, "testplugin-v2", "testplugin")
	waitFor(t, "the replaced binary to be seen", func() bool { return e.status(t, "testplugin").State == "draining" })
	ep.Send(sdk.To("Version"), wrapperspb.String(""))
	var got []string
	for range 4 {
		select {
		case s := <-replies:
			got = append(got, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("got replies %q, want 4", got)
		}
	}
	want := []string{"held v1", "held v1", "held v1", "v2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got replies %q, want %q", got, want)
	}
	if pid := e.status(t, "testplugin").PID; pid == oldPID {
		t.Fatalf("the new binary runs in the old process %d", pid)
	}
	// The wait is said, with its bound, and so is its end.
	waitFor(t, "the end of the drain to be logged", func() bool { return strings.Contains(logs.String(), "old plugin process finished its events") })
	if l := logs.String(); !strings.Contains(l, "waiting for the old plugin process to finish its events") || !strings.Contains(l, "in_flight=3") || !strings.Contains(l, "timeout=5s") {
		t.Errorf("the drain's start was not logged with its events and bound:\n%s", l)
	}
}

// TestHeldCountsUnansweredRequests: Host.Held, what a stopping node waits
// for (core.Config.Held; boot's TestStopWaitsForPluginAnswers stops one),
// counts a request a plugin holds until its answer is back.
func TestHeldCountsUnansweredRequests(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	answers, ep := e.answers(1)
	defer ep.Close()
	ep.Send(sdk.To("Hold"), wrapperspb.String("hold 300ms"))
	waitFor(t, "the request to be held by the plugin", func() bool { return e.host.Held() == 1 })
	if a := testwait.Recv(t, answers, "answer"); a != "held v1" {
		t.Fatalf("got %q, want the plugin's answer %q", a, "held v1")
	}
	waitFor(t, "the host to count nothing held", func() bool { return e.host.Held() == 0 })
}

// TestOneWayEventsAreNotHeld: one-way events (sdk.Context.Notify's, or
// Node.Send's here) reach a plugin's service without being remembered as
// requests: a service that never answers them holds nothing, so neither
// the in-flight limit nor a stopping node's wait (Host.Held) counts them.
func TestOneWayEventsAreNotHeld(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	const n = 1000
	for range n {
		if err := e.node.Send(sdk.To("Sink"), wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := e.call(t, "Sink", "flush"); err != nil || got != strconv.Itoa(n) {
		t.Fatalf("Sink counted %q (%v), want %d", got, err, n)
	}
	waitFor(t, "nothing held once flush is answered", func() bool { return e.host.Held() == 0 })
	if st := e.status(t, "testplugin"); st.InFlight != 0 {
		t.Fatalf("%d events in flight, want none", st.InFlight)
	}
}

// TestReplaceDrainTimeout: an old process that holds its events past
// DrainTimeout (Node.pluginDrainTimeout) is stopped, which is logged with
// the key to raise; its events get error events rather than waiting, and
// new events go to the new binary.
func TestReplaceDrainTimeout(t *testing.T) {
	var logs sdktest.LogBuffer
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.Watch = true; c.DrainTimeout = 300 * time.Millisecond }, withLog(&logs))
	replies := make(chan *sdk.Event, 10)
	ep := e.node.OpenEndpoint(func(ev *sdk.Event) { replies <- ev })
	defer ep.Close()
	ep.Send(sdk.To("Hold"), wrapperspb.String("hold 20s"))
	waitFor(t, "the held request to be in flight", func() bool { return e.status(t, "testplugin").InFlight == 1 })
	install(t, e.dir, "testplugin-v2", "testplugin")
	select {
	case ev := <-replies:
		if ev.Kind != sdk.KindError {
			t.Fatalf("the held request got %v, want an error event once its process is stopped", ev.Msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held request was not answered within 10s of a 300ms drain timeout")
	}
	if l := logs.String(); !strings.Contains(l, "did not finish its events in time") || !strings.Contains(l, "Node.pluginDrainTimeout") {
		t.Errorf("the timeout was not logged with the key to raise:\n%s", l)
	}
	if got, err := e.call(t, "Version", ""); err != nil || got != "v2" {
		t.Fatalf("after the drain: got %q, %v; want v2", got, err)
	}
}

func TestRemove(t *testing.T) {
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.Watch = true })
	if _, err := e.call(t, "TEcho", "x"); err != nil {
		t.Fatal(err)
	}
	pid := e.status(t, "testplugin").PID
	if err := os.Remove(filepath.Join(e.dir, "testplugin")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal to be seen", func() bool { return !e.host.Known("TEcho") })
	_, err := e.call(t, "TEcho", "x")
	if !errors.Is(err, sdk.ErrNoService) {
		t.Fatalf("after removal: got %v, want ErrNoService", err)
	}
	waitFor(t, "the removed plugin's process to exit", func() bool { return !processAlive(pid) })
}

// TestPluginsFolderReplaced: a plugins folder replaced as a whole (a new
// one renamed over it, as deploy tools do) is followed: its binaries
// replace the old ones, and changes in it are seen. A folder removed takes
// its plugins with it until one is back.
func TestPluginsFolderReplaced(t *testing.T) {
	var logs sdktest.LogBuffer
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.Watch = true }, withLog(&logs))
	if got, err := e.call(t, "Version", ""); err != nil || got != "v1" {
		t.Fatalf("got version %q, %v; want v1", got, err)
	}
	next := e.dir + ".next"
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	install(t, next, "testplugin-v2", "testplugin")
	if err := os.Rename(e.dir, e.dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, e.dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new folder's binary to serve", func() bool {
		got, err := e.call(t, "Version", "")
		return err == nil && got == "v2"
	})
	// The new folder is the one followed: a removal in it is seen.
	if err := os.Remove(filepath.Join(e.dir, "testplugin")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal in the new folder to be seen", func() bool { return !e.host.Known("TEcho") })
	if !strings.Contains(logs.String(), "plugins folder replaced") {
		t.Errorf("the replacement was not logged:\n%s", logs.String())
	}

	// Gone, then back.
	install(t, e.dir, "testplugin", "testplugin")
	waitFor(t, "the binary to be registered", func() bool { return e.host.Known("TEcho") })
	if err := os.RemoveAll(e.dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removed folder's plugins to go", func() bool { return !e.host.Known("TEcho") })
	if err := os.Mkdir(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	install(t, e.dir, "testplugin", "testplugin")
	waitFor(t, "the folder made again to be followed", func() bool { return e.host.Known("TEcho") })
	if got, err := e.call(t, "TEcho", "back"); err != nil || got != "back" {
		t.Fatalf("after the folder came back: got %q, %v", got, err)
	}
}

// TestStaleSocketDirRemoved: a host removes the socket folder a node left
// when it ended without stopping (its pid no longer runs), and keeps a
// running node's and one without an owner file. Its own folder names its
// node, and goes at Close.
func TestStaleSocketDirRemoved(t *testing.T) {
	parent := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name, owner string) string {
		t.Helper()
		d := filepath.Join(parent, socketDirPrefix+name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	stale := mk("stale", strconv.Itoa(dead.Process.Pid))
	running := mk("running", strconv.Itoa(os.Getppid()))
	unowned := mk("unowned", "")
	// A live process that started at another time than the owner file
	// says got the dead node's pid: the folder is stale too.
	var reused, runningSince string
	if start, ok := procStart(os.Getppid()); ok {
		reused = mk("reused", fmt.Sprintf("%d %d", os.Getppid(), start+1))
		runningSince = mk("running-since", fmt.Sprintf("%d %d", os.Getppid(), start))
	}
	var logs sdktest.LogBuffer
	e := newEnv(t, nil, func(c *Config) { c.SocketDir = parent }, withLog(&logs))
	for _, d := range []string{stale, reused} {
		if _, err := os.Stat(d); d != "" && !os.IsNotExist(err) {
			t.Errorf("the dead node's socket folder %s is still there (%v)", d, err)
		}
	}
	for _, d := range []string{running, runningSince, unowned} {
		if _, err := os.Stat(d); d != "" && err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
	if !strings.Contains(logs.String(), "removed the plugin socket folder") {
		t.Errorf("the removal was not logged:\n%s", logs.String())
	}
	b, err := os.ReadFile(filepath.Join(e.host.sockDir, ownerFile))
	if f := strings.Fields(string(b)); err != nil || len(f) != 2 || f[0] != strconv.Itoa(os.Getpid()) {
		t.Fatalf("the host's own folder names %q (%v), want this pid and its start time", b, err)
	}
}

// TestSecondClaimantTakesOver: of two binaries that declare the same
// services, the second is refused them while the first holds them; when
// the first is removed, the second takes them over (and its conflict is
// no longer a problem) instead of leaving them unrouted.
func TestSecondClaimantTakesOver(t *testing.T) {
	var logs sdktest.LogBuffer
	// "dup" is scanned first and holds the services.
	e := newEnv(t, []string{"testplugin-v2:dup", "testplugin"}, func(c *Config) { c.Watch = true }, withLog(&logs))
	if got, err := e.call(t, "Version", ""); err != nil || got != "v2" {
		t.Fatalf("got %q, %v; want v2 from the first claimant", got, err)
	}
	conflicts := func() int {
		n := 0
		for _, err := range e.host.Problems() {
			if strings.Contains(err.Error(), "is declared by both") {
				n++
			}
		}
		return n
	}
	if conflicts() == 0 {
		t.Fatalf("no conflict problem while both declare the services: %v", e.host.Problems())
	}
	if err := os.Remove(filepath.Join(e.dir, "dup")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second claimant to take the services over", func() bool {
		got, err := e.call(t, "Version", "")
		return err == nil && got == "v1"
	})
	if got, err := e.call(t, "TEcho", "x"); err != nil || got != "x" {
		t.Fatalf("TEcho after the takeover: got %q, %v", got, err)
	}
	if n := conflicts(); n != 0 {
		t.Errorf("%d conflict problems left after the takeover: %v", n, e.host.Problems())
	}
	if !strings.Contains(logs.String(), "service taken over") {
		t.Errorf("the takeover was not logged:\n%s", logs.String())
	}
}

func TestAddWithoutRestart(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) { c.Watch = true })
	if _, err := e.call(t, "TEcho", "x"); !errors.Is(err, sdk.ErrNoService) {
		t.Fatalf("before install: got %v, want ErrNoService", err)
	}
	install(t, e.dir, "testplugin", "testplugin")
	waitFor(t, "the new plugin to be registered", func() bool { return e.host.Known("TEcho") })
	if got, err := e.call(t, "TEcho", "new"); err != nil || got != "new" {
		t.Fatalf("after install: got %q, %v", got, err)
	}
}

func TestRelayPluginToHost(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	got, err := e.call(t, "Relay", "x")
	if err != nil || got != "host:x" {
		t.Fatalf("Relay -> HostEcho: got %q, %v; want host:x", got, err)
	}
	if _, err := e.call(t, "Relay", "y"); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownServiceInsidePlugin(t *testing.T) {
	e := newEnv(t, []string{"liar"})
	_, err := e.call(t, "Ghost", "x")
	if !errors.Is(err, sdk.ErrNoService) || !strings.Contains(err.Error(), "does not serve it") {
		t.Fatalf("Ghost: got %v, want ErrNoService saying the plugin does not serve it", err)
	}
	if got, err := e.call(t, "LEcho", "x"); err != nil || got != "x" {
		t.Fatalf("LEcho: got %q, %v", got, err)
	}
	if st := e.status(t, "liar"); !strings.Contains(st.LastError, "lies in its manifest") || !strings.Contains(st.LastError, `"Extra"`) {
		t.Fatalf("got last error %q, want the manifest lie named", st.LastError)
	}
}

func TestConfig(t *testing.T) {
	prefix := t.TempDir()
	path := filepath.Join(prefix, "node.conf")
	if err := os.WriteFile(path, []byte("# what Conf answers\nConf.greeting=hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := config.Open(config.Options{Path: path, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	store.Lookup("Conf.greeting", "hello", "what Conf answers")
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.Conf = store })
	if got, err := e.call(t, "Conf", ""); err != nil || got != "hi" {
		t.Fatalf("Conf: got %q, %v; want the file's value hi", got, err)
	}
	waitFor(t, "Conf.other to be written to the file", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), "Conf.other=42") && strings.Contains(string(b), "a key the node's file does not have yet")
	})
}

// TestPlannedStartAtEarlyLaunch: a plugin that an event launches before
// the boot reaches its place in Start= starts its planned Start= services
// at that launch (Conf's Start writes Conf.other into the file).
func TestPlannedStartAtEarlyLaunch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.conf")
	store, err := config.Open(config.Options{Path: path, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.Conf = store })
	e.host.PlanStart([]string{"HostEcho", "Conf"})
	if got, err := e.call(t, "TEcho", "x"); err != nil || got != "x" {
		t.Fatalf("TEcho: got %q, %v", got, err)
	}
	waitFor(t, "Conf, planned in Start=, to start at the plugin's launch", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), "Conf.other=42")
	})
}

// TestQuiesceReachesPlugins: Host.Quiesce, sent when the node begins to
// stop, reaches the services in running plugin processes (sdk.Quiescer),
// and events still flow to them.
func TestQuiesceReachesPlugins(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	if got, err := e.call(t, "Quiet", ""); err != nil || got != "running" {
		t.Fatalf("Quiet before: got %q, %v; want running", got, err)
	}
	e.host.Quiesce()
	if got, err := e.call(t, "Quiet", ""); err != nil || got != "quiesced" {
		t.Fatalf("Quiet after Host.Quiesce: got %q, %v; want quiesced", got, err)
	}

	// A plugin launched after Quiesce is told at its launch, before its
	// first event.
	late := newEnv(t, []string{"testplugin"})
	late.host.Quiesce()
	if got, err := late.call(t, "Quiet", ""); err != nil || got != "quiesced" {
		t.Fatalf("Quiet in a plugin launched after Host.Quiesce: got %q, %v; want quiesced", got, err)
	}
}

func TestIdleStop(t *testing.T) {
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
	if _, err := e.call(t, "TEcho", "x"); err != nil {
		t.Fatal(err)
	}
	pid := e.status(t, "testplugin").PID
	waitFor(t, "the idle plugin to stop", func() bool {
		st := e.status(t, "testplugin")
		return st.State == "idle" && st.PID == 0
	})
	waitFor(t, "its process to exit", func() bool { return !processAlive(pid) })
	if st := e.status(t, "testplugin"); st.Crashes != 0 {
		t.Fatalf("an idle stop counted as %d crashes", st.Crashes)
	}
	if got, err := e.call(t, "TEcho", "y"); err != nil || got != "y" {
		t.Fatalf("after idle stop: got %q, %v", got, err)
	}
}

func TestStartServices(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.host.StartServices(ctx, []string{"HostEcho", "Conf"}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, "testplugin"); st.State != "running" || st.PID == 0 {
		t.Fatalf("after StartServices: got %+v, want running", st)
	}
}

func TestManifestCacheHit(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	if n := e.host.manifests.Load(); n != 1 {
		t.Fatalf("first boot: got %d manifest launches, want 1", n)
	}
	e2 := startEnv(t, e.dir, e.cache)
	if n := e2.host.manifests.Load(); n != 0 {
		t.Fatalf("second boot: got %d manifest launches, want 0 (cache hit)", n)
	}
	if !e2.host.Known("TEcho") {
		t.Fatal("second boot: TEcho unknown")
	}
	sts, _, err := ReadStatus(e.cache)
	if err != nil || len(sts) != 1 || sts[0].Name != "testplugin" {
		t.Fatalf("ReadStatus: got %+v, %v", sts, err)
	}
}

func TestBadPlugins(t *testing.T) {
	e := newEnv(t, []string{"testplugin", "garbage", "hang", "exitnow", "notplugin", "testplugin:dup"},
		func(c *Config) { c.StartTimeout = time.Second })
	tests := []struct {
		name, state, want string
	}{
		{"garbage", "invalid", "instead of go-plugin's handshake"},
		{"hang", "invalid", "did not complete the plugin handshake in time"},
		{"exitnow", "invalid", "exited before completing the plugin handshake"},
		{"notplugin", "invalid", "Hello, World!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := e.status(t, tt.name)
			if st.State != tt.state || !strings.Contains(st.LastError, tt.want) {
				t.Fatalf("got state %q error %q, want %q containing %q", st.State, st.LastError, tt.state, tt.want)
			}
		})
	}
	if st := e.status(t, "exitnow"); !strings.Contains(st.LastError, "cannot open database") {
		t.Errorf("exitnow: error %q lacks its stderr", st.LastError)
	}
	var conflict bool
	for _, err := range e.host.Problems() {
		if strings.Contains(err.Error(), `service "TEcho" is declared by both`) &&
			strings.Contains(err.Error(), filepath.Join(e.dir, "dup")) && strings.Contains(err.Error(), filepath.Join(e.dir, "testplugin")) {
			conflict = true
		}
	}
	if !conflict {
		t.Errorf("no conflict problem naming both files in %v", e.host.Problems())
	}
	if got, err := e.call(t, "TEcho", "ok"); err != nil || got != "ok" {
		t.Fatalf("good plugin beside bad ones: got %q, %v", got, err)
	}
}

// TestManifestTimeoutNotCached: a binary that ran out of time to give its
// manifest (a hang, or a machine too busy at boot) is read again on the
// next boot rather than remembered as unusable; a binary that failed for
// good (not a plugin) is remembered.
func TestManifestTimeoutNotCached(t *testing.T) {
	e := newEnv(t, []string{"hang", "garbage"}, func(c *Config) { c.StartTimeout = 300 * time.Millisecond })
	if n := e.host.manifests.Load(); n != 2 {
		t.Fatalf("first boot: %d manifest launches, want 2", n)
	}
	e2 := startEnv(t, e.dir, e.cache, func(c *Config) { c.StartTimeout = 300 * time.Millisecond })
	if n := e2.host.manifests.Load(); n != 1 {
		t.Fatalf("second boot: %d manifest launches, want 1 (hang read again, garbage from the cache)", n)
	}
	if st := e2.status(t, "hang"); st.State != "invalid" || !strings.Contains(st.LastError, "in time") {
		t.Errorf("hang on the second boot: %+v, want invalid, timed out again", st)
	}
}

func TestUnsafePermissions(t *testing.T) {
	t.Run("binary", func(t *testing.T) {
		prefix := t.TempDir()
		dir := filepath.Join(prefix, "plugins")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := install(t, dir, "testplugin", "testplugin")
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
		e := startEnv(t, dir, "")
		if st := e.status(t, "testplugin"); st.State != "refused" || !strings.Contains(st.LastError, "writable by group or others") {
			t.Fatalf("got %+v, want refused", st)
		}
		if e.host.manifests.Load() != 0 {
			t.Fatal("a refused binary was launched")
		}
	})
	t.Run("folder", func(t *testing.T) {
		prefix := t.TempDir()
		dir := filepath.Join(prefix, "plugins")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		install(t, dir, "testplugin", "testplugin")
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		e := startEnv(t, dir, "")
		if e.host.Known("TEcho") {
			t.Fatal("a plugin from a world-writable folder was registered")
		}
		if ps := e.host.Problems(); len(ps) == 0 || !strings.Contains(ps[0].Error(), "refusing plugins folder") {
			t.Fatalf("got problems %v, want the folder refused", ps)
		}
	})
}

func TestKillNineLeavesNoOrphans(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs a node process")
	}
	prefix := t.TempDir()
	dir := filepath.Join(prefix, "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	install(t, dir, "testplugin", "testplugin")
	cmd := exec.Command(testProgram(t, "host"), dir)
	cmd.Env = append(os.Environ(), "TMPDIR="+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			lines <- s.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	var pid int
	select {
	case l := <-lines:
		pid, _ = strconv.Atoi(l)
	case <-time.After(20 * time.Second):
		t.Fatal("the host did not report its plugin's pid")
	}
	if pid <= 0 || !processAlive(pid) {
		t.Fatalf("got plugin pid %d, want a live process", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d outlived its killed node by 2s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processAlive reports whether pid runs (a zombie counts as gone).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// Guard: a Host is safe to use from many goroutines.
func TestConcurrentSenders(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				s := fmt.Sprintf("%d-%d", g, i)
				if got, err := e.call(t, "TEcho", s); err != nil || got != s {
					errs <- fmt.Errorf("got %q, %v; want %q", got, err, s)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// plugin returns plugin name (a file of the plugins folder).
func (e *env) plugin(t testing.TB, name string) *plugin {
	t.Helper()
	e.host.mu.Lock()
	p := e.host.plugins[filepath.Join(e.dir, name)]
	e.host.mu.Unlock()
	if p == nil {
		t.Fatalf("no plugin %s", name)
	}
	return p
}

// proc returns plugin name's running process, or nil.
func (e *env) proc(t testing.TB, name string) *proc {
	t.Helper()
	p := e.plugin(t, name)
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.proc
}

// TestUnsentEventsFailedOnCrash: events still queued on the link when the
// process dies are not dropped: each request gets one error event, and the
// ones without a route are counted.
func TestUnsentEventsFailedOnCrash(t *testing.T) {
	t.Setenv("MTTEST_CREDIT", "1") // the plugin takes one event, then no more
	e := newEnv(t, []string{"testplugin"})
	events := make(chan *sdk.Event, 100)
	ep := e.node.OpenEndpoint(func(ev *sdk.Event) { events <- ev })
	defer ep.Close()
	ep.Send(sdk.To("Hold"), wrapperspb.String("keep")) // written: the only credit
	const requests, oneWay = 5, 3
	for i := range requests {
		ep.Send(sdk.To("TEcho"), wrapperspb.String(strconv.Itoa(i)))
	}
	for range oneWay {
		if err := e.node.Send(sdk.To("Sink"), wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	var pr *proc
	waitFor(t, "the events to wait on the link", func() bool {
		pr = e.proc(t, "testplugin")
		return pr != nil && pr.conn.Queued() == requests+oneWay
	})
	rt := e.node.Router()
	undeliverable := rt.Undeliverable.Load()
	if err := syscall.Kill(pr.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	unsent := 0
	for i := range requests + 1 {
		select {
		case ev := <-events:
			if ev.Kind != sdk.KindError || !errors.Is(ev.Err, sdk.ErrPluginCrashed) {
				t.Fatalf("event %d: got %v %v, want an ErrPluginCrashed error event", i, ev.Kind, ev.Err)
			}
			if strings.Contains(ev.Err.Error(), "before taking the event") {
				unsent++
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d error events, want %d", i, requests+1)
		}
	}
	if unsent != requests {
		t.Errorf("got %d errors saying the event was never taken, want %d", unsent, requests)
	}
	waitFor(t, "every lost event to be counted", func() bool { return e.host.Lost() == requests+oneWay+1 })
	if got := rt.Undeliverable.Load() - undeliverable; got != oneWay {
		t.Errorf("got %d undeliverable events counted, want %d (the one-way events)", got, oneWay)
	}
	select {
	case ev := <-events:
		t.Fatalf("got an extra event %v %v, want one per request", ev.Kind, ev.Err)
	default:
	}
}

// TestMaxInFlight: a request past the in-flight limit fails at once
// instead of travelling untracked.
func TestMaxInFlight(t *testing.T) {
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.MaxInFlight = 3 })
	ep := e.node.OpenEndpoint(func(*sdk.Event) {})
	defer ep.Close()
	for range 3 {
		ep.Send(sdk.To("Hold"), wrapperspb.String("keep"))
	}
	waitFor(t, "3 requests in flight", func() bool { return e.status(t, "testplugin").InFlight == 3 })
	_, err := e.call(t, "TEcho", "x")
	if !errors.Is(err, sdk.ErrQueueFull) || !strings.Contains(err.Error(), "3 requests in flight") {
		t.Fatalf("past the limit: got %v, want ErrQueueFull naming the limit", err)
	}
}

// TestCloseWhileLaunching: Close racing with events that launch, relaunch
// and retire the plugin neither panics (a WaitGroup Add during Wait) nor
// loses an event: every request is answered, by a reply or an error.
func TestCloseWhileLaunching(t *testing.T) {
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.IdleTimeout = 20 * time.Millisecond })
	var answered sync.WaitGroup
	ep := e.node.OpenEndpoint(func(*sdk.Event) { answered.Done() })
	defer ep.Close()
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			answered.Add(1)
			n++
			if i%50 == 49 {
				ep.Send(sdk.To("Hold"), wrapperspb.String("crash"))
			} else {
				ep.Send(sdk.To("TEcho"), wrapperspb.String("x"))
			}
		}
	}()
	waitFor(t, "a few launches", func() bool { return e.status(t, "testplugin").Launches >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.host.Close(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	n := <-sent
	done := make(chan struct{})
	go func() { answered.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("not every one of %d requests was answered", n)
	}
}

// TestReplaceResetsFailed: a new binary takes a failed plugin out of the
// failed state; the next event launches the new one.
func TestReplaceResetsFailed(t *testing.T) {
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.CrashLimit = 2; c.Watch = true })
	for i := range 2 {
		if _, err := e.call(t, "Hold", "crash"); !errors.Is(err, sdk.ErrPluginCrashed) {
			t.Fatalf("crash %d: got %v, want ErrPluginCrashed", i, err)
		}
		waitFor(t, "the crash to be recorded", func() bool { return e.status(t, "testplugin").Crashes == uint64(i+1) })
	}
	if st := e.status(t, "testplugin"); st.State != "failed" {
		t.Fatalf("got state %q, want failed", st.State)
	}
	install(t, e.dir, "testplugin-v2", "testplugin")
	waitFor(t, "the new binary to reset the failed state", func() bool { return e.status(t, "testplugin").State == "idle" })
	if got, err := e.call(t, "Version", ""); err != nil || got != "v2" {
		t.Fatalf("after the replace: got %q, %v; want v2 from a fresh launch", got, err)
	}
}

// TestReplaceKeepsServicesRouted: while a changed binary is taken into
// use, its services stay routed, so no event meets ErrNoService.
func TestReplaceKeepsServicesRouted(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	p := e.plugin(t, "testplugin")
	p.mu.RLock()
	key, services := p.key, slices.Clone(p.services)
	p.mu.RUnlock()
	stop := make(chan struct{})
	gaps := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				gaps <- n
				return
			default:
			}
			if e.node.Router().ServiceLink("TEcho") == nil {
				n++
			}
		}
	}()
	for range 2000 {
		key.MTime++
		e.host.replace(p, key, services)
	}
	close(stop)
	if n := <-gaps; n != 0 {
		t.Fatalf("TEcho was unrouted %d times during replaces, want never", n)
	}
	if got, err := e.call(t, "TEcho", "x"); err != nil || got != "x" {
		t.Fatalf("after the replaces: got %q, %v", got, err)
	}
}

// TestSocketDirNotOverridden: PLUGIN_UNIX_SOCKET_DIR (or the socket
// group) in the node's environment does not move a plugin's socket out of
// the host's private directory.
func TestSocketDirNotOverridden(t *testing.T) {
	elsewhere := t.TempDir()
	t.Setenv("PLUGIN_UNIX_SOCKET_DIR", elsewhere)
	t.Setenv("PLUGIN_UNIX_SOCKET_GROUP", "nogroup")
	e := newEnv(t, []string{"testplugin"})
	if got, err := e.call(t, "TEcho", "x"); err != nil || got != "x" {
		t.Fatalf("TEcho: got %q, %v", got, err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Fatalf("the plugin made %s in the node's PLUGIN_UNIX_SOCKET_DIR, want it in the private directory", ents[0].Name())
	}
	ents, err := os.ReadDir(e.host.sockDir)
	ents = slices.DeleteFunc(ents, func(d os.DirEntry) bool { return d.Name() == ownerFile })
	if err != nil || len(ents) == 0 {
		t.Fatalf("private socket directory %s: got %d entries besides %s, %v; want the plugin's socket", e.host.sockDir, len(ents), ownerFile, err)
	}
	fi, err := os.Stat(filepath.Join(e.host.sockDir, ents[0].Name()))
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm()&0o022 != 0 {
		t.Fatalf("socket %v, %v: want a socket only its owner may write to", fi.Mode(), err)
	}
}

// TestInProcessPair: a service relaying to another service of the same
// plugin reaches it inside the process: the host carries only the request
// and the final reply.
func TestInProcessPair(t *testing.T) {
	e := newEnv(t, []string{"testplugin"})
	if _, err := e.call(t, "TEcho", "warm up"); err != nil {
		t.Fatal(err)
	}
	before := e.status(t, "testplugin")
	const n = 10
	for i := range n {
		if got, err := e.call(t, "Pair", strconv.Itoa(i)); err != nil || got != strconv.Itoa(i) {
			t.Fatalf("Pair -> TEcho: got %q, %v; want %d", got, err, i)
		}
	}
	after := e.status(t, "testplugin")
	if got := after.ToPlugin - before.ToPlugin; got != n {
		t.Errorf("host sent %d events to the plugin, want %d (the requests only)", got, n)
	}
	if got := after.FromPlugin - before.FromPlugin; got != n {
		t.Errorf("host received %d events from the plugin, want %d (the replies only)", got, n)
	}
	// Relay -> HostEcho, for contrast, goes through the host both ways.
	if _, err := e.call(t, "Relay", "x"); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, "testplugin"); st.FromPlugin-after.FromPlugin != 2 || st.ToPlugin-after.ToPlugin != 2 {
		t.Errorf("Relay -> HostEcho: got %d in, %d out, want 2 and 2", st.FromPlugin-after.FromPlugin, st.ToPlugin-after.ToPlugin)
	}
}

// TestManifestCacheInvalidated: a cached manifest is used only for the
// same size, mtime and content; any change launches the binary again.
func TestManifestCacheInvalidated(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string, fi os.FileInfo)
		want   uint64 // manifest launches at the second boot
	}{
		{"unchanged", func(*testing.T, string, os.FileInfo) {}, 0},
		{"touched: same bytes, new mtime", func(t *testing.T, path string, fi os.FileInfo) {
			mt := fi.ModTime().Add(time.Second)
			if err := os.Chtimes(path, mt, mt); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"same size and mtime, other bytes", func(t *testing.T, path string, fi os.FileInfo) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.Replace(string(b), "crashing on request", "crashing on REQUEST", 1)
			if s == string(b) {
				t.Fatal("marker string not found in the test plugin")
			}
			if err := os.WriteFile(path, []byte(s), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"other size, same mtime", func(t *testing.T, path string, fi os.FileInfo) {
			install(t, filepath.Dir(path), "testplugin-v2", filepath.Base(path))
			if fi2, _ := os.Stat(path); fi2 == nil || fi2.Size() == fi.Size() {
				t.Skip("v2 has the same size as v1")
			}
			if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, []string{"testplugin"})
			path := filepath.Join(e.dir, "testplugin")
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, path, fi)
			e2 := startEnv(t, e.dir, e.cache)
			if got := e2.host.manifests.Load(); got != tt.want {
				t.Fatalf("second boot: got %d manifest launches, want %d", got, tt.want)
			}
			if got, err := e2.call(t, "TEcho", "x"); err != nil || got != "x" {
				t.Fatalf("second boot: TEcho got %q, %v", got, err)
			}
		})
	}
}

// TestHangAfterHandshake: a plugin that completes go-plugin's handshake
// but never answers hello is killed after StartTimeout; its events fail
// with a clear error and the next event tries again.
func TestHangAfterHandshake(t *testing.T) {
	t.Setenv("MTTEST_MUTE", "1")
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.StartTimeout = 300 * time.Millisecond })
	start := time.Now()
	_, err := e.call(t, "TEcho", "x")
	if !errors.Is(err, sdk.ErrStartFailed) || !strings.Contains(err.Error(), "did not answer hello in time") {
		t.Fatalf("got %v, want ErrStartFailed saying it did not answer hello in time", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the error took %v, want about StartTimeout", d)
	}
	st := e.status(t, "testplugin")
	if st.State != "idle" || st.PID != 0 || st.Launches != 1 || !strings.Contains(st.LastError, "did not answer hello") {
		t.Fatalf("got %+v, want idle, no process, 1 launch, the error recorded", st)
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(e.dir, "testplugin")).Output(); len(out) != 0 {
		t.Errorf("the hung plugin's process is still running: pid %s", out)
	}
	if _, err := e.call(t, "TEcho", "y"); !errors.Is(err, sdk.ErrStartFailed) {
		t.Fatalf("second event: got %v, want a new launch failing the same way", err)
	}
	if st := e.status(t, "testplugin"); st.Launches != 2 {
		t.Errorf("got %d launches, want 2", st.Launches)
	}
}

// TestProblemsBounded: a bad file rescanned again and again keeps one
// problem, the latest; fixing it drops it; the list has a bound.
func TestProblemsBounded(t *testing.T) {
	e := newEnv(t, nil)
	path := install(t, e.dir, "testplugin", "bad")
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		e.host.rescan(context.Background(), path)
	}
	if ps := e.host.Problems(); len(ps) != 1 || !strings.Contains(ps[0].Error(), "refusing "+path) {
		t.Fatalf("after 100 rescans of one bad file: got %d problems %v, want 1", len(ps), ps)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	e.host.rescan(context.Background(), path)
	if ps := e.host.Problems(); len(ps) != 0 {
		t.Fatalf("after the file was fixed: got problems %v, want none", ps)
	}
	for i := range maxProblems + 10 {
		p := filepath.Join(e.dir, fmt.Sprintf("bad%d", i))
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
		e.host.rescan(context.Background(), p)
	}
	ps := e.host.Problems()
	if len(ps) != maxProblems || !strings.Contains(ps[len(ps)-1].Error(), fmt.Sprintf("bad%d", maxProblems+9)) {
		t.Fatalf("got %d problems (last %v), want the latest %d", len(ps), ps[len(ps)-1], maxProblems)
	}
}

// TestFolderRefusedOnReload: a plugins folder made writable by others
// while the node runs is refused as at boot (its plugins are forgotten),
// and taken back once fixed.
func TestFolderRefusedOnReload(t *testing.T) {
	e := newEnv(t, []string{"testplugin"}, func(c *Config) { c.Watch = true })
	if _, err := e.call(t, "TEcho", "x"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the folder to be refused", func() bool { return !e.host.Known("TEcho") })
	if ps := e.host.Problems(); len(ps) == 0 || !strings.Contains(ps[len(ps)-1].Error(), "refusing plugins folder") {
		t.Fatalf("got problems %v, want the folder refused", ps)
	}
	if _, err := e.call(t, "TEcho", "x"); !errors.Is(err, sdk.ErrNoService) {
		t.Fatalf("while refused: got %v, want ErrNoService", err)
	}
	if err := os.Chmod(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed folder to be scanned again", func() bool { return e.host.Known("TEcho") })
	if got, err := e.call(t, "TEcho", "y"); err != nil || got != "y" {
		t.Fatalf("after the fix: got %q, %v", got, err)
	}
	if ps := e.host.Problems(); len(ps) != 0 {
		t.Errorf("after the fix: got problems %v, want none", ps)
	}
}

// TestHelperChildDoesNotStallTheHost: a binary that is no plugin but
// leaves a child holding its stdout (a wrapper script's helper) is found
// unusable without waiting for that child, which is killed with it.
func TestHelperChildDoesNotStallTheHost(t *testing.T) {
	prefix := t.TempDir()
	dir := filepath.Join(prefix, "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("%d.%d", 3000+os.Getpid()%1000, time.Now().UnixNano()%100000)
	script := "#!/bin/sh\necho not-a-handshake\nsleep " + marker + " &\nexec sleep " + marker + "\n"
	if err := os.WriteFile(filepath.Join(dir, "wrapper"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	started := make(chan *env, 1)
	go func() { started <- startEnv(t, dir, filepath.Join(prefix, "cache", "plugins.json")) }()
	var e *env
	select {
	case e = <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the host's scan waited on the wrapper's helper (30s)")
	}
	if st := e.status(t, "wrapper"); st.State != "invalid" {
		t.Errorf("wrapper: %+v, want invalid", st)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the wrapper's helper still runs (pids %s)", out)
		}
	}
}
