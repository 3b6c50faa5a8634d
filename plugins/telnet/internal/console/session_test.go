package console

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/pwhash"
)

const rootPrompt = "n1:/$ "

// setup starts a server with the demo tree and returns its address and
// the channel that releases "later" commands.
func setup(t *testing.T, cfg Config) (*Server, string, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	srv, addr := testServer(t, cfg, demoTree(t, release))
	t.Cleanup(func() { close(release) })
	return srv, addr, release
}

func TestNegotiation(t *testing.T) {
	_, addr, _ := setup(t, Config{})
	c := dial(t, addr, false)
	if got := c.expect("\xff\xfb\x01\xff\xfb\x03"); got != "\xff\xfb\x01\xff\xfb\x03" {
		t.Fatalf("greeting = %q, want IAC WILL ECHO IAC WILL SGA first", got)
	}
	c.expect(rootPrompt)
	c.send("\xff\xfb\x22")                         // WILL LINEMODE
	c.expect("\xff\xfe\x22")                       // DONT LINEMODE
	c.send("\xff\xfb\x1f")                         // WILL NAWS
	c.expect("\xff\xfe\x1f")                       // DONT NAWS
	c.send("\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0") // a NAWS report anyway
	c.send(acceptEcho)
	out := c.run("demo/echo hi", rootPrompt)
	if !strings.Contains(out, "demo/echo hi\r\nhi\r\n") {
		t.Errorf("output %q: want the echoed line and the answer", out)
	}
}

func TestNetcat(t *testing.T) {
	_, addr, _ := setup(t, Config{})
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	tests := []struct {
		name, line, want string
	}{
		{"lf", "demo/add 2 3\n", "2+3\r\n\r" + rootPrompt},
		{"cr lf", "demo/add 4 5\r\n", "4+5\r\n\r" + rootPrompt},
		{"cr nul", "demo/add 6 7\r\x00", "6+7\r\n\r" + rootPrompt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.send(tt.line)
			got := c.expect(rootPrompt)
			if got != tt.want {
				t.Errorf("output %q, want %q and no echo", got, tt.want)
			}
		})
	}
}

func TestEditingKeys(t *testing.T) {
	_, addr, _ := setup(t, Config{})
	c := dial(t, addr, true)
	c.expect(rootPrompt)
	tests := []struct {
		name, keys, want string
	}{
		{"backspace", "demo/echo helxo\x7f\x7flo", "hello"},
		{"left and insert", "demo/echo hllo\x1b[D\x1b[D\x1b[De", "hello"},
		{"home end", "echo hello\x1b[Hdemo/\x1b[F!", "hello!"},
		{"ss3 home end", "echo hello\x1bOHdemo/\x1bOF!", "hello!"},
		{"tilde home delete", "xdemo/echo hello\x1b[1~\x1b[3~\x1b[4~.", "hello."},
		{"ctrl-a ctrl-e", "echo hi\x01demo/\x05!", "hi!"},
		{"ctrl-u", "garbage\x15demo/echo clean", "clean"},
		{"ctrl-w", "demo/echo one two\x17three", "one three"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := c.run(tt.keys, rootPrompt)
			if !strings.Contains(out, "\r\n"+tt.want+"\r\n") {
				t.Errorf("output %q, want the answer %q", out, tt.want)
			}
		})
	}
	t.Run("ctrl-c cancels the line", func(t *testing.T) {
		c.send("demo/echo never\x03")
		out := c.expect(rootPrompt)
		if !strings.Contains(out, "^C\r\n") {
			t.Errorf("output %q, want ^C", out)
		}
		out = c.run("demo/echo after", rootPrompt)
		if strings.Contains(out, "never") {
			t.Errorf("cancelled text came back: %q", out)
		}
	})
	t.Run("ctrl-d on an empty line quits", func(t *testing.T) {
		c.send("\x04")
		if out := c.expectEOF(); !strings.Contains(out, "bye") {
			t.Errorf("output %q, want bye", out)
		}
	})
}

