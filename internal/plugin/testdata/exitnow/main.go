// Command exitnow exits at once, before the plugin handshake.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "exitnow: cannot open database")
	os.Exit(2)
}
