// Command host is a minimal node with a plugin host, for the no-orphans
// test: it launches the plugins folder's TEcho, prints the plugin's pid
// and waits to be killed.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/internal/plugin"
	"github.com/mtnode/mtnode/sdk"
)

func main() {
	n, err := core.New(core.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h, err := plugin.New(plugin.Config{Router: n.Router(), Dir: os.Args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := n.Request(ctx, sdk.To("TEcho"), wrapperspb.String("hi")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, st := range h.Status() {
		if st.PID != 0 {
			fmt.Println(st.PID)
		}
	}
	time.Sleep(time.Hour)
}