func TestHistory(t *testing.T) {
	_, addr, _ := setup(t, Config{HistorySize: 2})
	tests := []struct {
		name, keys, want string
	}{
		{"up", "\x1b[A", "three"},
		{"up up", "\x1b[A\x1b[A", "two"},
		{"bounded", "\x1b[A\x1b[A\x1b[A\x1b[A", "two"},
		{"up down", "\x1b[A\x1b[A\x1b[B", "three"},
		{"down restores the draft", "demo/echo dr\x1b[A\x1b[Baft", "draft"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr, true)
			c.expect(rootPrompt)
			for _, w := range []string{"one", "two", "three"} {
				c.run("demo/echo "+w, rootPrompt)
			}
			out := c.run(tt.keys, rootPrompt)
			if !strings.Contains(out, "\r\n"+tt.want+"\r\n") {
				t.Errorf("output %q, want the answer %q", out, tt.want)
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	_, addr, _ := setup(t, Config{})
	tests := []struct {
		name, keys string
		want       string // in the answer after Enter
		list       string // in the output before Enter, when candidates are listed
	}{
		{"directory", "de\techo x", "\r\nx\r\n", ""},
		{"command", "demo/ad\t1 2", "\r\n1+2\r\n", ""},
		{"choice", "demo/mode f\t", "\r\nmode fast\r\n", ""},
		{"spaced path", "demo ec\tok", "\r\nok\r\n", ""},
		{"ambiguous lists", "demo/\t\x15demo/echo y", "\r\ny\r\n", "demo/add "},
		{"builtins", "hel\t", "Commands in /:", ""},
		{"double tab lists", "demo/l\t\t\x15demo/echo z", "\r\nz\r\n", "demo/later "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr, true)
			c.expect(rootPrompt)
			c.send(tt.keys + "\r\n")
			out := c.expect(tt.want)
			if tt.list != "" && !strings.Contains(out, tt.list) {
				t.Errorf("output %q, want candidates listed (%q)", out, tt.list)
			}
		})
	}
}

