package telnet

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/sdk"
)

// builtin is one operator command of the Telnet service itself. Its run
// function is called on the session's goroutine and answers at once, so it
// may only use what is safe for concurrent use (Admin, the tree, the
// console server).
type builtin struct {
	path, args, desc string
	run              func(call *console.Call) string
}

// addBuiltins registers the operator commands. Those that need Admin are
// left out when the node does not grant it.
func (s *Service) addBuiltins() {
	dirs := map[string]string{
		"node":    "the node: services, plugins, uptime, version",
		"config":  "the node's config file",
		"log":     "logging",
		"console": "this console",
	}
	list := []builtin{
		{"console/sessions", "", "show the number of console sessions and commands", s.cmdSessions},
	}
	if s.admin != nil {
		list = append(list,
			builtin{"node/services", "[name]", "show services: state, queue, high-water mark, events, errors, handler time", s.cmdServices},
			builtin{"node/plugins", "", "show the plugins and the services they hold", s.cmdPlugins},
			builtin{"node/uptime", "", "show when the node started and its epoch", s.cmdUptime},
			builtin{"node/version", "", "show the version of the node binary", s.cmdVersion},
			builtin{"config/get", "[key]", "show config values; a key ending in '.' or without a '.' lists a section", s.cmdConfigGet},
			builtin{"config/set", "key [value...]", "write Service.key=value to the config file (atomically); the service reads it when it next starts", s.cmdConfigSet},
			builtin{"log/level", "[level:debug|info|warn|error]", "show or set the log level", s.cmdLogLevel},
			builtin{"plugins/reset", "name", "launch a plugin marked failed (crash loop) again on its next event", s.cmdPluginReset},
		)
	}
	for _, b := range list {
		run := b.run
		h := console.HandlerFunc(func(call *console.Call, reply func(string)) { reply(run(call)) })
		if _, err := s.tree.Add(b.path, b.args, b.desc, Name, h); err != nil {
			panic(fmt.Sprintf("telnet: built-in %s: %v", b.path, err)) // a programming error
		}
		dir, _, _ := strings.Cut(b.path, "/")
		if err := s.tree.Describe(dir, dirs[dir]); err != nil {
			panic(fmt.Sprintf("telnet: built-in directory %s: %v", dir, err))
		}
	}
}

func (s *Service) cmdSessions(*console.Call) string {
	return fmt.Sprintf("%d session(s) open, %d command(s) registered", s.srv.Sessions(), s.tree.Len())
}

func (s *Service) cmdServices(call *console.Call) string {
	infos := s.admin.Services()
	slices.SortFunc(infos, func(a, b sdk.ServiceInfo) int { return cmp.Compare(a.Name, b.Name) })
	if name, ok := call.Arg("name"); ok {
		for _, si := range infos {
			if strings.EqualFold(si.Name, name) {
				return serviceDetail(si)
			}
		}
		names := make([]string, len(infos))
		for i, si := range infos {
			names[i] = si.Name
		}
		return fmt.Sprintf("%% no service %q; services: %s", name, strings.Join(names, ", "))
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATE\tWHERE\tQUEUE\tHIGH\tLIMIT\tHANDLED\tERRORS\tAVG TIME")
	for _, si := range infos {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n",
			si.Name, si.State, si.Where, si.QueueLen, si.QueueHigh, si.QueueLimit, si.Handled, si.Errors, avg(si))
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func serviceDetail(si sdk.ServiceInfo) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"name", si.Name}, {"state", si.State}, {"where", si.Where}, {"delivery", si.Delivery},
		{"queue", fmt.Sprintf("%d (high-water %d, limit %d)", si.QueueLen, si.QueueHigh, si.QueueLimit)},
		{"handled", fmt.Sprint(si.Handled)}, {"sent", fmt.Sprint(si.Sent)}, {"errors", fmt.Sprint(si.Errors)},
		{"queue full", fmt.Sprint(si.QueueFull)}, {"panics", fmt.Sprint(si.Panics)},
		{"handler time", fmt.Sprintf("%s total, %s per event", si.HandlerTime.Round(time.Microsecond), avg(si))},
	} {
		fmt.Fprintf(w, "%s\t%s\n", row[0], row[1])
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// avg is the mean handler time per event.
func avg(si sdk.ServiceInfo) string {
	if si.Handled == 0 {
		return "-"
	}
	return (si.HandlerTime / time.Duration(si.Handled)).String()
}

func (s *Service) cmdPlugins(*console.Call) string {
	byWhere := make(map[string][]string)
	for _, si := range s.admin.Services() {
		if where, ok := strings.CutPrefix(si.Where, "plugin "); ok {
			byWhere[where] = append(byWhere[where], si.Name+" ("+si.State+")")
		}
	}
	if len(byWhere) == 0 {
		return "no plugin services known"
	}
	var b strings.Builder
	for _, where := range slices.Sorted(maps.Keys(byWhere)) {
		slices.Sort(byWhere[where])
		fmt.Fprintf(&b, "%s: %s\n", where, strings.Join(byWhere[where], ", "))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (s *Service) cmdUptime(*console.Call) string {
	started := s.admin.StartedAt()
	return fmt.Sprintf("node %s up %s (since %s), epoch %d",
		s.admin.NodeName(), time.Since(started).Round(time.Second), started.Format(time.RFC3339), s.admin.Epoch())
}

func (s *Service) cmdVersion(*console.Call) string {
	version, revision := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" {
				revision = " revision " + st.Value
			}
		}
	}
	return fmt.Sprintf("mtnode %s%s, %s %s/%s", version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func (s *Service) cmdConfigGet(call *console.Call) string {
	key, _ := call.Arg("key")
	prefix := ""
	if key != "" && (!strings.Contains(key, ".") || strings.HasSuffix(key, ".")) {
		prefix, key = strings.TrimSuffix(key, ".")+".", ""
	}
	entries := s.admin.ConfigEntries()
	slices.SortFunc(entries, func(a, b sdk.ConfigEntry) int { return cmp.Compare(a.Key, b.Key) })
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	n := 0
	for _, e := range entries {
		switch {
		case key != "" && e.Key != key:
			continue
		case prefix != "" && !strings.HasPrefix(e.Key, prefix):
			continue
		}
		n++
		value := e.Value
		if e.Key == Name+".password" && value != "" {
			value = "(hashed; not shown)"
		}
		if key != "" {
			return fmt.Sprintf("%s=%s\n  %s\n  default: %q, from: %s", e.Key, value, e.Description, e.Default, e.Source)
		}
		fmt.Fprintf(w, "%s=%s\t(%s)\n", e.Key, value, e.Source)
	}
	if n == 0 {
		if key != "" {
			return fmt.Sprintf("%% no config key %q (config/get lists them all)", key)
		}
		return "no config keys match"
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func (s *Service) cmdConfigSet(call *console.Call) string { return s.configSet(call) }

func (s *Service) cmdLogLevel(call *console.Call) string {
	name, ok := call.Arg("level")
	if !ok {
		return "log level " + strings.ToLower(s.admin.LogLevel().String())
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err != nil {
		return "% " + err.Error()
	}
	s.admin.SetLogLevel(l)
	return "log level set to " + strings.ToLower(l.String()) + " (until the node restarts)"
}

func (s *Service) cmdPluginReset(call *console.Call) string {
	name, _ := call.Arg("name")
	if err := s.admin.ResetPlugin(name); err != nil {
		return "% " + err.Error()
	}
	return fmt.Sprintf("plugin %s reset: the next event for one of its services launches it", name)
}
