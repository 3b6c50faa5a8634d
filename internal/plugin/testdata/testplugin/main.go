// Command testplugin is the plugin the plugin host's tests launch.
//
// Services: TEcho (replies with the payload), TInline (the same, Inline),
// Sink (counts; "flush" answers
// the count and ends a CPU profile, "mark" answers it), Hold ("crash" exits with status 7; "hold <dur>" answers after
// dur; anything else is kept unanswered), Version (answers the version set
// with -ldflags -X main.version=...), Conf (answers Conf.greeting), Relay
// (relays the payload to HostEcho on the node), Pair (relays it to TEcho,
// in the same process). With MTTEST_RAW=1 it serves
// a bare Link stream instead, as the benchmarks' baseline; with
// MTTEST_CREDIT=n it grants the host credit for n events only; with
// MTTEST_MUTE=1 it never answers the link's hello. With MTTEST_GRPC_LINK=1
// it ignores the event socket the host offers, as a plugin built before
// the socket existed does; with MTTEST_BAD_TOKEN=1 it first connects to the
// socket with a wrong token and says on stderr whether the host hung up;
// with MTTEST_GARBAGE=1, Hold's "garbage" makes it write a frame that does
// not decode instead of the next one.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/plugin"
)

var version = "v1"

func str(ev *sdk.Event) string {
	if s, ok := ev.Msg.(*wrapperspb.StringValue); ok {
		return s.Value
	}
	return ""
}

type sink struct{ n int64 }

func (s *sink) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind != sdk.KindRequest {
		return nil
	}
	if str(ev) == "mark" { // the benchmark's flow-control window
		c.Reply(wrapperspb.String(strconv.FormatInt(s.n, 10)))
		return nil
	}
	if str(ev) == "flush" {
		if s.n > 0 {
			pprof.StopCPUProfile()
		}
		c.Reply(wrapperspb.String(strconv.FormatInt(s.n, 10)))
		return nil
	}
	s.n++
	return nil
}

type hold struct{ kept []*sdk.Event }

func (h *hold) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind != sdk.KindRequest {
		return nil
	}
	cmd := str(ev)
	switch {
	case cmd == "crash":
		// Straight to fd 2, as a runtime panic writes.
		fmt.Fprintln(os.NewFile(2, "stderr"), "testplugin: crashing on request")
		os.Exit(7)
	case cmd == "garbage":
		garbage.Store(true)
		c.Reply(wrapperspb.String("garbage"))
	case strings.HasPrefix(cmd, "hold "):
		d, _ := time.ParseDuration(strings.TrimPrefix(cmd, "hold "))
		hd := c.Handle()
		c.Go(func(ctx context.Context) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				hd.ReplyTo(ev, wrapperspb.String("held "+version))
			case <-ctx.Done():
			}
		})
	default:
		h.kept = append(h.kept, ev)
	}
	return nil
}

type conf struct{ greeting string }

func (s *conf) Start(c sdk.Context) error {
	s.greeting = c.Config().String("greeting", "hello", "what Conf answers")
	c.Config().Int("other", 42, "a key the node's file does not have yet")
	return nil
}

func (s *conf) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind == sdk.KindRequest {
		c.Reply(wrapperspb.String(s.greeting))
	}
	return nil
}

func relay(c sdk.Context, ev *sdk.Event) error {
	switch ev.Kind {
	case sdk.KindRequest:
		switch ev.Dst {
		case "Relay":
			c.Relay(sdk.To("HostEcho"), ev.Msg)
		case "Pair":
			c.Relay(sdk.To("TEcho"), ev.Msg)
		}
	case sdk.KindReply:
		c.Reply(ev.Msg)
	case sdk.KindError:
		c.Fail(ev, ev.Err)
	}
	return nil
}

func main() {
	if path := os.Getenv("MTTEST_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f) // stopped by Sink's "flush"
		}
	}
	if os.Getenv("MTTEST_RAW") == "1" {
		pluginrt.ServeServer(&raw{done: make(chan struct{})})
		return
	}
	specs := []sdk.Spec{
		sdk.Define("TEcho", func() sdk.Service {
			return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
				if ev.Kind == sdk.KindRequest {
					c.Reply(ev.Msg)
				}
				return nil
			})
		}, sdk.Accepts(&wrapperspb.StringValue{})),
		// TInline is TEcho declared Inline, as mt-demo's Echo is: it runs
		// on the link reader's goroutine.
		sdk.Define("TInline", func() sdk.Service {
			return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
				if ev.Kind == sdk.KindRequest {
					c.Reply(ev.Msg)
				}
				return nil
			})
		}, sdk.Accepts(&wrapperspb.StringValue{}), sdk.Inline()),
		sdk.Define("Sink", func() sdk.Service { return new(sink) }),
		sdk.Define("Hold", func() sdk.Service { return new(hold) }),
		sdk.Define("Version", func() sdk.Service {
			return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
				if ev.Kind == sdk.KindRequest {
					c.Reply(wrapperspb.String(version))
				}
				return nil
			})
		}),
		sdk.Define("Conf", func() sdk.Service { return new(conf) }),
		sdk.Define("Quiet", func() sdk.Service { return new(quiet) }),
		sdk.Define("Relay", func() sdk.Service { return sdk.HandlerFunc(relay) }),
		sdk.Define("Pair", func() sdk.Service { return sdk.HandlerFunc(relay) }),
	}
	if os.Getenv("MTTEST_MUTE") == "1" {
		pluginrt.ServeServer(&mute{pluginrt.NewServer(specs, os.Stderr)})
		return
	}
	srv := pluginrt.NewServer(specs, os.Stderr)
	if n := os.Getenv("MTTEST_CREDIT"); n != "" {
		credit, _ := strconv.Atoi(n)
		srv.WrapStream = func(s pluginrt.Stream) pluginrt.Stream { return stingyStream{s, uint32(credit)} }
	}
	if os.Getenv("MTTEST_GARBAGE") == "1" {
		srv.WrapStream = func(s pluginrt.Stream) pluginrt.Stream { return trap{s} }
	}
	var hellos []func(*pluginpb.Hello)
	if os.Getenv("MTTEST_BAD_TOKEN") == "1" {
		hellos = append(hellos, badToken)
	}
	if os.Getenv("MTTEST_GRPC_LINK") == "1" {
		hellos = append(hellos, func(h *pluginpb.Hello) { h.EventSocket, h.EventToken = "", nil })
	}
	switch {
	case len(hellos) > 0:
		pluginrt.ServeServer(&helloFilter{Server: srv, filters: hellos})
	case srv.WrapStream != nil:
		pluginrt.ServeServer(srv)
	default:
		plugin.Serve(specs...) // as a plugin's main does
	}
}