func TestHelpAndNavigation(t *testing.T) {
	_, addr, _ := setup(t, Config{})
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	demo := "n1:/demo$ "
	tests := []struct {
		name, line, prompt string
		want               []string
	}{
		{"help tree", "help", rootPrompt, []string{
			"Commands in /:", "cd [<dir>]", "quit", "demo/", "demo commands",
			"  add <a:int> <b:int>", "add two integers", "  mode <m:fast|slow> [<why...>]",
			"rpc/", "  peers [<filter:/[a-z0-9.:]+/>]", "list RPC peers"}},
		{"question mark", "?", rootPrompt, []string{"Commands in /:", "echo <text...>"}},
		{"help command", "help demo/add", rootPrompt, []string{
			"usage: /demo/add <a:int> <b:int>", "add two integers", "a  an integer", "(registered by Demo)"}},
		{"ls root", "ls", rootPrompt, []string{"demo/  demo commands", "rpc/"}},
		{"ls dir", "ls demo", rootPrompt, []string{"add    add two integers", "slow"}},
		{"cd", "cd demo", demo, nil},
		{"ls here", "ls", demo, []string{"echo"}},
		{"relative command", "add 1 1", demo, []string{"1+1"}},
		{"absolute command", "/rpc/peers", demo, []string{"peers: none"}},
		{"help here", "help", demo, []string{"Commands in /demo:", "echo <text...>"}},
		{"cd up", "cd ..", rootPrompt, nil},
		{"enter by name", "demo", demo, nil},
		{"dot dot", "..", rootPrompt, nil},
		{"cd path", "cd /rpc", "n1:/rpc$ ", nil},
		{"cd slash", "cd /", rootPrompt, nil},
		{"spaced command", "rpc peers", rootPrompt, []string{"peers: none"}},
		{"regexp arg", "rpc/peers 10.0.0.1:10100", rootPrompt, []string{"peers: none"}},
		{"multi-line answer", "demo/lines", rootPrompt, []string{"one\r\ntwo\r\nthree\r\n\r" + rootPrompt}},
		{"cd to a command", "cd demo/add", rootPrompt, []string{`% "add" in /demo is a command, not a directory`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := c.run(tt.line, tt.prompt)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("%q: output %q, want %q", tt.line, out, w)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	_, addr, _ := setup(t, Config{})
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	tests := []struct {
		name, line string
		want       []string
	}{
		{"unknown with suggestion", "demo/ad 1 2", []string{`% unknown command "ad" in /demo (did you mean "add"?)`}},
		{"unknown dir", "dmeo", []string{`% unknown command "dmeo" in / (did you mean "demo"?)`}},
		{"unknown builtin typo", "hlep", []string{`did you mean "help"?`}},
		{"unknown without suggestion", "zzzzzz", []string{`% unknown command "zzzzzz" in / (type help for the list)`}},
		{"bad int", "demo/add x 2", []string{`% bad argument "x" for <a:int>: not an integer`, "% usage: /demo/add <a:int> <b:int>"}},
		{"missing", "demo/add 1", []string{"% missing argument <b:int>", "% usage: /demo/add <a:int> <b:int>"}},
		{"too many", "demo/add 1 2 3", []string{`% unexpected argument "3"`, "% usage: /demo/add"}},
		{"bad choice", "demo/mode medium", []string{`% bad argument "medium" for <m:fast|slow>: want one of fast, slow`}},
		{"bad regexp", "rpc/peers BAD!", []string{`does not match /[a-z0-9.:]+/`}},
		{"command as dir", "demo/add/x", []string{`% "add" in /demo is a command, not a directory`}},
		{"help unknown", "help nope", []string{`% unknown command "nope" in /`}},
		{"quit with args", "quit now", []string{`% unexpected argument "now"`}},
		{"panic", "demo/panic", []string{"% command /demo/panic failed: boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := c.run(tt.line, rootPrompt)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("%q: output %q, want %q", tt.line, out, w)
				}
			}
		})
	}
}

func TestCommandTimeout(t *testing.T) {
	_, addr, _ := setup(t, Config{CommandTimeout: 50 * time.Millisecond})
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	out := c.run("demo/slow", rootPrompt)
	if want := "% no answer from Demo for /demo/slow within 50ms"; !strings.Contains(out, want) {
		t.Errorf("output %q, want %q", out, want)
	}
	if out := c.run("demo/echo still here", rootPrompt); !strings.Contains(out, "still here") {
		t.Errorf("after a timeout: output %q, want the answer", out)
	}
}

func TestTypeaheadAndInterrupt(t *testing.T) {
	_, addr, release := setup(t, Config{})
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	c.send("demo/later\ndemo/echo queued\n")
	release <- struct{}{}
	c.expect("later done\r\n\r" + rootPrompt)
	c.expect("queued\r\n\r" + rootPrompt)

	c.send("demo/later\n")
	c.send("\x03")
	out := c.expect(rootPrompt)
	if !strings.Contains(out, "% abandoned /demo/later") {
		t.Errorf("output %q, want the command abandoned", out)
	}
	release <- struct{}{} // the late answer must not show
	if out := c.run("demo/echo next", rootPrompt); strings.Contains(out, "later done") {
		t.Errorf("a late answer was printed: %q", out)
	}
}

func TestDisconnectMidCommand(t *testing.T) {
	srv, addr, release := setup(t, Config{})
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	c.send("demo/later\n")
	eventually(t, "one session", func() bool { return srv.Sessions() == 1 })
	c.conn.Close()
	eventually(t, "the session to end", func() bool { return srv.Sessions() == 0 })
	release <- struct{}{} // the answer finds no one, and must not block
	c2 := dial(t, addr, false)
	c2.expect(rootPrompt)
	if out := c2.run("demo/echo ok", rootPrompt); !strings.Contains(out, "ok") {
		t.Errorf("output %q after a disconnect, want ok", out)
	}
}

func TestMaxSessions(t *testing.T) {
	srv, addr, _ := setup(t, Config{MaxSessions: 2})
	a := dial(t, addr, false)
	a.expect(rootPrompt)
	b := dial(t, addr, false)
	b.expect(rootPrompt)
	c := dial(t, addr, false)
	if out := c.expectEOF(); !strings.Contains(out, "% too many console sessions (limit 2)") {
		t.Errorf("third session got %q, want a refusal", out)
	}
	a.send("quit\n")
	a.expectEOF()
	eventually(t, "a free slot", func() bool { return srv.Sessions() == 1 })
	d := dial(t, addr, false)
	d.expect(rootPrompt)
}

func TestIdleTimeout(t *testing.T) {
	_, addr, _ := setup(t, Config{IdleTimeout: 50 * time.Millisecond})
	c := dial(t, addr, false)
	if out := c.expectEOF(); !strings.Contains(out, "% idle for 50ms, closing the session") {
		t.Errorf("output %q, want the idle message", out)
	}
}

func TestLineLimit(t *testing.T) {
	_, addr, _ := setup(t, Config{MaxLineLength: 16})
	tests := []struct {
		name   string
		telnet bool
	}{
		{"telnet", true},
		{"netcat", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr, tt.telnet)
			c.expect(rootPrompt)
			out := c.run("demo/echo "+strings.Repeat("x", 100), rootPrompt)
			if !strings.Contains(out, "% line too long (max 16 characters); not run\r\n") {
				t.Errorf("output %q, want the line refused", out)
			}
			if strings.Contains(out, "xxxxxx\r\n") {
				t.Errorf("output %q: the cut line ran", out)
			}
			if tt.telnet && !strings.Contains(out, "\a") {
				t.Errorf("output %q, want a bell when the limit is reached", out)
			}
			// Exactly at the limit runs, and the session goes on.
			if out := c.run("demo/echo 123456", rootPrompt); !strings.HasSuffix(out, "123456\r\n\r"+rootPrompt) {
				t.Errorf("output %q, want a 16-character line to run", out)
			}
			// The refused line is not in the history: up recalls the one before.
			if tt.telnet {
				c.run("demo/echo "+strings.Repeat("y", 50), rootPrompt)
				if out := c.run("\x1b[A", rootPrompt); !strings.HasSuffix(out, "123456\r\n\r"+rootPrompt) {
					t.Errorf("up after a refused line ran %q, want the last line that ran", out)
				}
			}
		})
	}
}

