package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/plugin"
)

// newPluginsCmd is the "plugins" verb. prefix returns the install prefix
// (the folder holding bin/, conf/, plugins/ and cache/).
func newPluginsCmd(prefix func() (string, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the plugins, their services and state",
		Long: `List the plugins of the plugins folder: each binary's services and its state
(idle, running with its pid, draining, failed with the last error, refused,
invalid), with its launches and crashes.

The list is the one the running node last wrote to <prefix>/cache/plugins.json.
With no node running, it shows what the cache knows (state "cached"); nothing
is launched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := prefix()
			if err != nil {
				return err
			}
			sts, running, err := plugin.ReadStatus(filepath.Join(p, "cache", "plugins.json"))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(sts)
			}
			if running {
				fmt.Fprintln(out, "# as reported by the running node")
			} else {
				fmt.Fprintln(out, "# no node running: from the manifest cache")
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PLUGIN\tSTATE\tPID\tSERVICES\tLAUNCHES\tCRASHES\tLAST ERROR")
			for _, s := range sts {
				pid := "-"
				if s.PID != 0 {
					pid = strconv.Itoa(s.PID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.Name, s.State, pid,
					strings.Join(s.Services, ","), s.Launches, s.Crashes, s.LastError)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}
