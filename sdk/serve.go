package sdk

import (
	"fmt"
	"os"
	"sync"
)

// Serve turns a main into a plugin: the process serves specs to the node
// that launched it, and Serve never returns. The services are the same
// values that would run linked into the node; only their main differs:
//
//	func main() { sdk.Serve(echo.Spec, helloweb.Spec) }
//
// Services inside one plugin reach each other without a trip to the node.
// Run by hand (not by a node), the program says it is a plugin and exits
// with status 1.
//
// The runtime that does the work registers itself with RegisterServe from
// its package's init; a plugin's main links it with a blank import of the
// plugin runtime package. Serve without it exits with status 1 and says
// which import is missing.
func Serve(specs ...Spec) {
	serveMu.Lock()
	run := serveFn
	serveMu.Unlock()
	if run == nil {
		fmt.Fprintln(os.Stderr, "sdk: Serve: no plugin runtime is linked into this program (add a blank import of github.com/mtnode/mtnode/internal/pluginrt to its main package)")
		os.Exit(1)
	}
	run(specs)
}

var (
	serveMu sync.Mutex
	serveFn func([]Spec)
)

// RegisterServe installs the plugin runtime that Serve runs. It is called
// once, from the init of the runtime's package, and panics when called
// twice: the registration is fixed once main starts.
func RegisterServe(run func(specs []Spec)) {
	serveMu.Lock()
	defer serveMu.Unlock()
	if serveFn != nil {
		panic("sdk: RegisterServe called twice")
	}
	serveFn = run
}
