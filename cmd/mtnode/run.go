package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/sdk"
)

func newRunCmd(g *globals) *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node (the default verb)",
		Long: `Run the node: start the services named in Start=, in order, then serve until
SIGINT or SIGTERM. Then the node takes no new outside work (listening ports
close), lets the queues drain (up to Node.shutdownTimeout), stops the services
in reverse start order (up to Node.shutdownTimeout again) and then the plugin
processes (as long again). A second signal exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNode(cmd, g, demo) },
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "run on the embedded demo config, in memory (writes no file)")
	return cmd
}

func runNode(cmd *cobra.Command, g *globals, demo bool) error {
	opts := g.options()
	if demo && g.conf != "" {
		return &boot.UsageError{Err: errors.New("run: --demo runs on the embedded demo config and reads no file: drop --conf (--set still applies)")}
	}
	if demo {
		opts.Embedded, opts.InMemory = demoConf, true
	}
	n, err := boot.Open(opts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx, nil, nil); err != nil {
		if ctx.Err() == nil || !errors.Is(err, context.Canceled) { // a failure of its own, signal or not
			_ = n.Stop()
			return err
		}
		// The signal came during the boot: what started stops as usual.
		stop()
		return stopNode(n, "a signal came during the boot")
	}
	n.Log.Info("node running", sdk.KeyNode, n.Name(), sdk.KeyEpoch, n.Epoch(),
		"config", n.Store.Path(), "start", n.StartList())
	<-ctx.Done()
	stop() // a second signal now kills the process
	return stopNode(n, "a signal")
}

// stopNode stops n gracefully, logging why.
func stopNode(n *boot.Node, why string) error {
	n.Log.Info("stopping", "reason", why, "timeout", n.ShutdownTimeout())
	if err := n.Stop(); err != nil {
		return err
	}
	n.Log.Info("stopped")
	return nil
}