// helloFilter passes the host's Hello through filters before the runtime
// sees it.
type helloFilter struct {
	*pluginrt.Server
	filters []func(*pluginpb.Hello)
}

func (h *helloFilter) Link(st pluginpb.Plugin_LinkServer) error {
	return h.Server.Link(filteredStream{st, h.filters})
}

type filteredStream struct {
	pluginpb.Plugin_LinkServer
	filters []func(*pluginpb.Hello)
}

func (s filteredStream) Recv() (*pluginpb.Frame, error) {
	f, err := s.Plugin_LinkServer.Recv()
	if hello := f.GetHello(); hello != nil {
		for _, filter := range s.filters {
			filter(hello)
		}
	}
	return f, err
}

// badToken connects to the event socket with a wrong token and reports on
// stderr whether the host hung up.
func badToken(h *pluginpb.Hello) {
	say := func(s string) { fmt.Fprintln(os.Stderr, "testplugin: wrong token "+s) }
	if h.EventSocket == "" {
		say("not tried: no event socket offered")
		return
	}
	c, err := net.Dial("unix", h.EventSocket)
	if err != nil {
		say("not tried: " + err.Error())
		return
	}
	defer c.Close()
	if _, err := c.Write(make([]byte, pluginrt.TokenSize)); err != nil {
		say("not written: " + err.Error())
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == io.EOF {
		say("refused: the host hung up")
	} else {
		say(fmt.Sprintf("not refused: %v", err))
	}
}

// garbage is set by Hold's "garbage": the next frame trap writes is one
// that does not decode.
var garbage atomic.Bool

type trap struct{ pluginrt.Stream }

func (t trap) SendMsg(m any) error {
	if !garbage.Load() {
		return t.Stream.SendMsg(m)
	}
	if bufs, err := (link.Codec{}).Marshal(m); err == nil {
		bufs.Free() // the frame it replaces
	}
	buf := link.BufferPool().Get(16)
	for i := range *buf {
		(*buf)[i] = 0xff
	}
	return t.Stream.SendMsg(link.NewEncoded(buf))
}

// mute completes the handshake and answers Manifest, but never answers
// the link's hello.
type mute struct{ *pluginrt.Server }

func (m *mute) Link(st pluginpb.Plugin_LinkServer) error {
	<-st.Context().Done()
	return nil
}

// stingyStream grants the host credit for a few events and never returns
// any, so that what the host sends next waits in its link's queue.
type stingyStream struct {
	pluginrt.Stream
	credit uint32
}

// SendMsg is what the link's Conn calls: with control frames, and with
// batches it encoded itself, which are decoded here to take their credit
// out.
func (s stingyStream) SendMsg(m any) error {
	f, err := pluginrt.FrameOf(m)
	if err != nil {
		return err
	}
	if f.Ready != nil {
		f.Ready.Credit = s.credit
	}
	if f.Batch != nil {
		f.Batch.Credit = 0
	}
	return s.Stream.SendMsg(f)
}

// raw is a bare Link server: a frame with credit 1 is echoed, a frame with
// credit 2 is answered with the number of envelopes received before it.
type raw struct {
	pluginpb.UnimplementedPluginServer
	done chan struct{}
}

func (r *raw) Done() <-chan struct{} { return r.done }

func (r *raw) Manifest(context.Context, *pluginpb.ManifestRequest) (*pluginpb.PluginManifest, error) {
	return &pluginpb.PluginManifest{Services: []*pluginpb.Service{{Name: "Raw"}}}, nil
}

func (r *raw) Link(s pluginpb.Plugin_LinkServer) error {
	n := 0
	for {
		f, err := s.Recv()
		if err != nil {
			return nil
		}
		switch f.GetBatch().GetCredit() {
		case 1:
			err = s.Send(f)
		case 2:
			err = s.Send(&pluginpb.Frame{Batch: &mtpb.Batch{Credit: uint32(n)}})
		default:
			n += len(f.GetBatch().GetEnvelopes())
		}
		if err != nil {
			return err
		}
	}
}

// quiet answers every request with "running", or "quiesced" once the node
// has asked it to quiesce (sdk.Quiescer).
type quiet struct{ quiesced bool }

func (q *quiet) Quiesce(sdk.Context) { q.quiesced = true }

func (q *quiet) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind == sdk.KindRequest {
		state := "running"
		if q.quiesced {
			state = "quiesced"
		}
		c.Reply(wrapperspb.String(state))
	}
	return nil
}
