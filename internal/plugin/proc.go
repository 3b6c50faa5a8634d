package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// defaultMaxInFlight bounds the requests in flight to one process: each
// is remembered so that a crash can answer it.
const defaultMaxInFlight = 1 << 17

// client starts the binary at path with go-plugin and returns the client
// and the Plugin service's stub. The caller kills the client.
func (h *Host) client(ctx context.Context, path string, stderr *stderrLog) (*goplugin.Client, *exec.Cmd, pluginpb.PluginClient, error) {
	cmd := exec.CommandContext(ctx, path) // killed if ctx ends, even during the handshake
	cmd.Env = pluginEnv(os.Environ(), h.sockDir, h.cfg.GCFloor, h.cfg.LinkSpin)
	setParentDeath(cmd)
	c := goplugin.NewClient(&goplugin.ClientConfig{
		// cmd.Env carries the node's environment already; go-plugin's own
		// copy would come after ours and win (the last value of a key is
		// the one a process sees).
		SkipHostEnv:      true,
		HandshakeConfig:  pluginrt.Handshake(),
		Plugins:          pluginrt.PluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     h.cfg.StartTimeout,
		// Plugin logs are read from stderr by stderrLog; go-plugin's own
		// re-logging would print every line twice.
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off}),
		Stderr: stderr,
		// What the plugin writes to os.Stderr and os.Stdout after the
		// handshake comes over go-plugin's stdio stream.
		SyncStderr: stderr,
		SyncStdout: stderr,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(pluginrt.MaxMessageSize), grpc.MaxCallSendMsgSize(pluginrt.MaxMessageSize),
				grpc.ForceCodecV2(link.Codec{})), // the Conn writes encoded frames
			// A batch is up to a few MB: HTTP/2 windows that small frames
			// outgrow only slowly would cost a round trip per 64 KiB.
			grpc.WithInitialWindowSize(pluginrt.StreamWindow), grpc.WithInitialConnWindowSize(pluginrt.StreamWindow),
		},
	})
	rpc, err := c.Client()
	if err != nil {
		killClient(c, cmd)
		return nil, nil, nil, explainStart(err, stderr)
	}
	raw, err := rpc.Dispense(pluginrt.PluginName)
	if err != nil {
		killClient(c, cmd)
		return nil, nil, nil, fmt.Errorf("the process does not serve the mtnode plugin protocol: %w", err)
	}
	pc, ok := raw.(pluginpb.PluginClient)
	if !ok {
		killClient(c, cmd)
		return nil, nil, nil, errors.New("the process does not serve the mtnode plugin protocol")
	}
	return c, cmd, pc, nil
}

// pluginEnv is a plugin process's environment: the node's, without the
// go-plugin variables that would move its socket out of our private
// directory (or make it group-writable, or trust a client certificate),
// then our socket directory. go-plugin appends the handshake variables.
func pluginEnv(environ []string, sockDir string, gcFloor uint64, spin time.Duration) []string {
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case goplugin.EnvUnixSocketDir, goplugin.EnvUnixSocketGroup, "PLUGIN_CLIENT_CERT", gctune.EnvFloor, pluginrt.EnvLinkSpin:
			continue
		}
		env = append(env, kv)
	}
	env = append(env, goplugin.EnvUnixSocketDir+"="+sockDir)
	if gcFloor > 0 {
		env = append(env, gctune.EnvFloor+"="+strconv.FormatUint(gcFloor, 10))
	}
	if spin > 0 {
		env = append(env, pluginrt.EnvLinkSpin+"="+spin.String())
	}
	return env
}

// explainStart turns go-plugin's start errors into messages that say what
// is wrong with the binary.
func explainStart(err error, stderr *stderrLog) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Failed to read any lines from plugin's stdout"),
		strings.Contains(msg, "plugin exited before we could connect"):
		err = errors.New("it exited before completing the plugin handshake")
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		first, _, _ := strings.Cut(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "), "\n")
		err = fmt.Errorf("not an mtnode plugin: it printed %q on stdout instead of go-plugin's handshake (build it with plugin.Serve from sdk/plugin, and keep stdout free before Serve)", first)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		err = fmt.Errorf("it did not complete the plugin handshake in time (hangs at start, or the machine is busy?): %w", errTimedOut)
	}
	if t := stderr.tail(); t != "" {
		err = fmt.Errorf("%w; stderr: %s", err, t)
	}
	return err
}

// errTimedOut marks a manifest read that ran out of time: the binary may
// be fine on a less busy machine, so the failure is not cached.
var errTimedOut = errors.New("timed out")

