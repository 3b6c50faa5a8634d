package telnet

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mtnode/mtnode/sdk"
)

func TestStaleOwners(t *testing.T) {
	marks := map[string]ownerMark{
		"Demo":    {seq: 1, pid: "pid 42"},
		"Local":   {seq: 2},
		"Gone":    {seq: 3, pid: "pid 7"},
		"Unknown": {seq: 4}, // registered before Admin could say where it was
	}
	running := []sdk.ServiceInfo{
		{Name: "Demo", Where: "plugin mt-demo (pid 42)", State: "running"},
		{Name: "Local", Where: "node", State: "running"},
		{Name: "Gone", Where: "plugin gone (pid 7)", State: "draining"},
		{Name: "Unknown", Where: "plugin u (pid 9)", State: "launching"},
	}
	with := func(name, where, state string) []sdk.ServiceInfo {
		out := slices.Clone(running)
		for i := range out {
			if out[i].Name == name {
				out[i].Where, out[i].State = where, state
			}
		}
		return out
	}
	tests := []struct {
		name  string
		infos []sdk.ServiceInfo
		want  string
	}{
		{"all alive", running, "[]"},
		{"plugin crashed, idle again", with("Demo", "plugin mt-demo", "idle"), "[Demo: service idle]"},
		{"plugin relaunched since", with("Demo", "plugin mt-demo (pid 43)", "running"), "[Demo: service restarted (pid 42, then pid 43)]"},
		{"plugin relaunching", with("Demo", "plugin mt-demo", "launching"), "[]"},
		{"plugin removed", with("Demo", "plugin mt-demo", "removed"), "[Demo: service removed]"},
		{"plugin failed", with("Demo", "plugin mt-demo", "failed"), "[Demo: service failed]"},
		{"service stopped", with("Local", "node", "stopped"), "[Local: service stopped]"},
		{"failed start leaves it idle", with("Local", "node", "idle"), "[Local: service idle]"},
		{"no longer on the node", running[1:], "[Demo: service no longer on the node]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, o := range staleOwners(marks, tt.infos) {
				got = append(got, o.name+": "+o.why.Error())
			}
			slices.Sort(got)
			if fmt.Sprintf("%v", got) != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPidOf(t *testing.T) {
	tests := []struct{ where, want string }{
		{"plugin mt-demo (pid 42)", "pid 42"},
		{"plugin mt-demo", ""},
		{"node", ""},
		{"plugin x (pid 5", ""},
	}
	for _, tt := range tests {
		if got := pidOf(tt.where); got != tt.want {
			t.Errorf("pidOf(%q) = %q, want %q", tt.where, got, tt.want)
		}
	}
}
