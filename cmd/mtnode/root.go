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
	usageArgs(root)
	return root
}

// usageArgs makes the argument checks of c and its verbs return a
// *boot.UsageError (exit 2), as the flag errors do: an unknown verb or a
// wrong number of arguments is the user's to fix.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &boot.UsageError{Err: err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}
