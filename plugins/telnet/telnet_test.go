package telnet_test

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mtnode/mtnode/examples/demo/telnetdemo"
	"github.com/mtnode/mtnode/plugins/telnet"
	"github.com/mtnode/mtnode/plugins/telnet/internal/pwhash"
	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

var transcriptFile = flag.String("transcript", "", "write the transcript of TestDemoSession to this file")

const prompt = "test:/$ "

// startNode runs Telnet and the given services, and returns the console's
// address once want commands are registered.
func startNode(t *testing.T, conf map[string]string, want int, specs ...sdk.Spec) (*sdktest.Node, string) {
	t.Helper()
	if conf["bindAddr"] == "" {
		conf["bindAddr"] = "127.0.0.1:0"
	}
	names := []string{telnet.Name}
	for _, s := range specs {
		names = append(names, s.Name)
	}
	n := sdktest.New(t, append([]sdk.Spec{telnet.Spec}, specs...),
		sdktest.WithConfig(map[string]map[string]string{telnet.Name: conf}),
		sdktest.WithStart(names...))
	deadline := time.Now().Add(waitTime)
	for {
		msg, err := n.Request(sdk.To(telnet.Name), &telnetpb.GetStatus{})
		if err != nil {
			t.Fatalf("GetStatus: %v", err)
		}
		st := msg.(*telnetpb.Status)
		if int(st.GetCommands()) >= want {
			return n, st.GetAddrs()[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commands registered, want %d", st.GetCommands(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// sessions returns the number of open console sessions.
func sessions(t *testing.T, n *sdktest.Node) int {
	t.Helper()
	msg, err := n.Request(sdk.To(telnet.Name), &telnetpb.GetStatus{})
	if err != nil {
		t.Fatalf("GetStatus: %v", err)
	}
	return int(msg.(*telnetpb.Status).GetSessions())
}

// builtins is the number of operator commands the service registers.
const builtins = 11

func TestDemoSession(t *testing.T) {
	_, addr := startNode(t, map[string]string{}, builtins+5, telnetdemo.Spec)
	c := dial(t, addr)
	c.expect(prompt)
	demo := "test:/demo$ "
	steps := []struct {
		line, prompt string
		want         []string
	}{
		{"help", prompt, []string{"Commands in /:", "demo/", "TelnetDemo: a list and a counter",
			"push <item...>", "greet <name> [<style:plain|loud>]", "node/", "services [<name>]", "config/", "set <key> [<value...>]"}},
		{"cd demo", demo, nil},
		{"ls", demo, []string{"count", "push", "show the list, one item per line"}},
		{"push first item", demo, []string{`pushed "first item" (1 on the list)`}},
		{"push second", demo, []string{`pushed "second" (2 on the list)`}},
		{"show", demo, []string{"  1  first item\n  2  second\n"}},
		{"pop", demo, []string{`popped "second" (1 left)`}},
		{"count 41", demo, []string{"counter = 41"}},
		{"count", demo, []string{"counter = 42"}},
		{"count many", demo, []string{`% bad argument "many" for [<by:int>]: not an integer`, "% usage: /demo/count [<by:int>]"}},
		{"greet Ada loud", demo, []string{"HELLO, ADA!"}},
		{"gret Ada", demo, []string{`% unknown command "gret" in /demo (did you mean "greet"?)`}},
		{"cd /", prompt, nil},
		{"node services TelnetDemo", prompt, []string{"name", "TelnetDemo", "state", "running", "handled"}},
		{"node/services", prompt, []string{"NAME", "STATE", "QUEUE", "HIGH", "HANDLED", "Telnet", "TelnetDemo"}},
		{"node/uptime", prompt, []string{"node test up", "epoch"}},
		{"node/version", prompt, []string{"mtnode", "go1."}},
		{"node/plugins", prompt, []string{"no plugin services known"}},
		{"log/level", prompt, []string{"log level "}},
		{"log/level debug", prompt, []string{"log level set to debug"}},
		{"config/get Telnet", prompt, []string{}},
		{"config/set Telnet.maxSessions 4", prompt, []string{"% core: this node has no config file to write"}},
		{"console/sessions", prompt, []string{"1 session(s) open"}},
		{"plugins/reset mt-demo", prompt, []string{"% core: this node runs no plugin host"}},
	}
	for _, s := range steps {
		out := strings.ReplaceAll(c.run(s.line, s.prompt), "\r\n", "\n")
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output %q, want %q", s.line, out, w)
			}
		}
	}
	c.send("quit\r\n")
	c.expect("bye")
	if *transcriptFile != "" {
		if err := os.WriteFile(*transcriptFile, []byte(c.transcript()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// slow registers commands that answer late, never, with an error or with
// the wrong message.
type slow struct {
	mux     sdk.Mux
	waiting []*sdk.Event
}

func newSlow() sdk.Service {
	s := &slow{}
	sdk.On(&s.mux, func(c sdk.Context, m *telnetpb.Command) error {
		switch m.GetPath() {
		case "/slow/never":
			s.waiting = append(s.waiting, c.Event()) // kept, never answered
		case "/slow/fail":
			return errors.New("slow: the disk is on fire")
		case "/slow/wrong":
			c.Reply(&telnetpb.Registered{Path: "nonsense"})
		}
		return nil
	})
	return s
}

func (s *slow) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

func (s *slow) Start(c sdk.Context) error {
	for _, p := range []string{"slow/never", "slow/fail", "slow/wrong"} {
		c.Send(sdk.To(telnet.Name), &telnetpb.Register{Path: p, Description: "a badly behaved command"})
	}
	c.Send(sdk.To(telnet.Name), &telnetpb.Register{Path: "demo/push", Description: "taken by TelnetDemo"})
	return nil
}

func TestBadServices(t *testing.T) {
	_, addr := startNode(t, map[string]string{"commandTimeout": "100ms"}, builtins+8,
		telnetdemo.Spec, sdk.Define("Slow", newSlow))
	c := dial(t, addr)
	c.expect(prompt)
	tests := []struct {
		name, line, want string
	}{
		{"timeout", "slow/never", "% no answer from Slow for /slow/never within 100ms"},
		{"handler error", "slow/fail", "% /slow/fail: Slow: slow: the disk is on fire"},
		{"wrong answer", "slow/wrong", "answered with mtnode.telnet.v1.Registered, want mtnode.telnet.v1.Output"},
		{"path kept by its owner", "help demo/push", "(registered by TelnetDemo)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out := c.run(tt.line, prompt); !strings.Contains(out, tt.want) {
				t.Errorf("output %q, want %q", out, tt.want)
			}
		})
	}
}

func TestRegisterErrors(t *testing.T) {
	n, _ := startNode(t, map[string]string{}, builtins)
	tests := []struct {
		name string
		msg  *telnetpb.Register
	}{
		{"outside any service", &telnetpb.Register{Path: "x/y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := n.Request(sdk.To(telnet.Name), tt.msg)
			if !errors.Is(err, sdk.ErrRefused) {
				t.Errorf("Register from a test client: got %v, want ErrRefused", err)
			}
		})
	}
}

func TestRefuseUnprotectedAddress(t *testing.T) {
	n := sdktest.New(t, []sdk.Spec{telnet.Spec}, sdktest.WithConfig(map[string]map[string]string{
		telnet.Name: {"bindAddr": "127.0.0.1:0,0.0.0.0:0"},
	}))
	_, err := n.Request(sdk.To(telnet.Name), &telnetpb.GetStatus{})
	if !errors.Is(err, sdk.ErrStartFailed) || !strings.Contains(err.Error(), "refusing to listen on 0.0.0.0:0 without a password") {
		t.Fatalf("got %v, want ErrStartFailed naming the address and the password", err)
	}
}

// cheapHash returns a stored hash of password with a small work factor. A
// plain password would be hashed at Start with pwhash.DefaultIterations, and
// every login checked at that cost: several seconds each under the race
// detector on a loaded machine, past sdktest's 10s start bound. Tests of the
// login flow give the stored form; TestPasswordHashWrittenBackOnlyToItsFile
// covers the hashing of a plain password.
func cheapHash(t *testing.T, password string) string {
	t.Helper()
	hash, err := pwhash.HashIter(password, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

func TestPassword(t *testing.T) {
	_, addr := startNode(t, map[string]string{"password": cheapHash(t, "open sesame")}, builtins)
	c := dial(t, addr)
	c.expect("Password: ")
	c.send("wrong\r\n")
	c.expect("% wrong password")
	c.send("open sesame\r\n")
	c.expect(prompt)
	if out := c.run("console/sessions", prompt); !strings.Contains(out, "1 session(s) open") {
		t.Errorf("output %q after login, want the command's answer", out)
	}
}

func TestLoginTimeout(t *testing.T) {
	n, addr := startNode(t, map[string]string{"password": cheapHash(t, "open sesame"), "loginTimeout": "100ms", "maxSessions": "1"}, builtins)
	for i := range 2 { // the second session gets the slot the first one lost
		c := dial(t, addr)
		c.expect("Password: ")
		if out := c.expectEOF(); !strings.Contains(out, "% not logged in within 100ms, closing the session") {
			t.Errorf("session %d: output %q, want the login timeout", i, out)
		}
		deadline := time.Now().Add(waitTime)
		for sessions(t, n) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the session's slot was not freed")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func TestTwoAddresses(t *testing.T) {
	n, _ := startNode(t, map[string]string{"bindAddr": "127.0.0.1:0,localhost:0"}, builtins)
	msg, err := n.Request(sdk.To(telnet.Name), &telnetpb.GetStatus{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := msg.(*telnetpb.Status).GetAddrs()
	if len(addrs) != 2 {
		t.Fatalf("addrs = %q, want two", addrs)
	}
	for _, a := range addrs {
		c := dial(t, a)
		c.expect(prompt)
	}
}
