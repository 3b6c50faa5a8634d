// Package plugins_test holds the checks that apply to every built-in
// service below plugins/.
package plugins_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBuiltinsUseOnlyThePublicAPI: a built-in service is written as any
// service author's would be, so it and everything it depends on reach the
// node through sdk and the other public packages only, never through the
// module's internal/ tree. A service's own internal packages
// (plugins/telnet/internal/...) are its own, and fine.
func TestBuiltinsUseOnlyThePublicAPI(t *testing.T) {
	const internal = "github.com/mtnode/mtnode/internal"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./...: %v\n%s", err, out)
	}
	builtins := 0
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/mtnode/mtnode/plugins/") {
			builtins++
		}
		if p == internal || strings.HasPrefix(p, internal+"/") {
			t.Errorf("a built-in service depends on %s; services use only sdk and the public packages", p)
		}
	}
	if builtins < 5 { // rpc, socket, telnet, timer, webserver
		t.Fatalf("go list found %d packages below plugins/, want the built-in services:\n%s", builtins, out)
	}
}
