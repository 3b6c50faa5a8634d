package telnet_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/plugins/telnet"
	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
)

// fakePlugins reports a plugin service, Plug, as the plugin host does,
// with a state and process the test changes.
type fakePlugins struct {
	mu    sync.Mutex
	infos []sdk.ServiceInfo
}

func (f *fakePlugins) set(infos ...sdk.ServiceInfo) {
	f.mu.Lock()
	f.infos = infos
	f.mu.Unlock()
}

func (f *fakePlugins) services() []sdk.ServiceInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sdk.ServiceInfo(nil), f.infos...)
}

func TestCommandsLeaveWithTheirService(t *testing.T) {
	plug := &fakePlugins{}
	n, addr := startCoreNode(t, plug.services)
	c := dial(t, addr)
	c.expect(prompt)

	// register sends Register as Plug's plugin process does: Plug's hop
	// under the plugin link's.
	register := func() {
		t.Helper()
		n.Router().Deliver(&sdk.Event{Kind: sdk.KindRequest, ID: 1, Dst: telnet.Name,
			Route: sdk.Route{{Kind: sdk.HopService, Name: "Plug"}, {Kind: sdk.HopEndpoint, Name: "plug"}},
			Msg:   &telnetpb.Register{Path: "plug/hello", Description: "a plugin's command"}})
		checkFor(t, "plug/hello registered", func() bool {
			return strings.Contains(c.run("help plug", prompt), "hello")
		})
	}
	gone := func(what string) {
		t.Helper()
		checkFor(t, "plug/hello removed after "+what, func() bool {
			return strings.Contains(c.run("help plug", prompt), `% unknown command "plug"`)
		})
	}
	running := sdk.ServiceInfo{Name: "Plug", Where: "plugin plug (pid 10)", State: "running"}
	tests := []struct {
		name  string
		after sdk.ServiceInfo // Plug's state after it registered; zero: gone from the node
	}{
		{"crash leaves it idle", sdk.ServiceInfo{Name: "Plug", Where: "plugin plug", State: "idle"}},
		{"relaunched by another process", sdk.ServiceInfo{Name: "Plug", Where: "plugin plug (pid 11)", State: "running"}},
		{"binary removed", sdk.ServiceInfo{Name: "Plug", Where: "plugin plug", State: "removed"}},
		{"no longer known", sdk.ServiceInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plug.set(running)
			register()
			if tt.after.Name == "" {
				plug.set()
			} else {
				plug.set(tt.after)
			}
			gone(tt.name)
		})
	}
}

// startCoreNode starts a core node with Telnet, whose Stats include the
// plugin services extra reports, and returns it with the console's
// address.
func startCoreNode(t *testing.T, extra func() []sdk.ServiceInfo) (*core.Node, string) {
	t.Helper()
	n, err := core.New(core.Config{
		Name: "test", Services: []sdk.Spec{telnet.Spec}, Start: []string{telnet.Name},
		Conf:          func(string) sdk.Config { return mapConf{"bindAddr": "127.0.0.1:0"} },
		ExtraServices: extra,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	ev, err := n.Request(context.Background(), sdk.To(telnet.Name), &telnetpb.GetStatus{})
	if err != nil {
		t.Fatal(err)
	}
	return n, ev.Msg.(*telnetpb.Status).GetAddrs()[0]
}

// mapConf is a Telnet config with some values set.
type mapConf map[string]string

func (m mapConf) String(key, def, _ string) string {
	if v, ok := m[key]; ok {
		return v
	}
	return def
}
func (m mapConf) Int(_ string, def int64, _ string) int64                      { return def }
func (m mapConf) Bool(_ string, def bool, _ string) bool                       { return def }
func (m mapConf) Duration(_ string, def time.Duration, _ string) time.Duration { return def }
func (m mapConf) Bytes(_ string, def int64, _ string) int64                    { return def }
func (m mapConf) Addrs(key, def, desc string) []string {
	return strings.Split(m.String(key, def, desc), ",")
}
func (m mapConf) Problems() []error { return nil }
