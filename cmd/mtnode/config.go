package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/sdk"
)

func newConfigCmd(g *globals) *cobra.Command {
	var pathOnly bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective config, with where each value comes from",
		Long: `Print the effective config: the node's own keys (Node.*, Start), every key in
the config file, and the environment (MT_<Service>_<key>) and --set overrides,
with the source of each value (file, env, flag, default, or embedded: the
built-in config a first run writes when there is no file yet) and the key's
default. A service defines its keys when it first runs and writes each one's
default into the comment above it; that comment is where a service key's
default comes from here. A key of a service whose keys are known that way
but is not one of them is marked unknown, with the key it probably meant, as
"mtnode run" warns. Secrets (tokens, passwords) are shown as set or not,
never their values. Nothing is written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := g.options()
			st, prefix, err := boot.OpenStore(opts, true)
			if err != nil {
				return err
			}
			boot.DefineNodeKeys(st, opts, prefix)
			entries := st.Effective()
			keys := knownKeys(entries, opts.Services)
			out := cmd.OutOrStdout()
			if pathOnly {
				fmt.Fprintln(out, st.Path())
				return nil
			}
			if st.Exists() {
				fmt.Fprintf(out, "# config file: %s\n", st.Path())
			} else {
				fmt.Fprintf(out, "# config file: %s (does not exist yet: the first run writes it, starting from the embedded default config)\n", st.Path())
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tDEFAULT")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Key, shownValue(e.Key, e.Value), e.Source, keys.shownDefault(e))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&pathOnly, "path", false, "print only the config file's path")
	return cmd
}

// keySet is what mtnode config knows of the keys there are, without running
// the services: the keys defined in this run (the node's own) or documented
// in the file by an earlier run, and the built-in services.
type keySet struct {
	builtins map[string]bool     // built-in service names
	keys     []string            // known keys, sorted
	of       map[string][]string // keys defined now or documented, by service
	core     map[string]bool     // keys the core defines for a built-in
	services []string            // services with known keys, and the built-ins
}

// knownKeys gathers the known keys of entries. The core defines
// <Service>.queueLimit for every queued service when it creates it, so that
// key of a queued built-in is known too, documented or not; but it says
// nothing of the service's own keys.
func knownKeys(entries []config.Entry, builtins []sdk.Spec) keySet {
	ks := keySet{builtins: map[string]bool{}, of: map[string][]string{}, core: map[string]bool{}}
	for _, e := range entries {
		if e.Known || e.Documented {
			svc := serviceOf(e.Key)
			ks.of[svc] = append(ks.of[svc], e.Key)
			ks.keys = append(ks.keys, e.Key)
		}
	}
	for _, sp := range builtins {
		ks.builtins[sp.Name] = true
		if k := sp.Name + ".queueLimit"; !sp.IsInline() && !slices.Contains(ks.of[sp.Name], k) {
			ks.core[k] = true
			ks.keys = append(ks.keys, k)
		}
	}
	slices.Sort(ks.keys)
	for svc := range ks.of {
		ks.services = append(ks.services, svc)
	}
	for svc := range ks.builtins {
		if ks.of[svc] == nil {
			ks.services = append(ks.services, svc)
		}
	}
	slices.Sort(ks.services)
	return ks
}

// serviceOf returns the service part of a key: what comes before the first
// '.', or the whole key (Start).
func serviceOf(key string) string {
	svc, _, _ := strings.Cut(key, ".")
	return svc
}

// shownDefault is the DEFAULT column of a key: its default when the node
// or a service defined it (in this run, or in an earlier one that wrote its
// comment into the file); otherwise why there is none. A key of a service
// whose keys are known, but not one of them, is unknown, with the key it
// probably meant, as mtnode run warns.
func (ks keySet) shownDefault(e config.Entry) string {
	if d := e.ShownDefault(); d != "" {
		return d
	}
	svc := serviceOf(e.Key)
	known := ks.of[svc]
	if ks.builtins[svc] && (len(known) == 0 || ks.core[e.Key]) {
		return "(defined when " + svc + " starts)"
	}
	if len(known) > 0 {
		return "(unknown key: not one the " + svc + " service has defined" + ks.didYouMean(e.Key) + ")"
	}
	return "(unknown key: no built-in service " + svc + " defined it; a plugin's service defines its keys when it runs" + ks.didYouMean(e.Key) + ")"
}

// didYouMean suggests the known key closest to key, or the key with the
// closest service name, as config.Store.Unknown does; "" when none is close.
func (ks keySet) didYouMean(key string) string {
	s := config.Suggest(key, ks.keys)
	if svc := serviceOf(key); s == "" && len(ks.of[svc]) == 0 && !ks.builtins[svc] {
		if near := config.Suggest(svc, ks.services); near != "" {
			s = near + key[len(svc):]
		}
	}
	if s == "" {
		return ""
	}
	return "; did you mean " + strconv.Quote(s) + "?"
}

// shownValue is the value of key as mtnode config prints it: a secret
// (a token or a password, such as RPC.token or Telnet.password) only as
// set, so that the listing can be shown or pasted safely.
func shownValue(key, value string) string {
	_, name, _ := strings.Cut(key, ".")
	name = strings.ToLower(name)
	if value != "" && (strings.Contains(name, "token") || strings.Contains(name, "password")) {
		return "(set, hidden)"
	}
	return value
}
