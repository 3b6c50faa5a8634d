package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/internal/plugin"
	"github.com/mtnode/mtnode/sdk"
)

// UsageError is a problem the user must fix in the command line or the
// config (exit code 2): a malformed config file, a bad --set, an unknown
// service in Start=.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Options say how to build a node.
type Options struct {
	// Exe is the program as started (os.Args[0]); its base name picks the
	// config file, and its folder the install prefix.
	Exe string
	// ConfPath is the --conf flag ("" = conf/<exe name>.conf under the prefix).
	ConfPath string
	// Sets are --set Service.key=value flags.
	Sets []string
	// Embedded is the initial config content: used when the file does not
	// exist yet (and written out with it), or alone when InMemory is set.
	Embedded string
	// InMemory keeps the config, and the plugin host's manifest cache, in
	// memory: no file is read or written (programs with an embedded config,
	// mtnode run --demo, tests).
	InMemory bool
	// Name is the node name; "" = the config's Node.name, default the exe's
	// base name.
	Name string
	// Services are the services linked into this program.
	Services []sdk.Spec
	// DefaultStart is Start='s default.
	DefaultStart string
	// LogLevel is the --log-level flag ("" = the config's Node.logLevel).
	LogLevel string
	// LogOut receives the logs (default os.Stderr).
	LogOut io.Writer
	// Env looks up environment variables (nil = os.LookupEnv).
	Env func(string) (string, bool)
	// Environ lists the environment, for the MT_ variables of keys no
	// service defined: mtnode config lists them and the start warns about
	// mistyped ones (nil = os.Environ when Env is nil, else none; see
	// config.Options.Environ).
	Environ func() []string
	// Plugins turns on the plugin host: the plugins folder
	// (Node.pluginsDir) is scanned at Start and followed for changes.
	Plugins bool
}

// Node is an assembled node, ready to Run.
type Node struct {
	*core.Node
	Store  *config.Store
	Log    *slog.Logger
	Prefix string
	level  *slog.LevelVar

	shutdownTimeout time.Duration
	start           []string
	metricsAddr     string
	metricsToken    string
	metrics         *metricsServer
	// Plugins is the plugin host, when Options.Plugins is set.
	Plugins *plugin.Host
}

// ParseSets turns --set Service.key=value flags into overrides.
func ParseSets(sets []string) (map[string]string, error) {
	out := make(map[string]string, len(sets))
	var errs []error
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("--set %q: want Service.key=value", s))
			continue
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, errors.Join(errs...)
}

// OpenStore opens the config store the way Open does, for commands that only
// read the config (mtnode config).
func OpenStore(opts Options, readOnly bool) (*config.Store, string, error) {
	return openStore(opts, readOnly, nil)
}

func openStore(opts Options, readOnly bool, log *slog.Logger) (*config.Store, string, error) {
	sets, err := ParseSets(opts.Sets)
	if err != nil {
		return nil, "", &UsageError{err}
	}
	exe := opts.Exe
	if exe == "" {
		exe = os.Args[0]
	}
	exe = config.Executable(exe)
	prefix := config.Prefix(exe)
	path := config.Path(exe, opts.ConfPath)
	if opts.InMemory {
		path = ""
	}
	st, err := config.Open(config.Options{Path: path, Embedded: opts.Embedded, Env: opts.Env,
		Environ: opts.Environ, Overrides: sets, ReadOnly: readOnly, Logger: log})
	if err != nil {
		return nil, "", &UsageError{err}
	}
	return st, prefix, nil
}