// manifest launches path once and asks for its manifest.
// It gives up, killing the process, when ctx ends.
func (h *Host) manifest(ctx context.Context, path string) ([]ServiceManifest, error) {
	h.manifests.Add(1)
	stderr := newStderrLog(h.log, baseName(path))
	c, cmd, pc, err := h.client(ctx, path, stderr)
	if err != nil {
		return nil, err
	}
	defer killClient(c, cmd)
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StartTimeout)
	defer cancel()
	m, err := pc.Manifest(ctx, &pluginpb.ManifestRequest{})
	if err != nil {
		if status.Code(err) == codes.DeadlineExceeded {
			err = fmt.Errorf("%w (Node.pluginStartTimeout)", errTimedOut)
		}
		return nil, fmt.Errorf("asking for its manifest: %w", err)
	}
	var out []ServiceManifest
	seen := map[string]bool{}
	for _, s := range m.Services {
		if !validName(s.Name) {
			return nil, fmt.Errorf("its manifest names an invalid service %q", s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("its manifest names service %q twice", s.Name)
		}
		seen[s.Name] = true
		out = append(out, ServiceManifest{Name: s.Name, EventTypes: s.EventTypes})
	}
	if len(out) == 0 {
		return nil, errors.New("its manifest declares no services")
	}
	return out, nil
}

// proc is one running plugin process and its link.
type proc struct {
	p       *plugin
	gen     uint64
	runtime string // ENDPOINT hop name for requests from this process
	client  *goplugin.Client
	cmd     *exec.Cmd
	conn    *pluginrt.Conn
	stderr  *stderrLog
	pid     int

	transport string // transportSocket or transportGRPC
	closeLink func() // closes the event socket once the link ended; nil for gRPC

	readyMsg *pluginpb.Ready
	runDone  chan struct{}
	runErr   error

	stopping atomic.Bool  // the host ended it on purpose
	last     atomic.Int64 // link.Nanotime of the last event sent, with an idle stop

	mu       sync.Mutex
	inflight map[trackKey]*sdk.Event
}

// trackKey identifies a request in flight: its id and the top of its
// route, which its reply carries back unchanged.
type trackKey struct {
	id  uint64
	top sdk.Hop
}

func keyFor(ev *sdk.Event) (trackKey, bool) {
	if len(ev.Route) == 0 {
		return trackKey{}, false
	}
	return trackKey{id: ev.ID, top: ev.Route[len(ev.Route)-1]}, true
}

// Send implements router.Link for replies and errors routed to this
// process (through its runtime's ENDPOINT hop).
func (pr *proc) Send(ev *sdk.Event) error {
	pr.touch()
	// Counted first: the answer may be back before Send returns.
	pr.p.toPlugin.Add(1)
	err := pr.conn.Send(ev)
	if err != nil {
		pr.p.toPlugin.Add(^uint64(0))
	}
	return err
}

// touch records that an event went to the process, for the idle stop
// (Node.pluginIdleTimeout). Without one, the default, it reads no clock.
func (pr *proc) touch() {
	if pr.p.h.cfg.IdleTimeout > 0 {
		pr.last.Store(link.Nanotime())
	}
}

// Name implements router.Link.
func (pr *proc) Name() string { return "plugin " + pr.p.name }

// send sends a request (or anything) to the process, tracking requests
// that can be answered.
func (pr *proc) send(ev *sdk.Event) error {
	pr.touch()
	k, track := keyFor(ev)
	if track && ev.Kind == sdk.KindRequest {
		pr.mu.Lock()
		if n := len(pr.inflight); n >= pr.p.h.cfg.MaxInFlight {
			pr.mu.Unlock()
			// Refused now rather than delivered untracked: a crash could
			// not answer it.
			return &sdk.DeliveryError{Code: sdk.CodeQueueFull,
				Message: fmt.Sprintf("plugin %s has %d requests in flight, its limit; retry once it answers some", pr.p.name, n)}
		}
		pr.inflight[k] = ev
		pr.mu.Unlock()
	} else {
		track = false
	}
	pr.p.toPlugin.Add(1) // before Send: the answer may be back before it returns
	err := pr.conn.Send(ev)
	if err != nil {
		pr.p.toPlugin.Add(^uint64(0))
	}
	if err != nil && track {
		pr.mu.Lock()
		delete(pr.inflight, k)
		pr.mu.Unlock()
	}
	return err
}

func (pr *proc) untrack(ev *sdk.Event) {
	if k, ok := keyFor(ev); ok {
		pr.untrackKey(k)
	}
}

func (pr *proc) untrackKey(k trackKey) {
	pr.mu.Lock()
	delete(pr.inflight, k)
	pr.mu.Unlock()
}

func (pr *proc) inFlight() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return len(pr.inflight)
}

// takeInflight empties and returns the requests still unanswered.
func (pr *proc) takeInflight() []*sdk.Event {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	out := make([]*sdk.Event, 0, len(pr.inflight))
	for _, ev := range pr.inflight {
		out = append(out, ev)
	}
	clear(pr.inflight)
	return out
}

