package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/internal/config"
)

func newConfigCmd(g *globals) *cobra.Command {
	var pathOnly bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective config, with where each value comes from",
		Long: `Print the effective config: the node's own keys (Node.*, Start), every key in
the config file, and the environment (MT_<Service>_<key>) and --set overrides,
with the source of each value (file, env, flag or default) and the key's
default. A service defines its keys when it first runs and writes each one's
default into the comment above it; that comment is where a service key's
default comes from here. Nothing is written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := g.options()
			st, prefix, err := boot.OpenStore(opts, true)
			if err != nil {
				return err
			}
			boot.DefineNodeKeys(st, opts, prefix)
			services := map[string]bool{}
			for _, sp := range opts.Services {
				services[sp.Name] = true
			}
			out := cmd.OutOrStdout()
			if pathOnly {
				fmt.Fprintln(out, st.Path())
				return nil
			}
			fmt.Fprintf(out, "# config file: %s\n", st.Path())
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tDEFAULT")
			for _, e := range st.Effective() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Key, e.Value, e.Source, shownDefault(e, services))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&pathOnly, "path", false, "print only the config file's path")
	return cmd
}

// shownDefault is the DEFAULT column of a key: its default when the node
// or a service defined it (in this run, or in an earlier one that wrote its
// comment into the file); otherwise why there is none.
func shownDefault(e config.Entry, builtins map[string]bool) string {
	if d := e.ShownDefault(); d != "" {
		return d
	}
	svc, _, _ := strings.Cut(e.Key, ".")
	if builtins[svc] {
		return "(defined when " + svc + " starts)"
	}
	return "(unknown key: no built-in service " + svc + " defined it; a plugin's service defines its keys when it runs)"
}