// Open builds the node: config, logger, core node. It does not start
// anything; Run does.
func Open(opts Options) (*Node, error) {
	out := opts.LogOut
	if out == nil {
		out = os.Stderr
	}
	// The level is known only once the config is read; the logger follows
	// the LevelVar.
	level := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	st, prefix, err := openStore(opts, false, log)
	if err != nil {
		return nil, err
	}
	ns := readNodeSettings(st, opts, prefix)
	if opts.LogLevel != "" {
		if err := level.UnmarshalText([]byte(opts.LogLevel)); err != nil {
			return nil, &UsageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", opts.LogLevel)}
		}
	} else if err := level.UnmarshalText([]byte(ns.logLevel)); err != nil {
		return nil, &UsageError{fmt.Errorf("%s: Node.logLevel: %q is not a log level; use debug, info, warn or error",
			st.Where("Node.logLevel"), ns.logLevel)}
	}
	name := opts.Name
	if name == "" {
		name = ns.name
	}
	var start []string
	for _, s := range strings.Split(ns.start, ",") {
		if s = strings.TrimSpace(s); s != "" {
			start = append(start, s)
		}
	}
	gcFloor := uint64(ns.gcFloorMiB)
	gctune.Start(gcFloor << 20)
	n := &Node{Store: st, Log: log, Prefix: prefix, level: level, start: start,
		shutdownTimeout: ns.shutdownTimeout, metricsAddr: ns.metricsAddr, metricsToken: ns.metricsToken}
	cn, err := core.New(core.Config{
		Name:            name,
		Services:        opts.Services,
		Start:           start,
		Logger:          log,
		LogLevel:        level,
		Conf:            func(service string) sdk.Config { return st.Sub(service) },
		ConfigEntries:   n.configEntries,
		SetConfig:       st.Set,
		ResetPlugin:     n.resetPlugin,
		QueueLimit:      int(ns.queueLimit),
		ShutdownTimeout: n.shutdownTimeout,
		ExtraServices:   n.pluginServices,
		Held:            n.pluginsHeld,
	})
	if err != nil {
		return nil, err
	}
	n.Node = cn
	if opts.Plugins {
		cache := filepath.Join(prefix, "cache", "plugins.json")
		if opts.InMemory {
			cache = ""
		}
		h, err := plugin.New(plugin.Config{
			Router:       cn.Router(),
			Logger:       log.With(sdk.KeyNode, cn.Name()),
			LogLevel:     level,
			Dir:          ns.pluginsDir,
			CacheFile:    cache,
			Conf:         st,
			Local:        cn.Has,
			StartTimeout: ns.pluginStartTimeout,
			IdleTimeout:  ns.pluginIdleTimeout,
			DrainTimeout: ns.pluginDrainTimeout,
			GCFloor:      gcFloor << 20,
			LinkSpin:     ns.pluginLinkSpin,
			Watch:        true,
		})
		if err != nil {
			return nil, err
		}
		n.Plugins = h
	}
	return n, nil // the store logged each bad value as it read it
}

// nodeSettings are the node's own config keys, Node.* and Start.
type nodeSettings struct {
	logLevel, name, start, pluginsDir                     string
	metricsAddr, metricsToken                             string
	gcFloorMiB, queueLimit                                int64
	shutdownTimeout                                       time.Duration
	pluginStartTimeout, pluginIdleTimeout, pluginLinkSpin time.Duration
	pluginDrainTimeout                                    time.Duration
}

