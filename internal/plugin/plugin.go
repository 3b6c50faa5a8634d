package plugin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// state is where a plugin is in its life.
type state int

const (
	stIdle      state = iota // known, no process
	stLaunching              // a process is being started; events wait in order
	stRunning                // a process serves the plugin's services
	stDraining               // the process is finishing its in-flight events before it ends
	stFailed                 // a crash loop; fast errors until the binary changes or Reset
	stRemoved                // the binary is gone
)

func (s state) String() string {
	return [...]string{"idle", "launching", "running", "draining", "failed", "removed"}[s]
}

// plugin is one binary in the plugins folder: the router's link for its
// services. Events for it wait in pending while no process can take them.
type plugin struct {
	h    *Host
	name string // base name of the binary: its runtime name
	path string

	mu       sync.RWMutex
	key      fileKey
	services []ServiceManifest
	state    state
	proc     *proc
	retiring *proc
	pending  []*sdk.Event
	gen      uint64
	crashes  []time.Time
	lastErr  string
	launches uint64
	crashN   uint64
	start    []string        // services started with each launch (Start=)
	missing  map[string]bool // declared services the process does not hold
	changed  chan struct{}   // closed at each state change

	toPlugin, fromPlugin atomic.Uint64 // events over its links, all processes
}

func newPlugin(h *Host, path string, key fileKey, services []ServiceManifest) *plugin {
	return &plugin{h: h, name: baseName(path), path: path, key: key, services: services,
		missing: map[string]bool{}, changed: make(chan struct{})}
}

// Name implements router.Link.
func (p *plugin) Name() string { return "plugin " + p.name }

// notify wakes waiters on a state change. p.mu is held.
func (p *plugin) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *plugin) owns(key string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	svc, _, _ := strings.Cut(key, ".")
	for _, s := range p.services {
		if s.Name == svc {
			return true
		}
	}
	return false
}

// Send implements router.Link: events for the plugin's services. A running
// process takes them at once; otherwise they wait, in order, for the
// process the first of them launches.
//
// Between a crash and its supervisor noticing it, the plugin still looks
// running: the dead link refuses the event (ErrLinkLost) and the router
// turns that into an error event to the sender, counted like every other.
// It is not queued for the relaunch: the sender learns at once that the
// process it was talking to is gone.
func (p *plugin) Send(ev *sdk.Event) error {
	p.mu.RLock()
	if p.state == stRunning && !p.missing[ev.Dst] {
		err := p.proc.send(ev)
		p.mu.RUnlock()
		return err
	}
	p.mu.RUnlock()

	p.mu.Lock()
	refused, err := p.sendLocked(ev)
	p.mu.Unlock()
	// The host is closing: answer what waited, ev included.
	p.failAll(refused, sdk.CodeStopped, errClosing.Error())
	return err
}

// sendLocked is Send's slow path, with p.mu held: it queues ev while no
// process can take it and launches one if none is starting. refused are
// events to fail once p.mu is released.
func (p *plugin) sendLocked(ev *sdk.Event) (refused []*sdk.Event, err error) {
	if ev.Kind == sdk.KindRequest && p.missing[ev.Dst] {
		return nil, &sdk.DeliveryError{Code: sdk.CodeNoService,
			Message: fmt.Sprintf("plugin: %s declares service %q but does not serve it (rebuild the plugin so its manifest and its services agree)", p.path, ev.Dst)}
	}
	switch p.state {
	case stRunning:
		return nil, p.proc.send(ev)
	case stRemoved:
		return nil, &sdk.DeliveryError{Code: sdk.CodeNoService, Message: fmt.Sprintf("plugin: %s was removed from the plugins folder", p.path)}
	case stFailed:
		return nil, &sdk.DeliveryError{Code: sdk.CodePluginCrashed,
			Message: fmt.Sprintf("plugin: %s is marked failed (%s); replace the binary or reset the plugin", p.path, p.lastErr)}
	}
	if len(p.pending) >= p.h.cfg.PendingLimit {
		return nil, &sdk.DeliveryError{Code: sdk.CodeQueueFull,
			Message: fmt.Sprintf("plugin: %d events already wait for %s to start", len(p.pending), p.name)}
	}
	p.pending = append(p.pending, ev)
	if p.state == stIdle {
		refused, _ = p.launchLocked()
	}
	return refused, nil
}

// failAll fails evs with code and msg. p.mu must not be held.
func (p *plugin) failAll(evs []*sdk.Event, code sdk.Code, msg string) {
	for _, ev := range evs {
		p.h.rt.Fail(ev, code, msg, p.Name())
	}
}

