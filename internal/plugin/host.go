package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/router"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// Store is the node's config store as the host uses it: the values of a
// plugin's services are sent to the plugin at launch, and keys a plugin's
// service reads for the first time are defined (written to the file with
// their description). *config.Store implements it.
type Store interface {
	Lookup(key, def, desc string) (string, config.Source)
	Effective() []config.Entry
}

// Config configures a Host. The zero value of each field but Router means
// its default.
type Config struct {
	// Router is the node's router (core.Node.Router()). Required.
	Router *router.Router
	// Logger receives the host's logs and the plugins' (default: discard).
	Logger *slog.Logger
	// LogLevel is the level plugins log at (default: Info).
	LogLevel slog.Leveler
	// Dir is the plugins folder (Node.pluginsDir, default <prefix>/plugins).
	Dir string
	// CacheFile holds the manifests and the last status
	// (<prefix>/cache/plugins.json); "" keeps them in memory.
	CacheFile string
	// Conf is the node's config store; nil sends plugins no values and
	// writes no keys.
	Conf Store
	// Local reports services the node holds itself; a plugin declaring one
	// of them is refused for that service. Nil means none.
	Local func(name string) bool
	// StartTimeout bounds a plugin's start: handshake, manifest, hello
	// (Node.pluginStartTimeout, default 5s).
	StartTimeout time.Duration
	// IdleTimeout stops a plugin process with no event for that long
	// (Node.pluginIdleTimeout; 0, the default, never stops it).
	IdleTimeout time.Duration
	// GCFloor is passed to plugin processes (gctune.EnvFloor) as the heap
	// growth below which their collector does not run (Node.gcFloorMiB,
	// in bytes). Zero lets each plugin runtime use its default.
	GCFloor uint64
	// LinkSpin is how long each end of a plugin's event socket polls for
	// the next frame before it parks (Node.pluginLinkSpin, whose default
	// is DefaultLinkSpin; 0 never: see link.SocketStream.SetSpin). The
	// plugin gets it in pluginrt.EnvLinkSpin.
	LinkSpin time.Duration
	// DrainTimeout bounds how long a replaced or removed binary's process
	// may take to finish its in-flight events (Node.pluginDrainTimeout,
	// default DefaultDrainTimeout).
	DrainTimeout time.Duration
	// CrashLimit crashes within CrashWindow mark a plugin failed
	// (defaults 5 and 60s).
	CrashLimit  int
	CrashWindow time.Duration
	// BackoffMin and BackoffMax bound the delay before a relaunch after a
	// crash, doubling with each crash in the window (defaults 50ms, 5s).
	BackoffMin, BackoffMax time.Duration
	// PendingLimit bounds the events waiting for a plugin to start
	// (default 65536).
	PendingLimit int
	// MaxInFlight bounds the requests sent to one plugin process and not
	// yet answered (default 131072). Each is remembered so that a crash
	// answers it; a request past the limit fails at once with
	// sdk.ErrQueueFull.
	MaxInFlight int
	// SocketDir is where the private (0700) directory for the plugins'
	// sockets is made (default: the system's temporary directory).
	SocketDir string
	// Watch turns on hot reload of the plugins folder (fsnotify).
	Watch bool
}

// DefaultLinkSpin is Node.pluginLinkSpin's default: each end of a plugin
// link polls its socket for 50 µs after a frame before its reader sleeps.
// On the 2-core VM of the README's figures it took a round trip to a
// plugin service from 100-160 µs to 21-31 µs at p50, most of which was
// the kernel waking the sleeping end, and left one-way rates, HelloWeb in
// a plugin and HttpRpc through plugins where they were. Its price is CPU
// the processes would leave idle: up to 50 µs after each frame no other
// follows, capped by link.SocketStream's spin budget at about an eighth
// of a core per link when frames come just too far apart (measured: one
// HTTP client requesting a plugin's page 3,000 times a second, one request
// at a time, cost the node 0-6% and the plugin 4-8% more of a core); an
// idle link costs nothing. 0 turns it off.
const DefaultLinkSpin = 50 * time.Microsecond

// DefaultDrainTimeout is how long a replaced or removed binary's process
// may take, by default, to finish the events it holds before it is stopped
// (Node.pluginDrainTimeout).
const DefaultDrainTimeout = 30 * time.Second