// launch starts a process for p, opens its link, says Hello and waits for
// Ready. On success the link runs on a goroutine owned by the host;
// runDone closes when it ends.
func (h *Host) launch(p *plugin, gen uint64, start []string, services []ServiceManifest) (*proc, error) {
	log := h.log.With(sdk.KeyPlugin, p.name)
	pr := &proc{p: p, gen: gen, runtime: fmt.Sprintf("%s@%d", p.name, gen),
		stderr:  newStderrLog(h.log, p.name),
		runDone: make(chan struct{}), inflight: map[trackKey]*sdk.Event{}}
	c, cmd, pc, err := h.client(context.Background(), p.path, pr.stderr)
	if err != nil {
		return nil, err
	}
	pr.client, pr.cmd, pr.pid = c, cmd, cmd.Process.Pid
	// The stream lives as long as the process; it is ended by closing our
	// side (Conn.Close) or by killing the process.
	stream, err := pc.Link(context.Background())
	if err != nil {
		killClient(c, cmd)
		return nil, fmt.Errorf("opening the event link: %w", err)
	}
	hello := &pluginpb.Hello{Name: p.name, Config: h.configFor(services), Start: start,
		Credit: pluginrt.DefaultWindow, LogLevel: int32(h.level())}
	// Offer the event socket: a plain Unix socket's round trip costs about
	// a sixth of a gRPC stream's. Without it, events go over the stream.
	ln, err := listenEvents(h.sockDir, log)
	if err != nil {
		log.Warn("events go over the gRPC link stream", sdk.KeyErr, err)
	} else {
		defer ln.close() // no socket file outlives the launch
		hello.EventSocket, hello.EventToken = ln.path, ln.token
	}
	if err := stream.Send(&pluginpb.Frame{Hello: hello}); err != nil {
		killClient(c, cmd)
		return nil, fmt.Errorf("sending hello: %w", err)
	}
	up, err := pr.awaitLink(stream, ln, h.cfg.StartTimeout)
	if err != nil {
		killClient(c, cmd)
		return nil, fmt.Errorf("starting its services: %w%s", err, tailSuffix(pr.stderr))
	}
	pr.transport, pr.closeLink = up.transport, up.close
	pr.conn = pluginrt.NewConn(up.stream, pluginrt.ConnConfig{
		Name:    "plugin " + p.name,
		Credit:  up.ready.Credit,
		Deliver: pr.inbound,
		Control: pr.control,
		Failed: func(ev *sdk.Event, err error) {
			pr.untrack(ev)
			h.rt.Fail(ev, sdk.CodeOf(err), err.Error(), "plugin "+p.name)
		},
		CloseSend: up.closeSend,
	})
	pr.readyMsg = up.ready
	pr.last.Store(link.Nanotime())
	if !h.spawn(func(<-chan struct{}) {
		pr.runErr = pr.conn.Run()
		if pr.closeLink != nil {
			pr.closeLink()
		}
		close(pr.runDone)
	}) {
		if pr.closeLink != nil {
			pr.closeLink()
		}
		killClient(c, cmd)
		return nil, errClosing
	}
	return pr, nil
}

// Link transports, as logged and as proc.transport names them.
const (
	transportSocket = "socket"
	transportGRPC   = "grpc"
)

// linkUp is a transport the plugin answered Hello on.
type linkUp struct {
	stream    pluginrt.Stream
	closeSend func() error
	close     func() // nil when the process's end closes it (gRPC)
	transport string
	ready     *pluginpb.Ready
	err       error
}

