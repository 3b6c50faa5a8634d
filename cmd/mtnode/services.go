package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/plugins/timer"
	"github.com/mtnode/mtnode/sdk"
)

// builtins are the services linked into mtnode: the core services that sit
// on the path of every other service's I/O. User services and the demos run
// as plugins.
func builtins() []sdk.Spec {
	return []sdk.Spec{timer.Spec}
}

// defaultStart is Start='s default: RPC, once it is linked in.
func defaultStart() string {
	for _, s := range builtins() {
		if s.Name == "RPC" {
			return "RPC"
		}
	}
	return ""
}

// extraCommands are verbs that live in their own files.
func extraCommands(g *globals) []*cobra.Command { return nil }

// attachExtensions wires the plugin host into the node.
func attachExtensions(ctx context.Context, n *boot.Node) (*extensions, error) {
	return &extensions{stop: func() {}}, nil
}