func (c *Config) defaults() error {
	if c.Router == nil {
		return errors.New("plugin: Config.Router is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LogLevel == nil {
		c.LogLevel = slog.LevelInfo
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 5 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.CrashLimit <= 0 {
		c.CrashLimit = 5
	}
	if c.CrashWindow <= 0 {
		c.CrashWindow = time.Minute
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 50 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Second
	}
	if c.PendingLimit <= 0 {
		c.PendingLimit = 65536
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = defaultMaxInFlight
	}
	return nil
}

// PluginStatus is the operator's view of one plugin binary.
type PluginStatus struct {
	Name     string   `json:"name"`
	Path     string   `json:"path"`
	Services []string `json:"services,omitempty"`
	// State is "idle" (known, not running), "launching", "running",
	// "draining", "failed", "removed", "refused" (unsafe permissions),
	// "invalid" (not a usable plugin) or, read from the cache with no node
	// running, "cached".
	State    string `json:"state"`
	PID      int    `json:"pid,omitempty"`
	Launches uint64 `json:"launches"`
	Crashes  uint64 `json:"crashes"`
	// ToPlugin and FromPlugin count the events the host sent to the
	// plugin's processes and received from them.
	ToPlugin   uint64 `json:"to_plugin"`
	FromPlugin uint64 `json:"from_plugin"`
	InFlight   int    `json:"in_flight,omitempty"`
	LastError  string `json:"last_error,omitempty"`
}

// Host runs a node's plugins: it scans the plugins folder, registers each
// plugin's services in the router, launches a plugin on the first event
// for one of them, supervises its process and follows changes to the
// folder. Create it with New, then call Start; Close stops every plugin.
type Host struct {
	cfg     Config
	log     *slog.Logger
	rt      *router.Router
	sockDir string
	// nodeStart is when this process started (procStart), for the status
	// the cache file keeps.
	nodeStart uint64

	quit chan struct{}
	// quiescing is set by Quiesce: a plugin launched later is told at once.
	quiescing atomic.Bool
	wg        sync.WaitGroup
	stopOnce  sync.Once
	spawnMu   sync.Mutex
	closed    bool // Close has begun: spawn refuses; guarded by spawnMu

	mu      sync.Mutex
	plugins map[string]*plugin // by path
	owners  map[string]*plugin // service name -> plugin
	bad     map[string]PluginStatus
	cache   *cacheFile
	saveMu  sync.Mutex

	manifests atomic.Uint64 // manifest-mode launches, for tests and the console
	lost      atomic.Uint64 // events failed because their process ended (see Lost)
	started   bool
	problems  []problemEntry
}

// New returns a host; it launches nothing until Start.
func New(cfg Config) (*Host, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	sweepSocketDirs(cfg.SocketDir, cfg.Logger)
	dir, err := os.MkdirTemp(cfg.SocketDir, socketDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("plugin: making the private socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("plugin: making the private socket directory: %w", err)
	}
	start, _ := procStart(os.Getpid())
	owner := fmt.Sprintf("%d %d", os.Getpid(), start)
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("plugin: making the private socket directory: %w", err)
	}
	return &Host{cfg: cfg, log: cfg.Logger, rt: cfg.Router, sockDir: dir, nodeStart: start,
		quit: make(chan struct{}), plugins: map[string]*plugin{},
		owners: map[string]*plugin{}, bad: map[string]PluginStatus{}}, nil
}

// socketDirPrefix begins the name of a host's private socket folder, and
// ownerFile names the file in it that holds the pid and start time of the
// node that made it. Close removes the folder; a node that ended without
// stopping (SIGKILL, a crash) leaves it, and the next host to start
// removes it.
const (
	socketDirPrefix = "mtnode-plugins-"
	ownerFile       = "node.pid"
)

// sweepSocketDirs removes the socket folders in parent (the system's
// temporary folder when "") whose node no longer runs. A folder without an
// owner file is left: a node may be making it, or one from before owner
// files runs.
func sweepSocketDirs(parent string, log *slog.Logger) {
	if parent == "" {
		parent = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(parent, socketDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		// "pid start" (start: procStart's, 0 when unknown); "pid" alone
		// from earlier versions.
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		var start uint64
		if len(f) > 1 {
			start, _ = strconv.ParseUint(f[1], 10, 64)
		}
		if err != nil || pid <= 0 || pid == os.Getpid() || stillRuns(pid, start) {
			continue
		}
		if err := os.RemoveAll(d); err == nil {
			log.Info("removed the plugin socket folder of a node that ended without stopping", "dir", d, "pid", pid)
		}
	}
}

// spawn runs fn on a goroutine the host owns; Close signals quit and waits.
// Once Close has begun it refuses (returns false) and the caller does the
// work itself or answers it: a wg.Add concurrent with Close's wg.Wait
// would be a misuse of the WaitGroup. It takes only spawnMu, so it may be
// called with any other lock held.
func (h *Host) spawn(fn func(quit <-chan struct{})) bool {
	h.spawnMu.Lock()
	defer h.spawnMu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn(h.quit)
	}()
	return true
}

// errClosing is what a launch refused by a closing host fails with.
var errClosing = errors.New("plugin: the node is stopping")

func (h *Host) level() slog.Level { return h.cfg.LogLevel.Level() }

// Start scans the plugins folder (launching only binaries the cache does
// not know), registers their services and, with Config.Watch, starts
// following the folder. Problems with the folder or a binary are logged
// and listed by Problems and Status; the node keeps running. Start fails
// only when the host is closed.
func (h *Host) Start(ctx context.Context) error {
	select {
	case <-h.quit:
		return errors.New("plugin: host is closed")
	default:
	}
	c, err := readCache(h.cfg.CacheFile)
	if err != nil {
		h.problem(h.cfg.CacheFile, err)
	}
	h.mu.Lock()
	h.cache = c
	h.started = true
	h.mu.Unlock()
	if h.cfg.Dir == "" {
		return nil
	}
	if err := h.scanDir(ctx); err != nil {
		return err
	}
	h.saveCache()
	if h.cfg.Watch {
		if err := h.watch(); err != nil {
			h.problem("watch", err)
		}
	}
	return nil
}

// scanDir checks the plugins folder and rescans every file in it. A folder
// others may write to is refused: then no plugin of it is registered.
func (h *Host) scanDir(ctx context.Context) error {
	if err := h.checkDir(); err != nil {
		h.problem(h.cfg.Dir, err)
		return nil
	}
	h.clearProblems(h.cfg.Dir)
	names, err := os.ReadDir(h.cfg.Dir)
	if err != nil {
		h.problem(h.cfg.Dir, fmt.Errorf("plugin: reading plugins folder: %w", err))
		return nil
	}
	for _, e := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.rescan(ctx, filepath.Join(h.cfg.Dir, e.Name()))
	}
	return nil
}

// refuseDir forgets every plugin of a plugins folder found writable by
// others after the node started (err says how): its binaries may have been
// swapped under us. A later scanDir takes them back once it is safe.
func (h *Host) refuseDir(err error) {
	h.problem(h.cfg.Dir, err)
	h.mu.Lock()
	ps := h.listLocked()
	clear(h.bad)
	h.mu.Unlock()
	for _, p := range ps {
		h.remove(p)
	}
}

// checkDir refuses a plugins folder others may write to: anyone who can
// add a binary there runs code as the node.
func (h *Host) checkDir() error {
	fi, err := os.Stat(h.cfg.Dir)
	if err != nil {
		return fmt.Errorf("plugin: plugins folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("plugin: plugins folder %s is not a directory", h.cfg.Dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("plugin: refusing plugins folder %s: it is writable by group or others (mode %v); run chmod go-w %s", h.cfg.Dir, fi.Mode().Perm(), h.cfg.Dir)
	}
	return nil
}

// maxProblems bounds the problems Problems keeps (each was logged).
const maxProblems = 256

// problemEntry is one problem and what it is about: a path (a binary, the
// folder, the cache file), a path#service for a service conflict, "watch".
type problemEntry struct {
	key string
	err error
}

// problem logs err and keeps it as the latest problem about key, replacing
// an older one: a bad file that keeps changing does not grow the list.
func (h *Host) problem(key string, err error) {
	h.log.Error("plugin problem", sdk.KeyErr, err)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems = slices.DeleteFunc(h.problems, func(p problemEntry) bool { return p.key == key })
	h.problems = append(h.problems, problemEntry{key, err})
	if n := len(h.problems) - maxProblems; n > 0 {
		h.problems = slices.Delete(h.problems, 0, n)
	}
}

// clearProblems forgets the problems about path (and its services).
func (h *Host) clearProblems(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems = slices.DeleteFunc(h.problems, func(p problemEntry) bool {
		return p.key == path || strings.HasPrefix(p.key, path+"#")
	})
}

// Lost returns how many events plugin processes ended without answering
// or taking (crashed, stopped or lost link): each was failed back to its
// sender, or counted and logged by the router when it had none.
func (h *Host) Lost() uint64 { return h.lost.Load() }

// Problems returns the current problems (refused folder or binaries,
// invalid plugins, service name conflicts), oldest first: the latest one
// about each file, at most maxProblems. A file that is fixed or removed
// drops its problems.
func (h *Host) Problems() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]error, len(h.problems))
	for i, p := range h.problems {
		out[i] = p.err
	}
	return out
}

var validNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

func validName(s string) bool { return validNameRE.MatchString(s) }

func baseName(path string) string { return filepath.Base(path) }

// rescan brings what the host knows of path up to date with the file: a
// new binary is added, a changed one replaced, a gone one removed. When
// ctx ends while a new binary's manifest is read, the binary is left as it
// was, neither added nor marked bad: the next scan reads it again.
func (h *Host) rescan(ctx context.Context, path string) {
	name := baseName(path)
	if strings.HasPrefix(name, ".") {
		return
	}
	h.mu.Lock()
	old := h.plugins[path]
	h.mu.Unlock()

	fi, err := os.Stat(path)
	switch {
	case err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		h.mu.Lock()
		delete(h.bad, path)
		h.mu.Unlock()
		h.clearProblems(path)
		if old != nil {
			h.remove(old)
		}
		return
	case fi.Mode().Perm()&0o022 != 0:
		err := fmt.Errorf("plugin: refusing %s: it is writable by group or others (mode %v); run chmod go-w %s", path, fi.Mode().Perm(), path)
		h.markBad(path, "refused", err)
		if old != nil {
			h.remove(old)
		}
		return
	}
	key, err := keyOf(path, fi)
	if err != nil {
		h.markBad(path, "invalid", fmt.Errorf("plugin: reading %s: %w", path, err))
		return
	}
	if old != nil {
		old.mu.RLock()
		same := old.key.SHA256 == key.SHA256 && old.key.Size == key.Size
		old.mu.RUnlock()
		if same {
			return
		}
	}
	services, err := h.cachedManifest(ctx, path, key)
	if err != nil && ctx.Err() != nil {
		return
	}
	if err != nil {
		h.markBad(path, "invalid", err)
		if old != nil {
			h.remove(old)
		}
		return
	}
	h.mu.Lock()
	delete(h.bad, path)
	h.mu.Unlock()
	h.clearProblems(path)
	if old != nil {
		h.replace(old, key, services)
		return
	}
	h.add(newPlugin(h, path, key, services))
}

