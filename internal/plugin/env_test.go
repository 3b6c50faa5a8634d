package plugin

import (
	"slices"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/mtnode/mtnode/internal/gctune"
)

// TestPluginEnv: a plugin gets the node's environment, the node's socket
// folder and GC floor in place of any inherited ones, and no floor when
// the node leaves it to the plugin's default.
func TestPluginEnv(t *testing.T) {
	parent := []string{"HOME=/root", goplugin.EnvUnixSocketDir + "=/elsewhere", gctune.EnvFloor + "=1", "PLUGIN_CLIENT_CERT=x"}
	got := pluginEnv(parent, "/run/s", 32<<20)
	want := []string{"HOME=/root", goplugin.EnvUnixSocketDir + "=/run/s", gctune.EnvFloor + "=33554432"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	got = pluginEnv(parent, "/run/s", 0)
	want = want[:2]
	if !slices.Equal(got, want) {
		t.Fatalf("floor 0: got %q, want %q", got, want)
	}
}
