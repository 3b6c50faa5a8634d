// Command mtnode is the mtnode node daemon: it runs the services named in
// its config's Start= line, launches plugins from its plugins folder on
// their first event, and links to other nodes over RPC.
//
// The config file is conf/<name>.conf under the install prefix, where name
// is the name the program was started as: a symlink bin/mtnode-web gets
// conf/mtnode-web.conf.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/mtnode/mtnode/internal/boot"
)

func main() {
	os.Exit(exitCode(run(os.Args[1:])))
}

// exitCode maps run's error to the process exit code: 0 on success, 2 for a
// usage or config error the user must fix, 1 for anything else.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "mtnode:", err)
	var ue *boot.UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func run(args []string) error {
	root := newRootCmd()
	root.SetArgs(args)
	return root.Execute()
}