func (h *Host) markBad(path, state string, err error) {
	h.problem(path, err)
	h.mu.Lock()
	h.bad[path] = PluginStatus{Name: baseName(path), Path: path, State: state, LastError: err.Error()}
	h.mu.Unlock()
}

// cachedManifest returns the manifest of the binary path (of identity
// key), from the cache or by launching it once in manifest mode.
func (h *Host) cachedManifest(ctx context.Context, path string, key fileKey) ([]ServiceManifest, error) {
	h.mu.Lock()
	e := h.cache.Entries[path]
	h.mu.Unlock()
	if e != nil && e.fileKey == key {
		if e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return e.Services, nil
	}
	h.log.Info("learning plugin manifest", sdk.KeyPlugin, baseName(path))
	var services []ServiceManifest
	var err error
	for range 5 {
		services, err = h.manifest(ctx, path)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err() // cut short: nothing learnt, nothing cached
		}
		// A binary still being written cannot be executed yet ("text file
		// busy"); a moment later it can.
		if err == nil || !strings.Contains(err.Error(), "text file busy") {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-h.quit:
			return nil, errors.New("plugin: host is closing")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	entry := &cacheEntry{fileKey: key, Services: services}
	if err != nil {
		err = fmt.Errorf("plugin: %s is not a usable plugin: %w", path, err)
		if errors.Is(err, errTimedOut) {
			return nil, err // perhaps only a busy machine: read again next time, not cached
		}
		entry.Error = err.Error()
	}
	h.mu.Lock()
	h.cache.Entries[path] = entry
	h.mu.Unlock()
	return services, err
}

// add registers a new plugin's services. A service already held by the
// node or another plugin stays with its first owner (until release hands
// it over).
func (h *Host) add(p *plugin) {
	h.mu.Lock()
	h.plugins[p.path] = p
	var errs []problemEntry
	var mine []string
	for _, s := range p.services {
		key := p.path + "#" + s.Name
		switch other := h.owners[s.Name]; {
		case h.cfg.Local != nil && h.cfg.Local(s.Name):
			errs = append(errs, problemEntry{key, fmt.Errorf("plugin: %s declares service %q, which the node holds itself; the plugin's is not reachable", p.path, s.Name)})
		case other != nil && other != p:
			errs = append(errs, problemEntry{key, fmt.Errorf("plugin: service %q is declared by both %s and %s; keeping %s", s.Name, other.path, p.path, other.path)})
		default:
			h.owners[s.Name] = p
			mine = append(mine, s.Name)
		}
	}
	h.mu.Unlock()
	for _, name := range mine {
		h.rt.SetService(name, p)
	}
	h.rt.SetRuntime(p.name, runtimeLink{p})
	for _, e := range errs {
		h.problem(e.key, e.err)
	}
	h.log.Info("plugin registered", sdk.KeyPlugin, p.name, "services", strings.Join(mine, ","))
}

// unregister drops p's services from the router and the owner table.
func (h *Host) unregister(p *plugin) { h.release(p, nil) }

// release takes from p the services it owns that keep does not name: each
// goes to another plugin that declares it too (the first by path), which
// was refused it while p held it, or else out of the router.
func (h *Host) release(p *plugin, keep map[string]bool) {
	type handover struct {
		name string
		to   *plugin
	}
	var moved []handover
	h.mu.Lock()
	for name, o := range h.owners {
		if o != p || keep[name] {
			continue
		}
		delete(h.owners, name)
		var next *plugin
		for _, c := range h.plugins {
			if c != p && (next == nil || c.path < next.path) && c.declares(name) {
				next = c
			}
		}
		if next != nil {
			h.owners[name] = next
			h.problems = slices.DeleteFunc(h.problems, func(e problemEntry) bool { return e.key == next.path+"#"+name })
		}
		moved = append(moved, handover{name, next})
	}
	h.mu.Unlock()
	for _, m := range moved {
		if m.to == nil {
			h.rt.SetService(m.name, nil)
			continue
		}
		h.rt.SetService(m.name, m.to)
		h.log.Info("service taken over by the next plugin that declares it", sdk.KeyService, m.name, sdk.KeyPlugin, m.to.name, "from", p.name)
	}
}

// remove forgets a plugin whose binary is gone: its services answer
// ErrNoService, and its process finishes its in-flight events and stops.
func (h *Host) remove(p *plugin) {
	h.unregister(p)
	h.mu.Lock()
	if h.plugins[p.path] == p {
		delete(h.plugins, p.path)
	}
	h.mu.Unlock()
	h.rt.SetRuntime(p.name, nil)
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.state = stRemoved
	p.gen++
	p.retireLocked()
	p.state = stRemoved
	p.notify()
	p.mu.Unlock()
	for _, ev := range pending {
		h.rt.Fail(ev, sdk.CodeNoService, fmt.Sprintf("plugin: %s was removed from the plugins folder", p.path), p.Name())
	}
	h.log.Info("plugin removed", sdk.KeyPlugin, p.name)
	h.saveState()
}

// replace takes a changed binary into use: the running process finishes
// its in-flight events, then the next event launches the new binary. A
// failed plugin gets a fresh start. Services the new binary still declares
// stay routed to p throughout, so an event arriving meanwhile waits for the
// new process instead of failing with ErrNoService; only services it no
// longer declares are dropped.
func (h *Host) replace(p *plugin, key fileKey, services []ServiceManifest) {
	p.mu.Lock()
	p.key = key
	p.services = services
	if p.state == stFailed {
		p.state = stIdle
		p.crashes = nil
	}
	p.retireLocked()
	p.notify()
	p.mu.Unlock()
	keep := map[string]bool{}
	for _, s := range services {
		keep[s.Name] = true
	}
	h.release(p, keep)
	h.add(p) // registers the new services; the kept ones map to p again
	h.log.Info("plugin replaced", sdk.KeyPlugin, p.name)
}

// declares reports whether p's binary declares the service name.
func (p *plugin) declares(name string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.ContainsFunc(p.services, func(s ServiceManifest) bool { return s.Name == name })
}

// runtimeLink routes ENDPOINT hops of the plugin's own runtime name to its
// current process.
type runtimeLink struct{ p *plugin }

func (l runtimeLink) Name() string { return l.p.Name() }

func (l runtimeLink) Send(ev *sdk.Event) error {
	l.p.mu.RLock()
	pr := l.p.proc
	l.p.mu.RUnlock()
	if pr == nil {
		return &sdk.DeliveryError{Code: sdk.CodeLinkLost, Message: fmt.Sprintf("plugin %s is not running", l.p.name)}
	}
	return pr.Send(ev)
}

// Known reports whether name is a service of a plugin; pass it to
// core.Node.Start so that Start= may name plugin services.
func (h *Host) Known(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.owners[name] != nil
}

// Owner returns the name of the plugin that holds service name, or "".
func (h *Host) Owner(name string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.owners[name]; p != nil {
		return p.name
	}
	return ""
}

// PlanStart records the plugin services among names (the node's Start=;
// other names are ignored) as those each plugin starts, in order, whenever
// it is launched, without launching anything. Call it before the boot
// starts anything: a plugin that an event launches before the boot reaches
// its place in Start= then starts them at that launch.
func (h *Host) PlanStart(names []string) { h.planStart(names) }

// planStart is PlanStart; it returns the plugins holding names, in order.
func (h *Host) planStart(names []string) []*plugin {
	var order []*plugin
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range names {
		p := h.owners[n]
		if p == nil {
			continue
		}
		if !slices.Contains(order, p) {
			order = append(order, p)
		}
		p.mu.Lock()
		if !slices.Contains(p.start, n) {
			p.start = append(p.start, n)
		}
		p.mu.Unlock()
	}
	return order
}

// StartServices starts the plugin services among names (the node's
// Start=; other names are ignored), in order: each plugin is launched
// with its services of the list started before its first event, and again
// at each relaunch. It waits until every such plugin is running, or ctx
// ends.
func (h *Host) StartServices(ctx context.Context, names []string) error {
	var errs []error
	for _, p := range h.planStart(names) {
		if err := p.ensureRunning(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ensureRunning launches p if idle and waits for it to run.
func (p *plugin) ensureRunning(ctx context.Context) error {
	p.mu.Lock()
	for first := true; ; first = false {
		// A launch that ended idle with an error is not retried here.
		if p.state == stIdle && (first || p.lastErr == "") {
			if refused, ok := p.launchLocked(); !ok {
				p.mu.Unlock()
				p.failAll(refused, sdk.CodeStopped, errClosing.Error())
				return fmt.Errorf("plugin: starting %s: %w", p.name, errClosing)
			}
		}
		switch p.state {
		case stRunning:
			p.mu.Unlock()
			return nil
		case stFailed, stRemoved:
			err := fmt.Errorf("plugin: starting %s: %s", p.name, p.lastErr)
			p.mu.Unlock()
			return err
		case stIdle:
			if p.lastErr != "" {
				err := fmt.Errorf("plugin: starting %s: %s", p.name, p.lastErr)
				p.mu.Unlock()
				return err
			}
			continue
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("plugin: starting %s: %w", p.name, ctx.Err())
		}
		p.mu.Lock()
	}
}

// Reset clears a plugin's crash record, so that a plugin marked failed by
// a crash loop is launched again by its next event (the operator's
// plugins/reset, through sdk.Admin.ResetPlugin). name is the binary's file
// name.
func (h *Host) Reset(name string) error {
	h.mu.Lock()
	var p *plugin
	for _, q := range h.plugins {
		if q.name == name {
			p = q
		}
	}
	h.mu.Unlock()
	if p == nil {
		return fmt.Errorf("plugin: no plugin named %q in %s (`mtnode plugins` lists them)", name, h.cfg.Dir)
	}
	p.mu.Lock()
	if p.state == stFailed {
		p.state = stIdle
	}
	p.crashes = nil
	p.notify()
	p.mu.Unlock()
	h.saveState()
	return nil
}

// Status returns every plugin's state, sorted by path. Safe for concurrent
// use (the console calls it).
func (h *Host) Status() []PluginStatus {
	h.mu.Lock()
	ps := h.listLocked()
	out := make([]PluginStatus, 0, len(ps)+len(h.bad))
	for _, b := range h.bad {
		out = append(out, b)
	}
	h.mu.Unlock()
	for _, p := range ps {
		out = append(out, p.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// listLocked returns the plugins, in a slice of their own to use once h.mu
// is let go. h.mu is held.
func (h *Host) listLocked() []*plugin {
	return slices.Collect(maps.Values(h.plugins))
}

// Held returns how many events the node has handed to plugins and not yet
// had back: requests the processes have not answered, events queued for
// them or waiting for their launch. A stopping node waits for them
// (core.Config.Held) before it stops its own services, so that the
// answers still find their way out. Safe for concurrent use.
func (h *Host) Held() int {
	h.mu.Lock()
	ps := h.listLocked()
	h.mu.Unlock()
	n := 0
	for _, p := range ps {
		n += p.held()
	}
	return n
}

// configFor returns the effective config values of services' keys.
func (h *Host) configFor(services []ServiceManifest) map[string]string {
	out := map[string]string{}
	if h.cfg.Conf == nil {
		return out
	}
	for _, e := range h.cfg.Conf.Effective() {
		svc, _, ok := strings.Cut(e.Key, ".")
		if ok && slices.ContainsFunc(services, func(s ServiceManifest) bool { return s.Name == svc }) {
			out[e.Key] = e.Value
		}
	}
	return out
}

func (h *Host) saveCache() {
	h.saveState()
}

// saveState writes the cache file with the current status, for `mtnode
// plugins`.
func (h *Host) saveState() {
	// saveMu orders the writes; h.mu is held only to copy the entries
	// (each is immutable once stored), not while the file is written.
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	st := h.Status()
	h.mu.Lock()
	if h.cache == nil {
		h.mu.Unlock()
		return
	}
	entries := maps.Clone(h.cache.Entries)
	h.mu.Unlock()
	pid := os.Getpid()
	select {
	case <-h.quit:
		pid = 0
	default:
	}
	c := &cacheFile{Version: cacheVersion, Entries: entries,
		State: &cacheState{NodePID: pid, NodeStart: h.nodeStart, Updated: time.Now().UTC(), Plugins: st}}
	if err := writeCache(h.cfg.CacheFile, c); err != nil {
		h.log.Warn("plugin cache not written", sdk.KeyErr, err)
	}
}

// Close stops following the folder and stops every plugin process (each
// closes its link, stops its services and exits; one that does not is
// killed), then waits for the host's goroutines, bounded by ctx.
func (h *Host) Close(ctx context.Context) error {
	h.spawnMu.Lock()
	h.closed = true
	h.spawnMu.Unlock()
	h.stopOnce.Do(func() { close(h.quit) })
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("plugin: closing: %w", ctx.Err())
	}
	h.saveState()
	_ = os.RemoveAll(h.sockDir)
	return err
}

// Quiesce tells every running plugin process that the node has begun to
// stop: each asks its services that take outside work (sdk.Quiescer) to
// take no more, while events go on flowing until Close. A plugin launched
// after it is told at its launch. It does not wait.
func (h *Host) Quiesce() {
	h.quiescing.Store(true)
	h.mu.Lock()
	ps := h.listLocked()
	h.mu.Unlock()
	for _, p := range ps {
		p.mu.RLock()
		pr := p.proc
		p.mu.RUnlock()
		if pr != nil {
			_ = pr.conn.SendControl(&pluginpb.Frame{Quiesce: &pluginpb.Quiesce{}})
		}
	}
}

// StartService starts one plugin service of Start=; see StartServices. It
// fits boot.Node.Start's starter.
func (h *Host) StartService(ctx context.Context, name string) error {
	if !h.Known(name) {
		return fmt.Errorf("plugin: no plugin declares service %q", name)
	}
	return h.StartServices(ctx, []string{name})
}
