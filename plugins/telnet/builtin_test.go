package telnet_test

import (
	"strings"
	"testing"

	"github.com/mtnode/mtnode/examples/demo/telnetdemo"
	"github.com/mtnode/mtnode/plugins/telnet"
	"github.com/mtnode/mtnode/sdk"
)

// login passes the password prompt.
func login(c *client, password string) {
	c.t.Helper()
	c.expect("Password: ")
	c.send(password + "\r\n")
	c.expect(prompt)
}

func TestConfigGet(t *testing.T) {
	hash := cheapHash(t, "open sesame")
	_, addr := startFileNode(t, fileNodeOpts{
		conf: "# sessions, at most\nTelnet.maxSessions=5\nTelnet.password=" + hash + "\n",
		env:  map[string]string{"MT_Telnet_idleTimeout": "5m"},
	})
	c := dial(t, addr)
	login(c, "open sesame")
	tests := []struct {
		line string
		want []string
		not  []string
	}{
		{"config/get Telnet", []string{"Telnet.bindAddr=127.0.0.1:0", "Telnet.maxSessions=5", "(file)", "Telnet.idleTimeout=5m", "(env)",
			"Telnet.commandTimeout=10s", "(default)", "Telnet.password=(hashed; not shown)"}, []string{"pbkdf2", "Start="}},
		{"config/get Telnet.maxSessions", []string{"Telnet.maxSessions=5", "concurrent console sessions; more are turned away", `default: "8", from: file`}, nil},
		{"config/get Telnet.password", []string{"Telnet.password=(hashed; not shown)"}, []string{"pbkdf2"}},
		{"config/get", []string{"Start=Telnet", "Telnet.maxSessions=5"}, nil},
		{"config/get Telnet.nope", []string{`% no config key "Telnet.nope" (config/get lists them all)`}, nil},
		{"config/get Nope.", []string{"no config keys match"}, nil},
	}
	for _, tt := range tests {
		out := c.run(tt.line, prompt)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output %q, want %q", tt.line, out, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(out, w) {
				t.Errorf("%q: output %q, want no %q", tt.line, out, w)
			}
		}
	}
}

func TestPluginsCommand(t *testing.T) {
	_, addr := startCoreNode(t, func() []sdk.ServiceInfo {
		return []sdk.ServiceInfo{
			{Name: "HelloWeb", Where: "plugin mt-demo (pid 42)", State: "running", Delivery: "plugin"},
			{Name: "Echo", Where: "plugin mt-demo (pid 42)", State: "running", Delivery: "plugin"},
			{Name: "Other", Where: "plugin other", State: "idle", Delivery: "plugin"},
		}
	})
	c := dial(t, addr)
	c.expect(prompt)
	out := strings.ReplaceAll(c.run("node/plugins", prompt), "\r\n", "\n")
	for _, w := range []string{"mt-demo (pid 42): Echo (running), HelloWeb (running)\n", "other: Other (idle)\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("node/plugins: output %q, want %q", out, w)
		}
	}
	out = c.run("node/services", prompt)
	if !strings.Contains(out, "plugin mt-demo (pid 42)") {
		t.Errorf("node/services: output %q, want the plugin services with where they run", out)
	}
}

func TestStartsOnFirstRegistration(t *testing.T) {
	n, _ := startFileNode(t, fileNodeOpts{conf: "Start=TelnetDemo\n", specs: []sdk.Spec{telnetdemo.Spec}, lazy: true})
	// Nothing but TelnetDemo's registrations can start Telnet here.
	checkFor(t, "Telnet running", func() bool {
		for _, si := range n.Stats() {
			if si.Name == telnet.Name && si.State == "running" {
				return true
			}
		}
		return false
	})
	c := dial(t, n.consoleAddr(t))
	c.expect(prompt)
	checkFor(t, "TelnetDemo's commands", func() bool {
		return strings.Contains(c.run("help demo", prompt), "push")
	})
	if out := c.run("demo/push one", prompt); !strings.Contains(out, `pushed "one"`) {
		t.Errorf("demo/push: output %q, want the demo's answer", out)
	}
}