func TestGarbageFlood(t *testing.T) {
	srv, addr, _ := setup(t, Config{MaxLineLength: 64})
	c := dial(t, addr, true)
	c.expect(rootPrompt)
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 256<<10)
	for i := range garbage {
		b := byte(rng.Uint32())
		if b == 0x04 { // Ctrl-D would end the session: not what this test is about
			b = 'x'
		}
		garbage[i] = b
	}
	// Negotiation floods as well: every option asked for, on and off.
	var nego strings.Builder
	for i := range 3000 {
		nego.WriteString("\xff" + string([]byte{byte(0xfb + i%4), byte(i)}))
	}
	c.send(string(garbage))
	c.send(nego.String())
	c.send("\xff\xf0\xff\xf0\x03\x15") // end any subnegotiation, cancel the line
	c.send("demo/echo alive\r\n")
	c.expect("\r\nalive\r\n")
	if srv.Sessions() != 1 {
		t.Errorf("sessions = %d, want 1", srv.Sessions())
	}
}

func TestPassword(t *testing.T) {
	hash, err := pwhash.HashIter("s3cret", 1000)
	if err != nil {
		t.Fatal(err)
	}
	_, addr, _ := setup(t, Config{PasswordHash: hash, LoginFailDelay: time.Millisecond})
	t.Run("right after wrong", func(t *testing.T) {
		c := dial(t, addr, true)
		c.expect("Password: ")
		c.send("guess\r\n")
		out := c.expect("Password: ")
		if !strings.Contains(out, "% wrong password") || strings.Contains(out, "guess") {
			t.Errorf("output %q, want a refusal and no echo", out)
		}
		c.send("s3cret\r\n")
		out = c.expect(rootPrompt)
		if strings.Contains(out, "s3cret") {
			t.Errorf("the password was echoed: %q", out)
		}
		c.run("demo/echo in", rootPrompt)
	})
	t.Run("no commands before login", func(t *testing.T) {
		c := dial(t, addr, false)
		c.expect("Password: ")
		c.send("demo/echo sneaky\n")
		if out := c.expect("Password: "); strings.Contains(out, "sneaky\r\n") {
			t.Errorf("a command ran before login: %q", out)
		}
	})
	t.Run("three strikes", func(t *testing.T) {
		c := dial(t, addr, false)
		c.send("a\nb\nc\n")
		if out := c.expectEOF(); !strings.Contains(out, "% wrong password; closing the session") {
			t.Errorf("output %q, want the session closed", out)
		}
	})
}

