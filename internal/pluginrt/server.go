package pluginrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// stopTimeout bounds the drain of the plugin's services when its link ends.
const stopTimeout = 5 * time.Second

// dialTimeout bounds the connection to the host's event socket.
const dialTimeout = 5 * time.Second

// Server is the plugin side of the Plugin service: it answers Manifest and
// runs the plugin's services in a core.Node for the one Link the host
// opens.
type Server struct {
	pluginpb.UnimplementedPluginServer

	specs  []sdk.Spec
	stderr io.Writer

	// WrapStream, when set, wraps the link's stream, socket or gRPC, before
	// the Conn uses it: test plugins misbehave through it.
	WrapStream func(Stream) Stream

	mu     sync.Mutex
	linked bool
	done   chan struct{}
}

// NewServer returns a server for specs. Logs are written to stderr in
// hclog's JSON form, which the host parses and re-logs.
func NewServer(specs []sdk.Spec, stderr io.Writer) *Server {
	return &Server{specs: specs, stderr: stderr, done: make(chan struct{})}
}

// Done is closed when the link has ended and the services have stopped:
// the process should exit.
func (s *Server) Done() <-chan struct{} { return s.done }

// Manifest implements pluginpb.PluginServer: the services and the event
// types they take.
func (s *Server) Manifest(context.Context, *pluginpb.ManifestRequest) (*pluginpb.PluginManifest, error) {
	m := &pluginpb.PluginManifest{}
	for _, sp := range s.specs {
		m.Services = append(m.Services, &pluginpb.Service{Name: sp.Name, EventTypes: sp.EventTypes()})
	}
	return m, nil
}