// awaitLink waits for the plugin's Ready on the transport it chose: the
// event socket ln, when the plugin connects to it with the token, or the
// Link stream, for a plugin that does not know the socket (or could not
// reach it). A plugin uses one; the first to answer, or to fail, decides.
// Defines that come before Ready go to pr.control.
func (pr *proc) awaitLink(stream pluginpb.Plugin_LinkClient, ln *eventListener, timeout time.Duration) (linkUp, error) {
	results := make(chan linkUp, 2)
	pending := 1
	go func() {
		ready, err := awaitReady(stream, pr.control)
		results <- linkUp{stream: stream, closeSend: stream.CloseSend, transport: transportGRPC, ready: ready, err: err}
	}()
	if ln != nil {
		pending++
		go func() {
			c, err := ln.accept()
			if err != nil {
				results <- linkUp{} // closed: the socket was not taken
				return
			}
			ln.close() // connected: the file goes
			s := pluginrt.NewSocketStream(c)
			s.SetSpin(pr.p.h.cfg.LinkSpin)
			ready, err := awaitReady(s, pr.control)
			results <- linkUp{stream: s, closeSend: s.CloseWrite, close: func() { _ = s.Close() },
				transport: transportSocket, ready: ready, err: err}
		}()
	}
	// drain waits, on a goroutine of its own, for the n transports still
	// to answer and closes the sockets they opened: they answer once the
	// caller has killed the process or closed ln, as it does on every path.
	drain := func(n int) {
		go func() {
			for range n {
				if u := <-results; u.close != nil {
					u.close()
				}
			}
		}()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for pending > 0 {
		select {
		case u := <-results:
			pending--
			if u.stream == nil {
				continue
			}
			drain(pending)
			if u.err != nil {
				if u.close != nil {
					u.close()
				}
				return linkUp{}, fmt.Errorf("on the %s link: %w", u.transport, u.err)
			}
			return u, nil
		case <-timer.C:
			drain(pending)
			return linkUp{}, errors.New("it did not answer hello in time")
		}
	}
	return linkUp{}, errors.New("no link transport answered") // not reached: the stream always does
}

// awaitReady reads frames from s until Ready, handing the config keys
// defined before it to control.
func awaitReady(s pluginrt.Stream, control func(*pluginpb.Frame)) (*pluginpb.Ready, error) {
	for {
		f := new(pluginpb.Frame)
		if err := s.RecvMsg(f); err != nil {
			return nil, err
		}
		if r := f.GetReady(); r != nil {
			return r, nil
		}
		if f.GetBatch() != nil {
			return nil, errors.New("it sent events before ready")
		}
		control(f)
	}
}

func tailSuffix(s *stderrLog) string {
	if t := s.tail(); t != "" {
		return "; stderr: " + t
	}
	return ""
}

// inbound routes an event that came from the process.
func (pr *proc) inbound(ev *sdk.Event) {
	h := pr.p.h
	pr.p.fromPlugin.Add(1)
	if ev.Kind == sdk.KindRequest {
		if len(ev.Route) > 0 {
			ev.Route = ev.Route.Push(pluginrt.UpHop(pr.runtime))
		}
		h.rt.Deliver(ev)
		return
	}
	// An answer is untracked once delivered, not before, so that a
	// stopping node, which waits while plugins hold events (Host.Held) or
	// queues hold them, sees it in one or the other all along. The key is
	// taken first: once delivered, the event is its receiver's.
	k, tracked := keyFor(ev)
	h.rt.Deliver(ev)
	if tracked {
		pr.untrackKey(k)
	}
}

// control handles frames without events: config keys to define.
func (pr *proc) control(f *pluginpb.Frame) {
	h := pr.p.h
	for _, d := range f.Defines {
		if h.cfg.Conf == nil {
			continue
		}
		if !pr.p.owns(d.Key) {
			h.log.Warn("plugin defined a config key outside its services", sdk.KeyPlugin, pr.p.name, "key", d.Key)
			continue
		}
		h.cfg.Conf.Lookup(d.Key, d.Default, d.Description)
	}
}

// exitStatus waits (bounded) for the process to end, killing it when it
// does not, and describes how it ended.
func (pr *proc) exitStatus() string {
	deadline := time.Now().Add(2 * time.Second)
	killed := false
	for !pr.client.Exited() {
		if time.Now().After(deadline) {
			if killed {
				return "did not exit"
			}
			killGroup(pr.cmd) // and any helper of it that holds its stdout open
			killed = true
			deadline = time.Now().Add(2 * time.Second)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := pr.cmd.ProcessState; st != nil {
		return st.String()
	}
	return "exited"
}

// stop ends the process on purpose: it closes the link, lets the plugin
// stop its services and exit, and kills it if it does not within grace.
func (pr *proc) stop(grace time.Duration) {
	pr.stopping.Store(true)
	pr.conn.Close()
	select {
	case <-pr.runDone:
	case <-time.After(grace):
	}
	pr.kill()
}

// kill ends go-plugin's client, which stops the process if it still runs,
// then every process left in the plugin's process group. go-plugin's Kill
// waits for the process's stdout and stderr to close, which a helper the
// plugin started (or a wrapper script's child) would delay for as long as
// it lives: after a few seconds the group is killed, which closes them.
func (pr *proc) kill() {
	done := make(chan struct{})
	go func() {
		pr.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		killGroup(pr.cmd)
		<-done
	}
	killGroup(pr.cmd) // helpers the plugin left behind go with it
}

// killClient kills a process started for its manifest or whose start
// failed, with its whole process group, then go-plugin's client, which
// then need not wait for a helper holding the process's stdout.
func killClient(c *goplugin.Client, cmd *exec.Cmd) {
	killGroup(cmd)
	c.Kill()
}

func (pr *proc) logger() *slog.Logger { return pr.p.h.log.With(sdk.KeyPlugin, pr.p.name) }
