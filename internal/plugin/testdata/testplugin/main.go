// Command testplugin is the plugin the plugin host's tests launch.
//
// Services: TEcho (replies with the payload), Sink (counts; "flush" answers
// the count), Hold ("crash" exits with status 7; "hold <dur>" answers after
// dur; anything else is kept unanswered), Version (answers the version set
// with -ldflags -X main.version=...), Conf (answers Conf.greeting), Relay
// (relays the payload to HostEcho on the node), Pair (relays it to TEcho,
// in the same process). With MTTEST_RAW=1 it serves
// a bare Link stream instead, as the benchmarks' baseline; with
// MTTEST_CREDIT=n it grants the host credit for n events only; with
// MTTEST_MUTE=1 it never answers the link's hello.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/pluginrt"
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
		sdk.Define("Relay", func() sdk.Service { return sdk.HandlerFunc(relay) }),
		sdk.Define("Pair", func() sdk.Service { return sdk.HandlerFunc(relay) }),
	}
	if os.Getenv("MTTEST_MUTE") == "1" {
		pluginrt.ServeServer(&mute{pluginrt.NewServer(specs, os.Stderr)})
		return
	}
	if n := os.Getenv("MTTEST_CREDIT"); n != "" {
		credit, _ := strconv.Atoi(n)
		pluginrt.ServeServer(&stingy{Server: pluginrt.NewServer(specs, os.Stderr), credit: uint32(credit)})
		return
	}
	plugin.Serve(specs...)
}

// mute completes the handshake and answers Manifest, but never answers
// the link's hello.
type mute struct{ *pluginrt.Server }

func (m *mute) Link(st pluginpb.Plugin_LinkServer) error {
	<-st.Context().Done()
	return nil
}

// stingy grants the host credit for a few events and never returns any, so
// that what the host sends next waits in its link's queue.
type stingy struct {
	*pluginrt.Server
	credit uint32
}

func (s *stingy) Link(st pluginpb.Plugin_LinkServer) error {
	return s.Server.Link(stingyStream{st, s.credit})
}

type stingyStream struct {
	pluginpb.Plugin_LinkServer
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
	return s.Plugin_LinkServer.SendMsg(f)
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
