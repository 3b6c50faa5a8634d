package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/boot"
)

func newConfigCmd(g *globals) *cobra.Command {
	var pathOnly bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective config, with where each value comes from",
		Long: `Print the effective config: every key in the config file, every key a service
has defined, and the environment (MT_<Service>_<key>) and --set overrides, with
the source of each value (file, env, flag or default). Nothing is written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, _, err := boot.OpenStore(g.options(), true)
			if err != nil {
				return err
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
				def := e.Default
				if !e.Known {
					def = "(unknown key)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Key, e.Value, e.Source, def)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&pathOnly, "path", false, "print only the config file's path")
	return cmd
}
