package main

import (
	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/boot"
)

// globals are the flags every verb takes.
type globals struct {
	conf     string
	sets     []string
	logLevel string
}

func (g *globals) options() boot.Options {
	return boot.Options{ConfPath: g.conf, Sets: g.sets, LogLevel: g.logLevel,
		Services: builtins(), DefaultStart: defaultStart(), Embedded: defaultConf, Plugins: true}
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "mtnode",
		Short: "mtnode runs a node of services that talk through events",
		Long: `mtnode runs a node: services that talk only through events, in this process,
in plugins launched from the plugins folder, and on other nodes over RPC.

With no verb, mtnode runs the node (as "mtnode run").`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd, g, false)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &boot.UsageError{Err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.conf, "conf", "", "config file (default: <prefix>/conf/<program name>.conf)")
	pf.StringArrayVar(&g.sets, "set", nil, "override a config value: --set Service.key=value (repeatable)")
	pf.StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn, error (default: Node.logLevel)")
	root.AddCommand(newRunCmd(g), newVersionCmd(), newConfigCmd(g))
	for _, c := range extraCommands(g) {
		root.AddCommand(c)
	}
	return root
}