func TestLoginTimeout(t *testing.T) {
	hash, err := pwhash.HashIter("s3cret", 1000)
	if err != nil {
		t.Fatal(err)
	}
	srv, addr, _ := setup(t, Config{PasswordHash: hash, LoginTimeout: 100 * time.Millisecond, MaxSessions: 1})
	t.Run("silent client", func(t *testing.T) {
		c := dial(t, addr, false)
		c.expect("Password: ")
		if out := c.expectEOF(); !strings.Contains(out, "% not logged in within 100ms, closing the session") {
			t.Errorf("output %q, want the login timeout", out)
		}
	})
	eventually(t, "the slot freed", func() bool { return srv.Sessions() == 0 })
	t.Run("logged in in time stays", func(t *testing.T) {
		c := dial(t, addr, false)
		c.expect("Password: ")
		c.send("s3cret\n")
		c.expect(rootPrompt)
		// Past the login timeout, the session still answers.
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			c.run("demo/echo still", rootPrompt)
		}
	})
}

func TestLoginFailDelay(t *testing.T) {
	hash, err := pwhash.HashIter("s3cret", 1000)
	if err != nil {
		t.Fatal(err)
	}
	const delay = 200 * time.Millisecond
	_, addr, _ := setup(t, Config{PasswordHash: hash, LoginFailDelay: delay})
	c := dial(t, addr, false)
	c.expect("Password: ")
	// A guess and the right password sent together: the second waits for
	// the pause after the first.
	start := time.Now()
	c.send("guess\ns3cret\n")
	out := c.expect("% wrong password\r\n")
	out += c.expect(rootPrompt)
	if took := time.Since(start); took < delay {
		t.Errorf("logged in %v after a wrong password, want at least %v", took, delay)
	}
	if strings.Count(out, "Password: ") != 1 {
		t.Errorf("output %q, want one more password prompt, after the pause", out)
	}
	if out := c.run("demo/echo in", rootPrompt); !strings.Contains(out, "in\r\n") {
		t.Errorf("output %q, want the command to run after login", out)
	}
}

func TestOwnerLeaves(t *testing.T) {
	tree := demoTree(t, nil)
	_, addr := testServer(t, Config{}, tree)
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	c.run("cd demo", "n1:/demo$ ")
	if n := tree.RemoveOwner("Demo"); n != 7 {
		t.Errorf("RemoveOwner removed %d commands, want 7", n)
	}
	out := c.run("echo gone", rootPrompt)
	if !strings.Contains(out, `% unknown command "echo" in /`) {
		t.Errorf("output %q, want the command gone and the prompt back at /", out)
	}
	if out := c.run("ls", rootPrompt); strings.Contains(out, "demo/") {
		t.Errorf("ls shows the empty directory: %q", out)
	}
}

func TestServerClose(t *testing.T) {
	srv, addr, _ := setup(t, Config{})
	c := dial(t, addr, false)
	c.expect(rootPrompt)
	srv.Close()
	if out := c.expectEOF(); !strings.Contains(out, "% the console is shutting down") {
		t.Errorf("output %q, want the shutdown notice", out)
	}
}
