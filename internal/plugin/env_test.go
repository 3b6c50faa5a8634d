package plugin

import (
	"slices"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/internal/pluginrt"
)

// TestPluginEnv: a plugin gets the node's environment, the node's socket
// folder, GC floor and link spin in place of any inherited ones, and no
// floor or spin when the node leaves them to the plugin's default.
func TestPluginEnv(t *testing.T) {
	parent := []string{"HOME=/root", goplugin.EnvUnixSocketDir + "=/elsewhere", gctune.EnvFloor + "=1", "PLUGIN_CLIENT_CERT=x",
		pluginrt.EnvLinkSpin + "=1s"}
	got := pluginEnv(parent, "/run/s", 32<<20, 50*time.Microsecond)
	want := []string{"HOME=/root", goplugin.EnvUnixSocketDir + "=/run/s", gctune.EnvFloor + "=33554432", pluginrt.EnvLinkSpin + "=50µs"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	got = pluginEnv(parent, "/run/s", 0, 0)
	want = want[:2]
	if !slices.Equal(got, want) {
		t.Fatalf("floor and spin 0: got %q, want %q", got, want)
	}
}