// launchLocked starts a launch on a host goroutine, after the backoff that
// recent crashes call for. p.mu is held. When the host is closing it
// launches nothing (ok is false): p stays idle and the caller fails the
// pending events it returns, after releasing p.mu.
func (p *plugin) launchLocked() (refused []*sdk.Event, ok bool) {
	p.state = stLaunching
	p.gen++
	gen, delay := p.gen, p.backoffLocked(time.Now())
	start := slices.Clone(p.start)
	services := slices.Clone(p.services)
	key := p.key
	if !p.h.spawn(func(quit <-chan struct{}) { p.launch(quit, gen, delay, start, services, key) }) {
		p.state = stIdle
		refused, p.pending = p.pending, nil
		p.notify()
		return refused, false
	}
	p.notify()
	return nil, true
}

// backoffLocked is the delay before a relaunch: doubling with each crash
// in the crash window, from BackoffMin up to BackoffMax.
func (p *plugin) backoffLocked(now time.Time) time.Duration {
	n := p.recentCrashesLocked(now)
	if n == 0 {
		return 0
	}
	d := p.h.cfg.BackoffMin << (n - 1)
	if d > p.h.cfg.BackoffMax || d <= 0 {
		d = p.h.cfg.BackoffMax
	}
	return d
}

func (p *plugin) recentCrashesLocked(now time.Time) int {
	p.crashes = slices.DeleteFunc(p.crashes, func(t time.Time) bool { return now.Sub(t) > p.h.cfg.CrashWindow })
	return len(p.crashes)
}

// crashedLocked records a crash or failed start, and marks the plugin
// failed on a crash loop. p.mu is held.
func (p *plugin) crashedLocked(why string) {
	now := time.Now()
	p.crashN++
	p.crashes = append(p.crashes, now)
	p.lastErr = why
	if n := p.recentCrashesLocked(now); n >= p.h.cfg.CrashLimit {
		p.state = stFailed
		p.lastErr = fmt.Sprintf("crash loop: %d crashes within %s; last: %s", n, p.h.cfg.CrashWindow, why)
		p.h.log.Error("plugin marked failed", sdk.KeyPlugin, p.name, sdk.KeyErr, p.lastErr)
	}
}

func (p *plugin) launch(quit <-chan struct{}, gen uint64, delay time.Duration, start []string, services []ServiceManifest, key fileKey) {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-quit:
			t.Stop()
			p.abort(gen, sdk.CodeStopped, "plugin: the node is stopping")
			return
		}
	}
	h := p.h
	pr, err := h.launch(p, gen, start, services)
	if errors.Is(err, errClosing) {
		p.abort(gen, sdk.CodeStopped, errClosing.Error())
		return
	}
	p.mu.Lock()
	if p.gen != gen || p.state != stLaunching {
		// Removed (or stopped) while launching: the pending events were
		// already answered.
		p.mu.Unlock()
		if pr != nil {
			pr.stop(time.Second)
			<-pr.runDone
		}
		return
	}
	p.launches++
	if err != nil {
		why := fmt.Sprintf("starting %s: %v", p.path, err)
		p.crashedLocked(why)
		if p.state != stFailed {
			p.state = stIdle
		}
		pending := p.pending
		p.pending = nil
		p.notify()
		p.mu.Unlock()
		h.log.Error("plugin failed to start", sdk.KeyPlugin, p.name, sdk.KeyErr, err)
		for _, ev := range pending {
			h.rt.Fail(ev, sdk.CodeStartFailed, "plugin: "+why, p.Name())
		}
		h.saveState()
		return
	}
	ready := pr.readyMsg
	p.checkManifestLocked(ready.Services, services)
	for _, e := range ready.StartErrors {
		h.log.Error("plugin service failed to start", sdk.KeyPlugin, p.name, sdk.KeyErr, e)
		p.lastErr = e
	}
	p.proc = pr
	p.state = stRunning
	if h.quiescing.Load() {
		// Launched after the node began to stop (Host.Quiesce): ahead of
		// the events that waited for the launch.
		_ = pr.conn.SendControl(&pluginpb.Frame{Quiesce: &pluginpb.Quiesce{}})
	}
	h.rt.SetRuntime(pr.runtime, pr)
	pending := p.pending
	p.pending = nil
	var failed []*sdk.Event
	var errs []error
	for _, ev := range pending {
		if p.missing[ev.Dst] && ev.Kind == sdk.KindRequest {
			failed, errs = append(failed, ev), append(errs, &sdk.DeliveryError{Code: sdk.CodeNoService,
				Message: fmt.Sprintf("plugin: %s declares service %q but does not serve it", p.path, ev.Dst)})
			continue
		}
		if err := pr.send(ev); err != nil {
			failed, errs = append(failed, ev), append(errs, err)
		}
	}
	if p.key != key {
		// The binary changed while this process started: let it finish
		// what it was given, then the next event launches the new one.
		p.retireLocked()
	}
	p.notify()
	p.mu.Unlock()
	h.log.Info("plugin started", sdk.KeyPlugin, p.name, "pid", pr.pid, "link", pr.transport, "queued", len(pending))
	for i, ev := range failed {
		h.rt.Fail(ev, sdk.CodeOf(errs[i]), errs[i].Error(), p.Name())
	}
	h.saveState()
	if !h.spawn(func(quit <-chan struct{}) { p.supervise(quit, pr) }) {
		// The host is closing: this goroutine is the host's already.
		p.supervise(h.quit, pr)
	}
}

