package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mtnodeBin is the real binary and demoBin the mt-demo plugin, built once
// by TestMain.
var mtnodeBin, demoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mtnode-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mtnodeBin = filepath.Join(dir, "mtnode")
	out, err := exec.Command("go", "build", "-race", "-o", mtnodeBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building mtnode: %v\n%s", err, out)
		os.Exit(1)
	}
	demoBin = filepath.Join(dir, "mt-demo")
	if out, err := exec.Command("go", "build", "-o", demoBin, "../mt-demo").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building mt-demo: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// prefix makes an install layout (bin/, conf/, plugins/) with the binary
// installed under the given names (the first a copy, the others symlinks).
func prefix(t *testing.T, names ...string) string {
	t.Helper()
	p := t.TempDir()
	for _, d := range []string{"bin", "conf", "plugins", "log"} {
		if err := os.MkdirAll(filepath.Join(p, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(mtnodeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "bin", names[0]), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names[1:] {
		if err := os.Symlink(names[0], filepath.Join(p, "bin", n)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// proc is a running node whose stderr is collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan error
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(bin, args...))
}

// startCmd starts cmd, collecting its log, and kills it when the test ends.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitFor waits until a log line contains s.
func (p *proc) waitFor(t *testing.T, s string) {
	t.Helper()
	p.line(t, func(l string) bool { return strings.Contains(l, s) }, s)
}

// line waits until some log line, earlier or to come, satisfies match, and
// returns it.
func (p *proc) line(t *testing.T, match func(string) bool, what string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, l := range strings.Split(p.output(), "\n") {
			if match(l) {
				return l
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			for _, l := range strings.Split(p.output(), "\n") {
				if match(l) {
					return l
				}
			}
			t.Fatalf("process exited (%v) before logging %q; log:\n%s", err, what, p.output())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after 20s; log:\n%s", what, p.output())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not exit; log:\n%s", p.output())
		return -1
	}
}

func runOnce(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestIntegrationSymlinkGetsItsOwnConfig starts the link as the README
// shows, ./mtnode-web inside bin/: its config is conf/mtnode-web.conf under
// the prefix, not under the current directory.
func TestIntegrationSymlinkGetsItsOwnConfig(t *testing.T) {
	p := prefix(t, "mtnode", "mtnode-web")
	cmd := exec.Command("./mtnode-web", "--set", "Start=")
	cmd.Dir = filepath.Join(p, "bin")
	n := startCmd(t, cmd)
	n.waitFor(t, "node running")
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; log:\n%s", code, n.output())
	}
	if _, err := os.Stat(filepath.Join(p, "conf", "mtnode-web.conf")); err != nil {
		t.Errorf("symlink's config not written: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p, "conf", "mtnode.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("conf/mtnode.conf exists (%v); the symlink must use its own name", err)
	}
}

func TestIntegrationMissingKeyWrittenWithDescription(t *testing.T) {
	p := prefix(t, "mtnode")
	conf := filepath.Join(p, "conf", "mtnode.conf")
	if err := os.WriteFile(conf, []byte("# my node\nNode.name=alpha\nStart=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := start(t, filepath.Join(p, "bin", "mtnode"))
	n.waitFor(t, "node running")
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	if code := n.wait(t); code != 0 {
		t.Fatalf("exit code %d; log:\n%s", code, n.output())
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{
		"# my node\n# node name, shown in logs and the console prompt (default: mtnode)\nNode.name=alpha\n",
		"# how long a stopping node waits for its queues to drain and its plugins to answer what they hold; its services' Stops, then its plugin processes, get as long again each (default: 10s)\nNode.shutdownTimeout=10s\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q; got:\n%s", want, got)
		}
	}
	if strings.Index(got, "Node.name") > strings.Index(got, "Node.shutdownTimeout") {
		t.Errorf("keys not sorted:\n%s", got)
	}
	if !strings.Contains(n.output(), "node=alpha") {
		t.Errorf("Node.name from the file not used; log:\n%s", n.output())
	}
}

func TestIntegrationMalformedConfigExits2Unchanged(t *testing.T) {
	p := prefix(t, "mtnode")
	conf := filepath.Join(p, "conf", "mtnode.conf")
	body := []byte("Node.name=a\nthis is not a key value line\nStart=\n")
	if err := os.WriteFile(conf, body, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(conf, old, old); err != nil {
		t.Fatal(err)
	}
	out, code := runOnce(t, filepath.Join(p, "bin", "mtnode"))
	if code != 2 {
		t.Fatalf("exit code %d, want 2; output:\n%s", code, out)
	}
	if !strings.Contains(out, "mtnode.conf:2:") {
		t.Errorf("message lacks file:line; got:\n%s", out)
	}
	data, _ := os.ReadFile(conf)
	st, _ := os.Stat(conf)
	if !bytes.Equal(data, body) || !st.ModTime().Equal(old) {
		t.Errorf("config file changed after a parse error")
	}
}

func TestIntegrationUnknownStartExits2(t *testing.T) {
	p := prefix(t, "mtnode")
	out, code := runOnce(t, filepath.Join(p, "bin", "mtnode"), "--set", "Start=NoSuchService")
	if code != 2 {
		t.Fatalf("exit code %d, want 2; output:\n%s", code, out)
	}
	if !strings.Contains(out, `"NoSuchService" is not a known service`) || !strings.Contains(out, "known:") {
		t.Errorf("message does not name the service and list the known ones:\n%s", out)
	}
}

func TestIntegrationBadFlagExits2(t *testing.T) {
	for _, tc := range []struct{ name, arg string }{
		{"unknown flag", "--bogus"},
		{"bad --set", "--set=novalue"},
		{"bad log level", "--log-level=loud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prefix(t, "mtnode")
			out, code := runOnce(t, filepath.Join(p, "bin", "mtnode"), tc.arg)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; output:\n%s", code, out)
			}
		})
	}
}

// TestIntegrationConfigShowsSources: each row of `mtnode config` holds a
// key, its effective value, that value's source and the key's default. A
// key of a service whose keys are known (defined now, or documented in the
// file), but not one of them, is shown as unknown with the key it probably
// meant, as mtnode run warns.
func TestIntegrationConfigShowsSources(t *testing.T) {
	p := prefix(t, "mtnode")
	conf := filepath.Join(p, "conf", "mtnode.conf")
	text := "Node.name=fromfile\nNode.queueLimit=10\nStart=\n\n" +
		"# address the console listens on (default: 127.0.0.1:10101)\nTelnet.bindAddr=127.0.0.1:9999\n" +
		"# pending alarms and timers at most (default: 4096)\nTimer.maxTimers=100\n" +
		"# addresses the node listens on for node links (default: 127.0.0.1:10100)\nRPC.bindAddr=127.0.0.1:10100\n" +
		"Timer.typed=1\nNope.x=2\nNode.shutdowntimeout=1s\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(p, "bin", "mtnode"), "config", "--set", "Node.logLevel=debug", "--set", "RPC.bindAdr=x",
		"--set", "SocketIO.typed=1", "--set", "Telnte.bindAddr=y")
	cmd.Env = append(os.Environ(), "MT_Node_queueLimit=20", "MT_Timer_queueLimit=5", "MT_RPC_token=s3cret")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := map[string][]string{} // key -> value, source, default
	for _, line := range strings.Split(string(out), "\n") {
		// Columns are padded with two spaces or more; values here have none.
		f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(f) >= 3 && !strings.HasPrefix(line, "#") {
			rows[f[0]] = f[1:]
		}
	}
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"Node.name", []string{"fromfile", "file", "mtnode"}},
		{"Node.queueLimit", []string{"20", "env", "65536"}},
		{"Node.logLevel", []string{"debug", "flag", "info"}},
		{"Node.shutdownTimeout", []string{"10s", "default", "10s"}},
		{"Telnet.bindAddr", []string{"127.0.0.1:9999", "file", "127.0.0.1:10101"}},
		{"Timer.typed", []string{"1", "file", "(unknown key: not one the Timer service has defined)"}},
		{"Timer.queueLimit", []string{"5", "env", "(defined when Timer starts)"}}, // in the environment only
		{"RPC.bindAdr", []string{"x", "flag", `(unknown key: not one the RPC service has defined; did you mean "RPC.bindAddr"?)`}},
		{"Node.shutdowntimeout", []string{"1s", "file", `(unknown key: not one the Node service has defined; did you mean "Node.shutdownTimeout"?)`}},
		{"SocketIO.typed", []string{"1", "flag", "(defined when SocketIO starts)"}}, // no SocketIO key known yet
	} {
		if got := rows[tc.key]; !slices.Equal(got, tc.want) {
			t.Errorf("row %s: got %q, want %q\n%s", tc.key, got, tc.want, out)
		}
	}
	if got := rows["RPC.token"]; len(got) < 2 || got[0] != "(set, hidden)" || got[1] != "env" || strings.Contains(string(out), "s3cret") {
		t.Errorf("row RPC.token: got %q, want its value hidden, from env\n%s", got, out)
	}
	if got := rows["Nope.x"]; len(got) != 3 || !strings.HasPrefix(got[2], "(unknown key") {
		t.Errorf("row Nope.x: got %q, want value 2 from the file and an unknown-key note\n%s", got, out)
	}
	if got := rows["Telnte.bindAddr"]; len(got) != 3 || !strings.HasSuffix(got[2], `; did you mean "Telnet.bindAddr"?)`) {
		t.Errorf("row Telnte.bindAddr: got %q, want an unknown-key note suggesting Telnet.bindAddr\n%s", got, out)
	}
	if after, _ := os.ReadFile(conf); string(after) != text {
		t.Errorf("mtnode config changed the file:\n%s", after)
	}
}

// TestIntegrationConfigWithoutFile: before the first run there is no
// config file; mtnode config says so, shows the embedded default config's
// values with source embedded, and still writes nothing.
func TestIntegrationConfigWithoutFile(t *testing.T) {
	p := prefix(t, "mtnode")
	conf := filepath.Join(p, "conf", "mtnode.conf")
	out, err := exec.Command(filepath.Join(p, "bin", "mtnode"), "config").Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	header, _, _ := strings.Cut(string(out), "\n")
	if want := "# config file: " + conf + " (does not exist yet: the first run writes it"; !strings.HasPrefix(header, want) {
		t.Errorf("header: got %q, want it to start with %q", header, want)
	}
	if !regexp.MustCompile(`(?m)^Start\s+RPC\s+embedded\s+RPC$`).Match(out) {
		t.Errorf("want a row Start RPC embedded RPC:\n%s", out)
	}
	if _, err := os.Stat(conf); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mtnode config created %s (stat: %v)", conf, err)
	}
}

// TestIntegrationUsageErrorsExit2: a verb or argument the program does not
// take is a usage error, exit 2, like a bad flag.
func TestIntegrationUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"config", "extra"}, {"send", "127.0.0.1:1", "Echo"},
		{"send", "127.0.0.1:1", "Echo", "mtnode.timer.v1.Nope", "{}"},
		{"send", "127.0.0.1:1", "Echo", "google.protobuf.StringValue", `"unterminated`},
		{"send", "--count", "-1", "127.0.0.1:1", "Echo", "google.protobuf.StringValue", `"hi"`},
		{"send", "127.0.0.1", "Echo", "google.protobuf.StringValue", `"no port"`},
		{"send", "--tls-cert", "c.pem", "127.0.0.1:1", "Echo", "google.protobuf.StringValue", `"no key"`},
		{"send", "--set", "RPC.token=x", "127.0.0.1:1", "Echo", "google.protobuf.StringValue", `"set"`},
		{"run", "--demo", "--conf", "x.conf"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, code := runOnce(t, mtnodeBin, args...)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; output:\n%s", code, out)
			}
		})
	}
}

func TestIntegrationVersion(t *testing.T) {
	out, code := runOnce(t, mtnodeBin, "version")
	if code != 0 || !strings.HasPrefix(out, "mtnode ") {
		t.Fatalf("got %q (exit %d)", out, code)
	}
}
