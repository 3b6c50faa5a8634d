package telnet

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/sdk"
)

// fakeAdmin records SetConfig calls.
type fakeAdmin struct {
	services []sdk.ServiceInfo
	entries  []sdk.ConfigEntry
	set      map[string]string
	err      error
}

func (a *fakeAdmin) NodeName() string                 { return "test" }
func (a *fakeAdmin) Epoch() uint64                    { return 1 }
func (a *fakeAdmin) StartedAt() time.Time             { return time.Time{} }
func (a *fakeAdmin) Services() []sdk.ServiceInfo      { return a.services }
func (a *fakeAdmin) ConfigEntries() []sdk.ConfigEntry { return a.entries }
func (a *fakeAdmin) SetLogLevel(slog.Level)           {}
func (a *fakeAdmin) LogLevel() slog.Level             { return slog.LevelInfo }
func (a *fakeAdmin) ResetPlugin(string) error         { return errors.New("no plugins here") }
func (a *fakeAdmin) SetConfig(key, value string) error {
	if a.err != nil {
		return a.err
	}
	a.set[key] = value
	return nil
}

func TestConfigSet(t *testing.T) {
	services := []sdk.ServiceInfo{{Name: "Telnet", State: "running"}, {Name: "Timer", State: "idle"}, {Name: "Gone", State: "stopped"}}
	entries := []sdk.ConfigEntry{{Key: "RPC.bindAddr", Source: "env"}, {Key: "Timer.minPeriod", Source: "flag"}}
	tests := []struct {
		name, key, value string
		want             []string
		written          bool
	}{
		{"running service", "Telnet.maxSessions", "4", []string{"Telnet.maxSessions=4 written to the config file",
			"Telnet read its config when it started (it is running now): it takes effect when Telnet next starts, so restart the node to apply it"}, true},
		{"idle service", "Timer.maxTimers", "10", []string{"Timer reads its config when it starts (it is idle now): it takes effect when Timer next starts"}, true},
		{"stopped service", "Gone.x", "1", []string{"(it is stopped now): it takes effect when Gone next starts"}, true},
		{"node key", "Start", "RPC,Telnet", []string{"the node reads it when it starts: it takes effect when the node restarts"}, true},
		{"Node section", "Node.logLevel", "debug", []string{"the node reads it when it starts"}, true},
		{"unknown service", "Nope.x", "1", []string{"no service Nope is on this node now"}, true},
		{"empty value", "Timer.maxTimers", "", []string{"Timer.maxTimers= written"}, true},
		{"env override", "RPC.bindAddr", "127.0.0.1:1", []string{"note: the environment variable MT_RPC_bindAddr overrides this key"}, true},
		{"flag override", "Timer.minPeriod", "1s", []string{"note: a --set flag overrides this key"}, true},
		{"empty password", "Telnet.password", "", []string{"% refusing to empty Telnet.password", "locking remote access; nothing written"}, false},
		{"plain password", "Telnet.password", "secret", []string{"% write the new password into the config file by hand"}, false},
		{"newline in value", "Telnet.maxSessions", "4\nStart=Evil", []string{"% refusing a key or value with a line break or NUL byte", "nothing written"}, false},
		{"CR in key", "Telnet.x\r", "1", []string{"% refusing a key or value with a line break"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &fakeAdmin{services: services, entries: entries, set: map[string]string{}}
			s := &Service{admin: a}
			got := s.configSet(&console.Call{Args: []console.Arg{{Name: "key", Value: tt.key}, {Name: "value", Value: tt.value}}})
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want %q in it", got, w)
				}
			}
			if _, written := a.set[tt.key]; written != tt.written {
				t.Errorf("written = %v, want %v", written, tt.written)
			}
		})
	}
	t.Run("write fails", func(t *testing.T) {
		s := &Service{admin: &fakeAdmin{err: errors.New("core: this node has no config file to write")}}
		got := s.configSet(&console.Call{Args: []console.Arg{{Name: "key", Value: "Timer.x"}, {Name: "value", Value: "1"}}})
		if want := "% core: this node has no config file to write"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}