// checkManifestLocked compares the services a process holds with those its
// manifest declared: a declared service it lacks answers ErrNoService; a
// service it holds but did not declare is not reachable from the node.
func (p *plugin) checkManifestLocked(held []string, declared []ServiceManifest) {
	clear(p.missing)
	var lies []string
	for _, d := range declared {
		if !slices.Contains(held, d.Name) {
			p.missing[d.Name] = true
			lies = append(lies, fmt.Sprintf("declares %q but does not serve it", d.Name))
		}
	}
	for _, s := range held {
		if !slices.ContainsFunc(declared, func(d ServiceManifest) bool { return d.Name == s }) {
			lies = append(lies, fmt.Sprintf("serves %q without declaring it (not reachable from the node)", s))
		}
	}
	if len(lies) > 0 {
		p.lastErr = fmt.Sprintf("plugin: %s lies in its manifest: %s", p.path, strings.Join(lies, "; "))
		p.h.log.Error("plugin manifest does not match its services", sdk.KeyPlugin, p.name, sdk.KeyErr, p.lastErr)
	}
}

// abort answers the pending events of launch gen and returns to idle.
func (p *plugin) abort(gen uint64, code sdk.Code, msg string) {
	p.mu.Lock()
	if p.gen != gen || p.state != stLaunching {
		p.mu.Unlock()
		return
	}
	pending := p.pending
	p.pending = nil
	p.state = stIdle
	p.notify()
	p.mu.Unlock()
	for _, ev := range pending {
		p.h.rt.Fail(ev, code, msg, p.Name())
	}
}

// supervise waits for pr's link to end and handles it: a crash fails every
// request in flight with ErrPluginCrashed and counts toward the crash
// loop; the next event relaunches. It also stops the process when it has
// been idle for IdleTimeout.
func (p *plugin) supervise(quit <-chan struct{}, pr *proc) {
	h := p.h
	var idle <-chan time.Time
	if h.cfg.IdleTimeout > 0 {
		t := time.NewTicker(max(h.cfg.IdleTimeout/4, 10*time.Millisecond))
		defer t.Stop()
		idle = t.C
	}
	for done := false; !done; {
		select {
		case <-pr.runDone:
			done = true
		case <-quit:
			pr.stop(2 * time.Second)
			<-pr.runDone
			done = true
		case <-idle:
			quiet := time.Duration(link.Nanotime()-pr.last.Load()) >= h.cfg.IdleTimeout
			if quiet && pr.inFlight() == 0 && pr.conn.Queued() == 0 {
				p.mu.Lock()
				if p.proc == pr {
					h.log.Info("plugin idle, stopping it", sdk.KeyPlugin, p.name, "pid", pr.pid)
					p.retireLocked()
				}
				p.mu.Unlock()
			}
		}
	}
	intentional := pr.stopping.Load()
	broken := linkBroken(pr.runErr)
	if broken {
		// It wrote what is not a link frame: it is not trusted to stop
		// by itself, and its exit status would not say what went wrong.
		_ = pr.cmd.Process.Kill()
	}
	status := pr.exitStatus()
	if broken {
		status += "; its link broke: " + pr.runErr.Error()
	}
	pr.kill()
	h.rt.SetRuntime(pr.runtime, nil)

	why := fmt.Sprintf("plugin %s (pid %d) crashed: %s%s", p.name, pr.pid, status, tailSuffix(pr.stderr))
	p.mu.Lock()
	if p.proc == pr {
		p.proc = nil
		if p.state == stRunning {
			p.state = stIdle
		}
	}
	if p.retiring == pr {
		p.retiring = nil
		if p.state == stDraining {
			p.state = stIdle
		}
	}
	if !intentional {
		p.crashedLocked(why)
	}
	var refused []*sdk.Event
	if p.state == stIdle && len(p.pending) > 0 {
		select {
		case <-quit:
			refused, p.pending = p.pending, nil
		default:
			refused, _ = p.launchLocked()
		}
	}
	p.notify()
	p.mu.Unlock()
	p.failAll(refused, sdk.CodeStopped, errClosing.Error())

	// Events the link accepted and never wrote (any kind: requests,
	// replies and errors bound for the plugin's services, one-way events),
	// then the requests written and never answered. A request still queued
	// is also tracked; it is answered once, as unsent.
	unsent := pr.conn.Abandoned()
	for _, ev := range unsent {
		if ev.Kind == sdk.KindRequest {
			pr.untrack(ev)
		}
	}
	lost := pr.takeInflight()
	if intentional {
		h.log.Info("plugin stopped", sdk.KeyPlugin, p.name, "pid", pr.pid, "status", status, "unsent", len(unsent))
		for _, ev := range unsent {
			h.rt.Fail(ev, sdk.CodeStopped, fmt.Sprintf("plugin %s stopped before taking the event", p.name), p.Name())
		}
		for _, ev := range lost {
			h.rt.Fail(ev, sdk.CodeStopped, fmt.Sprintf("plugin %s stopped before answering", p.name), p.Name())
		}
	} else {
		h.log.Error("plugin crashed", sdk.KeyPlugin, p.name, "pid", pr.pid, "status", status,
			"in_flight", len(lost), "unsent", len(unsent), sdk.KeyErr, pr.runErr, "stderr", pr.stderr.tail())
		for _, ev := range unsent {
			h.rt.Fail(ev, sdk.CodePluginCrashed, why+" (before taking the event)", p.Name())
		}
		for _, ev := range lost {
			h.rt.Fail(ev, sdk.CodePluginCrashed, why, p.Name())
		}
	}
	h.lost.Add(uint64(len(unsent) + len(lost)))
	h.saveState()
}