// readNodeSettings reads (and so defines, with their defaults and
// descriptions) the node's own keys: the plugin host's only when opts turn
// it on.
func readNodeSettings(st *config.Store, opts Options, prefix string) nodeSettings {
	c := st.Sub("Node")
	var ns nodeSettings
	ns.logLevel = c.String("logLevel", "info", "log level: debug, info, warn or error")
	if opts.Name == "" { // a program that names its node has no use for the key
		exe := opts.Exe
		if exe == "" {
			exe = os.Args[0]
		}
		ns.name = c.String("name", strings.TrimSuffix(filepath.Base(exe), ".exe"), "node name, shown in logs and the console prompt")
	}
	ns.start, _ = st.Lookup("Start", opts.DefaultStart, "services started at boot, in this order (comma-separated); all others start on their first event")
	ns.gcFloorMiB = c.IntMin("gcFloorMiB", gctune.DefaultFloor>>20, 0,
		"heap growth (MiB) below which the garbage collector does not run, in this process and its plugins: small heaps then collect once per this much allocation rather than once per GOGC% of themselves; 0 = Go's GOGC alone")
	ns.shutdownTimeout = c.DurationMin("shutdownTimeout", 10*time.Second, time.Millisecond, "how long a stopping node waits for its queues to drain and its plugins to answer what they hold; its services' Stops, then its plugin processes, get as long again each")
	ns.queueLimit = c.IntMin("queueLimit", core.DefaultQueueLimit, 1, "default queue limit of a service (events); <Service>.queueLimit overrides it per service")
	ns.metricsAddr = c.String("metricsAddr", "", "address of the Prometheus /metrics endpoint (\"\" = off), e.g. 127.0.0.1:10124")
	ns.metricsToken = c.String("metricsToken", "", "bearer token scrapers must send; required for a non-loopback metricsAddr")
	if opts.Plugins {
		ns.pluginsDir = c.String("pluginsDir", filepath.Join(prefix, "plugins"), "folder of plugin binaries, followed for new, replaced and removed binaries")
		ns.pluginStartTimeout = c.Duration("pluginStartTimeout", 5*time.Second, "how long a plugin may take to start before it is killed and its events fail")
		ns.pluginIdleTimeout = c.Duration("pluginIdleTimeout", 0, "stop a plugin process idle for this long (0 = never)")
		ns.pluginDrainTimeout = c.DurationMin("pluginDrainTimeout", plugin.DefaultDrainTimeout, time.Millisecond, "how long the process of a replaced or removed plugin binary may take to finish the events it holds before it is stopped (new events wait for the new binary meanwhile)")
		ns.pluginLinkSpin = c.Duration("pluginLinkSpin", plugin.DefaultLinkSpin, "how long each end of a plugin link polls for the next event before it sleeps: saves a plugin round trip most of its thread wake-ups, for up to this much CPU after each event (0 = never)")
	}
	return ns
}

// DefineNodeKeys defines the node's own keys in st, as building the node
// would, without building it: `mtnode config` shows them with their
// defaults. On a read-only store nothing is written.
func DefineNodeKeys(st *config.Store, opts Options, prefix string) {
	readNodeSettings(st, opts, prefix)
}

func (n *Node) configEntries() []sdk.ConfigEntry {
	var out []sdk.ConfigEntry
	for _, e := range n.Store.Effective() {
		out = append(out, sdk.ConfigEntry{Key: e.Key, Value: e.Value, Default: e.Default,
			Description: e.Description, Source: e.Source.String()})
	}
	return out
}

// resetPlugin backs sdk.Admin.ResetPlugin: the console's plugins/reset.
func (n *Node) resetPlugin(name string) error {
	if n.Plugins == nil {
		return errors.New("boot: this program links its services in and runs no plugin host, so it has no plugins to reset")
	}
	return n.Plugins.Reset(name)
}

// pluginsHeld backs core.Config.Held: the events the plugins hold.
func (n *Node) pluginsHeld() int {
	if n.Plugins == nil {
		return 0
	}
	return n.Plugins.Held()
}

// pluginServices lists the plugins' services for the console and metrics.
func (n *Node) pluginServices() []sdk.ServiceInfo {
	if n.Plugins == nil {
		return nil
	}
	var out []sdk.ServiceInfo
	for _, p := range n.Plugins.Status() {
		where := "plugin " + p.Name
		if p.PID != 0 {
			where += fmt.Sprintf(" (pid %d)", p.PID)
		}
		for _, s := range p.Services {
			out = append(out, sdk.ServiceInfo{Name: s, Where: where, State: p.State, Delivery: "plugin"})
		}
	}
	return out
}

// StartList returns the Start= services in order.
func (n *Node) StartList() []string { return n.start }

