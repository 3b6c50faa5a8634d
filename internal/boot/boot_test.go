package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/plugins/timer"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

var echo = sdk.Define("Echo", func() sdk.Service {
	return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error { c.Reply(ev.Msg); return nil })
})

func open(t *testing.T, embedded string, sets ...string) *Node {
	t.Helper()
	n, err := Open(Options{Exe: "/x/bin/mtnode-test", Embedded: embedded, InMemory: true, Sets: sets,
		Services: []sdk.Spec{echo}, LogOut: io.Discard, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

func TestStartListInOrderAndUnknown(t *testing.T) {
	n := open(t, "Start=Echo\n")
	if got := n.StartList(); len(got) != 1 || got[0] != "Echo" {
		t.Fatalf("got %v, want [Echo]", got)
	}
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	bad := open(t, "Start=Echo, Ecko\n")
	err := bad.Start(context.Background(), nil, nil)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"Ecko"`) {
		t.Fatalf("got %v, want a UsageError naming Ecko", err)
	}
}

func TestMalformedSetIsUsageError(t *testing.T) {
	_, err := Open(Options{Exe: "mtnode", InMemory: true, Sets: []string{"nokey"}, LogOut: io.Discard})
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want UsageError", err)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	n := open(t, "Start=Echo\n", "Node.metricsAddr=127.0.0.1:0")
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.Request(ctx, sdk.To("Echo"), wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	if n.MetricsAddr() == "" {
		t.Fatal("metrics endpoint not started")
	}
	wants := []string{
		`mtnode_service_events_handled_total{service="Echo"} 1`,
		`mtnode_service_running{service="Echo"} 1`,
		`mtnode_service_queue_limit{service="Echo"} 65536`,
	}
	// A service adds its handled events to its counter when it ends the
	// batch, which may be just after the reply has arrived here: scrape
	// until the counter shows the event.
	for {
		resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var lack []string
		for _, want := range wants {
			if !strings.Contains(string(body), want) {
				lack = append(lack, want)
			}
		}
		if len(lack) == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("metrics lack %q", lack)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMetricsRefusesOpenAddressWithoutToken(t *testing.T) {
	if _, err := startMetrics("0.0.0.0:0", "", nil); !errors.Is(err, errNeedsToken) {
		t.Fatalf("got %v, want errNeedsToken", err)
	}
}

func TestMetricsToken(t *testing.T) {
	n := open(t, "Start=Echo\n", "Node.metricsAddr=127.0.0.1:0", "Node.metricsToken=s3cret")
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"right token", "Bearer s3cret", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+n.MetricsAddr()+"/metrics", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("got %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// openPrefix opens a node with the plugin host on, in a fresh install
// prefix whose config file does not exist yet.
func openPrefix(t *testing.T) (*Node, string) {
	t.Helper()
	prefix := t.TempDir()
	for _, d := range []string{"bin", "plugins"} {
		if err := os.Mkdir(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n, err := Open(Options{Exe: filepath.Join(prefix, "bin", "mtnode-test"), Plugins: true,
		Services: []sdk.Spec{echo}, LogOut: io.Discard, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n, prefix
}

// TestPluginDefaultsWritten: a fresh config file gets the plugin host's
// keys with their defaults and descriptions.
func TestPluginDefaultsWritten(t *testing.T) {
	_, prefix := openPrefix(t)
	path := filepath.Join(prefix, "conf", "mtnode-test.conf")
	tests := []struct{ key, want, desc string }{
		{"Node.pluginStartTimeout", "5s", "how long a plugin may take to start"},
		{"Node.pluginIdleTimeout", "0s", "stop a plugin process idle for this long (0 = never)"},
		{"Node.pluginsDir", filepath.Join(prefix, "plugins"), "folder of plugin binaries"},
		{"Node.gcFloorMiB", "64", "heap growth (MiB) below which the garbage collector does not run"},
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			for i, l := range lines {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k != tt.key {
					continue
				}
				if v != tt.want {
					t.Errorf("got %s=%s, want %s", k, v, tt.want)
				}
				if i == 0 || !strings.HasPrefix(lines[i-1], "#") || !strings.Contains(lines[i-1], tt.desc) {
					t.Errorf("the line above %s is not its description", k)
				}
				return
			}
			t.Errorf("%s not written to %s:\n%s", tt.key, path, b)
		})
	}
}

// TestResetPluginReachesHost: Admin.ResetPlugin goes to the plugin host.
func TestResetPluginReachesHost(t *testing.T) {
	n, _ := openPrefix(t)
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	err := n.Admin().ResetPlugin("nothere")
	if err == nil || !strings.Contains(err.Error(), `no plugin named "nothere"`) {
		t.Fatalf("got %v, want the host's no-such-plugin error", err)
	}
	noHost := open(t, "")
	if err := noHost.Admin().ResetPlugin("x"); err == nil || !strings.Contains(err.Error(), "no plugin host") {
		t.Fatalf("without plugins: got %v, want an error saying there is no plugin host", err)
	}
}

// TestUnknownKeysWarned: at start, a mistyped key of a started service is
// warned about at its file:line with the key it was probably meant to be,
// and a key of a service nobody defines is warned about with no suggestion.
// A mistyped MT_ variable is warned about like a mistyped --set, naming the
// variable. Keys the services read are not warned about.
func TestUnknownKeysWarned(t *testing.T) {
	prefix := t.TempDir()
	for _, d := range []string{"bin", "conf"} {
		if err := os.Mkdir(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := "Start=Timer\nTimer.maxTimers=100\nTimer.minPeriood=1ms\nFrobnicator.level=3\n"
	path := filepath.Join(prefix, "conf", "mtnode-test.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MT_Node_shutdowntimeout": "30s", "MT_Timer_maxTimers": "50", "MT_Timer_maxtimer": "5"}
	var logs sdktest.LogBuffer
	n, err := Open(Options{Exe: filepath.Join(prefix, "bin", "mtnode-test"), Services: []sdk.Spec{timer.Spec},
		LogOut: &logs, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var out []string
			for k, v := range env {
				out = append(out, k+"="+v)
			}
			return out
		}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}

	// The file is rewritten (sorted, with the keys the node read), so the
	// warnings name the lines of the file as it is now.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lineOf := func(prefix string) int {
		for i, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		t.Fatalf("%s lacks %s:\n%s", path, prefix, b)
		return 0
	}
	want := []string{
		fmt.Sprintf(`config: %s:%d: unknown key "Timer.minPeriood" (did you mean "Timer.minPeriod"?)`, path, lineOf("Timer.minPeriood=")),
		fmt.Sprintf(`config: %s:%d: unknown key "Frobnicator.level"`, path, lineOf("Frobnicator.level=")),
		`config: environment MT_Node_shutdowntimeout: unknown key "Node.shutdowntimeout" (did you mean "Node.shutdownTimeout"?)`,
		`config: environment MT_Timer_maxtimer: unknown key "Timer.maxtimer" (did you mean "Timer.maxTimers"?)`,
	}
	slices.Sort(want)

	msgRe := regexp.MustCompile(`level=WARN msg=("(?:[^"\\]|\\.)*")`)
	var got []string
	for _, l := range strings.Split(logs.String(), "\n") {
		m := msgRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		msg, err := strconv.Unquote(m[1])
		if err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if strings.Contains(msg, "unknown key") {
			got = append(got, msg)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("unknown-key warnings:\ngot  %q\nwant %q\nlog:\n%s", got, want, logs.String())
	}
}

// startRecorder is a service that records its Start in a shared list.
type startRecorder struct {
	name string
	rec  func(string)
}

func (s startRecorder) Start(sdk.Context) error              { s.rec(s.name); return nil }
func (s startRecorder) Handle(sdk.Context, *sdk.Event) error { return nil }

// TestStartOrderAcrossPlugins: Start= starts the node's services and the
// plugins' in the order listed. A plugin is launched at its first service
// in the list, with all its services of the list (a plugin process starts
// them at launch); an unknown name fails before anything starts.
func TestStartOrderAcrossPlugins(t *testing.T) {
	owners := map[string]string{"X": "p1", "Z": "p1", "Y": "p2"}
	owner := func(name string) string { return owners[name] }
	tests := []struct {
		name, start string
		want        []string
		wantUsage   bool
	}{
		{"built-in, plugin, built-in", "First, X, Second", []string{"First", "p1 [X]", "Second"}, false},
		{"a plugin's services together", "First, X, Second, Y, Z", []string{"First", "p1 [X Z]", "Second", "p2 [Y]"}, false},
		{"plugin first", "Y, Second, First", []string{"p2 [Y]", "Second", "First"}, false},
		{"unknown name", "First, X, Nope", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			rec := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
			spec := func(name string) sdk.Spec {
				return sdk.Define(name, func() sdk.Service { return startRecorder{name, rec} })
			}
			n, err := Open(Options{Exe: "/x/bin/mtnode-test", Embedded: "Start=" + tt.start + "\n", InMemory: true,
				Services: []sdk.Spec{spec("First"), spec("Second")}, LogOut: io.Discard,
				Env: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { _ = n.Stop() })
			starter := pluginStarter(n.StartList(), owner, func(_ context.Context, names []string) error {
				rec(fmt.Sprintf("%s %v", owner(names[0]), names))
				return nil
			})
			err = n.Start(context.Background(), func(name string) bool { return owner(name) != "" }, starter)
			var ue *UsageError
			if tt.wantUsage != errors.As(err, &ue) {
				t.Fatalf("got error %v, want a UsageError: %v", err, tt.wantUsage)
			}
			if !tt.wantUsage && err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, tt.want) {
				t.Errorf("started %q, want %q", got, tt.want)
			}
		})
	}
}

// slowStarter reads Slow.a, tells read, and finishes its Start only once
// release is closed; then it reads Slow.b.
type slowStarter struct{ read, release chan struct{} }

func (s slowStarter) Start(c sdk.Context) error {
	c.Config().Int("a", 1, "read first")
	close(s.read)
	<-s.release
	c.Config().Int("b", 2, "read last")
	return nil
}
func (slowStarter) Handle(sdk.Context, *sdk.Event) error { return nil }

// TestUnknownKeysOfAStartingService: a service that an event started
// during the boot and that is still in its Start when the boot checks the
// file's keys has not read them all yet: its keys are not warned about.
func TestUnknownKeysOfAStartingService(t *testing.T) {
	read, release := make(chan struct{}), make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	slow := sdk.Define("Slow", func() sdk.Service { return slowStarter{read, release} })
	kick := sdk.Define("Kick", func() sdk.Service {
		return startFunc(func(c sdk.Context) error {
			c.Send(sdk.To("Slow"), wrapperspb.String("start"))
			<-read // Slow has read Slow.a, not yet Slow.b
			return nil
		})
	})
	var logs sdktest.LogBuffer
	n, err := Open(Options{Exe: "/x/bin/mtnode-test", InMemory: true, LogOut: &logs,
		Embedded: "Start=Kick\nSlow.a=1\nSlow.b=2\nSlow.c=3\n", Services: []sdk.Spec{slow, kick},
		Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	close(release)
	if out := logs.String(); strings.Contains(out, "unknown key") {
		t.Errorf("keys of a service still starting were warned about:\n%s", out)
	}
}

// startFunc is a service whose Start is the function.
type startFunc func(sdk.Context) error

func (f startFunc) Start(c sdk.Context) error          { return f(c) }
func (startFunc) Handle(sdk.Context, *sdk.Event) error { return nil }

// TestBadLogLevelSaysWhere: a Node.logLevel that is no level is a usage
// error that names where the value came from, as other config errors do.
func TestBadLogLevelSaysWhere(t *testing.T) {
	tests := []struct {
		name     string
		embedded string
		sets     []string
		env      map[string]string
		flag     string
		want     string
	}{
		{name: "file", embedded: "Start=\nNode.logLevel=loud\n", want: `<embedded>:2: Node.logLevel: "loud" is not a log level; use debug, info, warn or error`},
		{name: "set", sets: []string{"Node.logLevel=loud"}, want: `--set: Node.logLevel: "loud" is not a log level`},
		{name: "env", env: map[string]string{"MT_Node_logLevel": "loud"}, want: `env MT_Node_logLevel: Node.logLevel: "loud" is not a log level`},
		{name: "flag", flag: "loud", want: `--log-level "loud": want debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(Options{Exe: "/x/bin/mtnode-test", Embedded: tt.embedded, InMemory: true, Sets: tt.sets,
				LogLevel: tt.flag, LogOut: io.Discard, Env: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }})
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want a UsageError starting %q", err, tt.want)
			}
		})
	}
}

// TestQueueLimitOutOfRange: a queue limit below 1, the node's or a
// service's, is a bad value: recorded and logged with where it came from,
// and the default is used, not a silent stand-in. So is a negative GC floor.
func TestQueueLimitOutOfRange(t *testing.T) {
	var logs sdktest.LogBuffer
	n, err := Open(Options{Exe: "/x/bin/mtnode-test", InMemory: true, LogOut: &logs,
		Embedded: "Start=Echo\nNode.queueLimit=-5\nEcho.queueLimit=0\nNode.gcFloorMiB=-1\nNode.shutdownTimeout=0\n", Services: []sdk.Spec{echo},
		Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	var limit int
	for _, si := range n.Stats() {
		if si.Name == "Echo" {
			limit = si.QueueLimit
		}
	}
	if limit != 65536 {
		t.Errorf("Echo's queue limit: got %d, want the default 65536", limit)
	}
	if d := n.ShutdownTimeout(); d != 10*time.Second {
		t.Errorf("shutdown timeout: got %v, want the default 10s", d)
	}
	var got []string
	for _, p := range n.Store.Problems() {
		got = append(got, p.Error())
	}
	want := []string{
		`<embedded>:4: Node.gcFloorMiB: "-1" is less than the minimum 0; using default 64`,
		`<embedded>:5: Node.shutdownTimeout: "0" is less than the minimum 1ms; using default 10s`,
		`<embedded>:2: Node.queueLimit: "-5" is less than the minimum 1; using default 65536`,
		`<embedded>:3: Echo.queueLimit: "0" is less than the minimum 1; using default 65536`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\ngot  %q\nwant %q", got, want)
	}
	for _, w := range want {
		if !strings.Contains(logs.String(), strconv.Quote(w)) {
			t.Errorf("log lacks %s:\n%s", w, logs.String())
		}
	}
}

// TestStopWaitsForPluginAnswers: a node stopping waits, within
// Node.shutdownTimeout, for the answer to a request one of its plugins is
// working on before it stops its services and then the plugins: the
// requester gets the answer, not an error.
func TestStopWaitsForPluginAnswers(t *testing.T) {
	n, prefix := openPrefix(t)
	build := exec.Command("go", "build", "-o", filepath.Join(prefix, "plugins", "testplugin"), "../plugin/testdata/testplugin")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test plugin: %v\n%s", err, out)
	}
	if err := n.Start(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	answers := make(chan string, 1)
	ep := n.Node.OpenEndpoint(func(ev *sdk.Event) {
		if ev.Kind == sdk.KindReply {
			answers <- ev.Msg.(*wrapperspb.StringValue).Value
		} else {
			answers <- "error: " + ev.Err.Error()
		}
	})
	defer ep.Close()
	ep.Send(sdk.To("Hold"), wrapperspb.String("hold 300ms"))
	for deadline := time.Now().Add(10 * time.Second); n.Plugins.Held() != 1; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the plugin does not hold the request after 10s (held: %d)", n.Plugins.Held())
		}
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-answers:
		if a != "held v1" {
			t.Fatalf("got %q, want the plugin's answer %q", a, "held v1")
		}
	default:
		t.Fatal("the node stopped before the plugin answered the request it held")
	}
}