// linkBroken reports whether a link ended because the plugin sent bytes
// that are not link frames, rather than because it ended.
func linkBroken(err error) bool {
	return errors.Is(err, pluginrt.ErrBadFrame) || status.Code(err) == codes.Internal
}

// retireLocked takes the running process out of service: new events wait
// in pending while it finishes its in-flight events (bounded by
// DrainTimeout), then it is stopped and the next process starts. p.mu is
// held.
func (p *plugin) retireLocked() {
	pr := p.proc
	if pr == nil {
		return
	}
	p.proc = nil
	p.retiring = pr
	if p.state == stRunning {
		p.state = stDraining
	}
	p.notify()
	drain := p.h.cfg.DrainTimeout
	// Refused when the host is closing; then pr's supervisor stops it.
	p.h.spawn(func(quit <-chan struct{}) {
		if n := pr.inFlight(); n > 0 || pr.conn.Queued() > 0 {
			// New events wait meanwhile: say why, and for how long at most.
			p.h.log.Info("waiting for the old plugin process to finish its events before it stops (new events wait for the new binary; Node.pluginDrainTimeout bounds the wait)",
				sdk.KeyPlugin, p.name, "pid", pr.pid, "in_flight", n, "timeout", drain)
			t0 := time.Now()
			if p.drained(pr, drain, quit) {
				p.h.log.Info("old plugin process finished its events", sdk.KeyPlugin, p.name, "pid", pr.pid, "waited", time.Since(t0).Round(time.Millisecond))
			}
		}
		pr.stop(2 * time.Second)
	})
}

// drained waits until pr holds no event, for up to timeout: it reports
// whether pr finished them. It gives up early, and reports false, when the
// host closes (quit) or pr ends, and logs a timeout.
func (p *plugin) drained(pr *proc, timeout time.Duration, quit <-chan struct{}) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for pr.inFlight() > 0 || pr.conn.Queued() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			p.h.log.Warn("old plugin process did not finish its events in time; stopping it (raise Node.pluginDrainTimeout if it needs longer)",
				sdk.KeyPlugin, p.name, "pid", pr.pid, "in_flight", pr.inFlight(), "timeout", timeout)
			return false
		case <-quit:
			return false
		case <-pr.runDone:
			return false
		}
	}
	return true
}

// held returns the events p has been handed and not given back (see
// Host.Held).
func (p *plugin) held() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := len(p.pending)
	for _, pr := range []*proc{p.proc, p.retiring} {
		if pr != nil {
			n += pr.inFlight() + pr.conn.Queued()
		}
	}
	return n
}

// status returns the operator's view of p.
func (p *plugin) status() PluginStatus {
	p.mu.RLock()
	defer p.mu.RUnlock()
	st := PluginStatus{Name: p.name, Path: p.path, State: p.state.String(),
		Launches: p.launches, Crashes: p.crashN, LastError: p.lastErr,
		ToPlugin: p.toPlugin.Load(), FromPlugin: p.fromPlugin.Load()}
	for _, s := range p.services {
		st.Services = append(st.Services, s.Name)
	}
	pr := p.proc
	if pr == nil {
		pr = p.retiring
	}
	if pr != nil {
		st.PID = pr.pid
		st.InFlight = pr.inFlight()
	}
	return st
}