// Start starts the Start= services in the order listed. known reports
// services that live outside the node (plugins); starter starts one of
// those, at its place in the order. An unknown name is a *UsageError naming
// it and listing the known services, and nothing is started.
//
// With the plugin host on, the plugins folder is scanned first and plugin
// services may be named in Start= too; known and starter may then be nil.
// A plugin process starts its services of Start= when it is launched, so it
// is launched at the place of its first service in the list, with all of
// them.
func (n *Node) Start(ctx context.Context, known func(string) bool, starter func(context.Context, string) error) error {
	if n.Plugins != nil {
		if err := n.Plugins.Start(ctx); err != nil {
			return err
		}
		if known == nil {
			known = n.Plugins.Known
		}
		if starter == nil {
			// Planned first: a plugin that an earlier service's event
			// launches before its place in Start= starts them then.
			n.Plugins.PlanStart(n.start)
			starter = pluginStarter(n.start, n.Plugins.Owner, n.Plugins.StartServices)
		}
	}
	if err := n.Node.StartWith(ctx, known, starter); err != nil {
		if errors.Is(err, core.ErrUnknownStart) {
			return &UsageError{err}
		}
		return err
	}
	n.warnUnknownKeys()
	if n.metricsAddr != "" {
		m, err := startMetrics(n.metricsAddr, n.metricsToken, n.Node)
		if err != nil {
			// An admin surface that cannot listen is logged; the node runs on.
			n.Log.Error("metrics endpoint not started", sdk.KeyErr, err.Error())
		} else {
			n.metrics = m
			n.Log.Info("metrics endpoint listening", "addr", m.Addr())
		}
	}
	return nil
}

// pluginStarter returns the starter of the plugin services of start: at
// the first service of a plugin, it starts the plugin with every service of
// start the plugin holds (owner names a service's plugin, "" for none), and
// at that plugin's later services it does nothing.
func pluginStarter(start []string, owner func(string) string,
	startServices func(context.Context, []string) error) func(context.Context, string) error {
	launched := map[string]bool{}
	return func(ctx context.Context, name string) error {
		p := owner(name)
		if p == "" {
			return fmt.Errorf("boot: no plugin holds service %q any more: its binary left the plugins folder during the boot", name)
		}
		if launched[p] {
			return nil
		}
		launched[p] = true
		var names []string
		for _, s := range start {
			if owner(s) == p {
				names = append(names, s)
			}
		}
		return startServices(ctx, names)
	}
}

// MetricsAddr returns where /metrics is served, or "".
func (n *Node) MetricsAddr() string {
	if n.metrics == nil {
		return ""
	}
	return n.metrics.Addr()
}

func (n *Node) warnUnknownKeys() {
	known := append(n.Node.Known(), "Node", "Start")
	plugins := map[string]bool{}
	if n.Plugins != nil {
		for _, ps := range n.Plugins.Status() {
			for _, s := range ps.Services {
				known = append(known, s)
				plugins[s] = true
			}
		}
	}
	// A service still starting (one that an event started during the
	// boot) may not have read all of its keys yet: only its name is
	// checked. The node's own keys are all read by now.
	running := map[string]bool{"Node": true, "Start": true}
	for _, st := range n.Node.Stats() {
		if st.Where == "node" && st.State != "starting" {
			running[st.Name] = true
		}
	}
	for _, w := range n.Store.Unknown(known, func(svc string) bool { return running[svc] }) {
		// A plugin service defines its keys when it first runs, which may be
		// after this check: its keys are checked against its name only.
		if svc, _, ok := strings.Cut(w.Key, "."); ok && plugins[svc] {
			continue
		}
		n.Log.Warn("config: " + w.String())
	}
}

// Stop stops the node: Node.shutdownTimeout for the queues to drain and as
// much again for the services' Stops (see core.Node.Stop), then as much again
// for the plugin processes to stop.
func (n *Node) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*n.shutdownTimeout+time.Second)
	defer cancel()
	if n.Plugins != nil {
		n.Plugins.Quiesce() // the plugins' services quiesce with the node's
	}
	err := n.Node.Stop(ctx)
	if n.Plugins != nil {
		// After the node: events to plugins flow while queues drain.
		pctx, cancel := context.WithTimeout(context.Background(), n.shutdownTimeout+time.Second)
		defer cancel()
		if perr := n.Plugins.Close(pctx); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	if n.metrics != nil {
		n.metrics.close()
	}
	return err
}

// ShutdownTimeout returns Node.shutdownTimeout.
func (n *Node) ShutdownTimeout() time.Duration { return n.shutdownTimeout }