// Link implements pluginpb.PluginServer. The first frame must carry Hello.
// When Hello offers an event socket, the link's frames go over it from then
// on, and the stream only marks the link's lifetime; when the socket cannot
// be reached they stay on the stream, as with a host that offers none. The
// services run until the host ends the link; then they are stopped and Done
// is closed.
func (s *Server) Link(stream pluginpb.Plugin_LinkServer) error {
	s.mu.Lock()
	if s.linked {
		s.mu.Unlock()
		return errors.New("pluginrt: a link is already open; a plugin process serves one host")
	}
	s.linked = true
	s.mu.Unlock()
	defer close(s.done)

	f, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("pluginrt: reading hello: %w", err)
	}
	hello := f.GetHello()
	if hello == nil {
		return errors.New("pluginrt: the first frame of a link must carry hello")
	}
	log := slog.New(NewLogHandler(s.stderr, slog.Level(hello.LogLevel)))

	var link Stream = stream
	if hello.EventSocket != "" {
		sock, err := DialEventSocket(hello.EventSocket, hello.EventToken, dialTimeout)
		if err != nil {
			// The host reads Ready from whichever transport it comes on.
			log.Warn("events go over the gRPC link stream", sdk.KeyErr, err)
		} else {
			defer sock.Close()
			linkDone := make(chan struct{})
			defer close(linkDone)
			go func() {
				// The host's gRPC connection going away (go-plugin's
				// shutdown) ends the link too.
				select {
				case <-stream.Context().Done():
					sock.Close()
				case <-linkDone:
				}
			}()
			link = sock
		}
	}
	if s.WrapStream != nil {
		link = s.WrapStream(link)
	}

	var conn *Conn
	up := &upLink{}
	conf := newConfig(hello.Config, func(d *pluginpb.Define) {
		_ = conn.SendControl(&pluginpb.Frame{Defines: []*pluginpb.Define{d}})
	})
	node, err := core.New(core.Config{
		Name: hello.Name, Services: s.specs, Start: hello.Start, Logger: log,
		Conf: conf.section, Runtime: hello.Name, NoAdmin: true,
	})
	if err != nil {
		return fmt.Errorf("pluginrt: building the runtime: %w", err)
	}
	rt := node.Router()
	hostHop := UpHop("")
	// Requests for the plugin's services gather per frame, queued a run
	// at a time rather than one lock and wake-up each.
	inbox := node.NewInbox()
	conn = NewConn(link, ConnConfig{
		Name:   "host link",
		Credit: hello.Credit,
		Deliver: func(ev *sdk.Event) {
			if ev.Kind == sdk.KindRequest {
				if len(ev.Route) > 0 {
					ev.Route = ev.Route.Push(hostHop)
				}
				if ev.DstNode() == "" && !node.Has(ev.Dst) {
					// Never send it back up: the host routed it here.
					inbox.Flush()
					rt.Fail(ev, sdk.CodeNoService, fmt.Sprintf("plugin %s does not hold service %q", hello.Name, ev.Dst), hello.Name)
					return
				}
				if inbox.Deliver(ev) {
					return
				}
			}
			inbox.Flush()
			rt.Deliver(ev)
		},
		Delivered: inbox.Flush,
		Failed:    func(ev *sdk.Event, err error) { rt.Fail(ev, sdk.CodeOf(err), err.Error(), hello.Name) },
		Control: func(f *pluginpb.Frame) {
			if f.GetQuiesce() != nil {
				node.Quiesce() // the node is stopping; events flow until the link ends
			}
		},
	})
	up.conn = conn
	rt.SetUpstream(up)
	rt.SetCarrier(up)

	ready := &pluginpb.Ready{Credit: DefaultWindow, Pid: int64(os.Getpid()), StartErrors: map[string]string{}}
	for _, sp := range s.specs {
		ready.Services = append(ready.Services, sp.Name)
	}
	ctx, cancel := context.WithTimeout(stream.Context(), 30*time.Second)
	if err := node.Start(ctx, nil); err != nil {
		ready.StartErrors["Start"] = err.Error()
	}
	cancel()
	_ = conn.SendControl(&pluginpb.Frame{Ready: ready})

	err = conn.Run()
	// What the services sent up and the link never carried: requests get
	// an error event (their senders are here), the rest are counted and
	// logged by the router.
	for _, ev := range conn.Abandoned() {
		rt.Fail(ev, sdk.CodeLinkLost, "pluginrt: the link to the host ended before the event was sent", hello.Name)
	}
	sctx, scancel := context.WithTimeout(context.Background(), stopTimeout)
	defer scancel()
	if serr := node.Stop(sctx); serr != nil {
		log.Warn("services did not stop cleanly", sdk.KeyErr, serr)
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// upLink is the plugin router's way to the host: services this process
// does not hold, replies whose route continues on the host, and requests
// for other nodes.
type upLink struct{ conn *Conn }

func (u *upLink) Send(ev *sdk.Event) error  { return u.conn.Send(ev) }
func (u *upLink) Carry(ev *sdk.Event) error { return u.conn.Send(ev) }
func (u *upLink) Name() string              { return "host" }

// Serve runs a plugin process holding specs and never returns: it serves
// go-plugin's handshake and the Plugin service, and exits when the host
// ends the link, when the host process dies (its parent pid changes), or
// when go-plugin is told to stop. Run without a host, it prints go-plugin's
// "this binary is a plugin" notice and exits with status 1.
func Serve(specs []sdk.Spec) {
	ServeServer(NewServer(specs, os.Stderr))
}

// ServeServer is Serve with a custom server (tests wrap Server to build
// misbehaving plugins).
func ServeServer(srv interface {
	pluginpb.PluginServer
	Done() <-chan struct{}
}) {
	stderr := os.Stderr // go-plugin swaps os.Stderr for a pipe; keep the real one
	gctune.Start(gctune.FloorFromEnv())
	hs := Handshake()
	if os.Getenv(hs.MagicCookieKey) == hs.MagicCookieValue {
		go watchParent(os.Getppid(), 100*time.Millisecond)
		go func() {
			<-srv.Done()
			os.Exit(0)
		}()
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         PluginSet(srv),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize),
				grpc.InitialWindowSize(StreamWindow), grpc.InitialConnWindowSize(StreamWindow),
				grpc.ForceServerCodecV2(link.Codec{})) // the Conn writes encoded frames
			return grpc.NewServer(opts...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Output: stderr, JSONFormat: true, Level: hclog.Warn}),
	})
	os.Exit(0)
}

// watchParent exits the process when its parent (the node) is gone: an
// orphan is re-parented, so its parent pid changes. On Linux the host also
// sets a parent-death signal; this covers the other systems and a host that
// died between fork and exec.
func watchParent(ppid int, every time.Duration) {
	if ppid <= 1 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			os.Exit(3)
		}
	}
}
