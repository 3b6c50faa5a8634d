package sdk_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

func TestRoutePushPopNeverAliases(t *testing.T) {
	base := sdk.Route{{Kind: sdk.HopService, Name: "A"}}
	r1 := base.Push(sdk.Hop{Kind: sdk.HopService, Name: "B"})
	r2 := base.Push(sdk.Hop{Kind: sdk.HopService, Name: "C"})
	if r1[1].Name != "B" || r2[1].Name != "C" {
		t.Fatalf("pushes share storage: %v %v", r1, r2)
	}
	top, rest, ok := r1.Pop()
	if !ok || top.Name != "B" || len(rest) != 1 {
		t.Fatalf("got %v %v %v", top, rest, ok)
	}
	// Appending to a popped route must not overwrite the original.
	_ = append(rest, sdk.Hop{Kind: sdk.HopService, Name: "X"})
	if r1[1].Name != "B" {
		t.Errorf("append after Pop overwrote the route: %v", r1)
	}
	if _, _, ok := (sdk.Route{}).Pop(); ok {
		t.Error("Pop of an empty route reported ok")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	ev := &sdk.Event{
		Msg: wrapperspb.String("hi"), Kind: sdk.KindRequest, ID: 42, Dst: "Echo",
		Route: sdk.Route{{Kind: sdk.HopService, Name: "A"}, {Kind: sdk.HopLink, ID: 3, Epoch: 9}, {Kind: sdk.HopEndpoint, Name: "p", ID: 5}},
	}
	ev.SetDstNode("127.0.0.1:1")
	env, err := ev.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	env2 := env.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(b, env2); err != nil {
		t.Fatal(err)
	}
	got, err := sdk.FromEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	if got.Decoded() {
		t.Error("payload decoded before the receiver asked")
	}
	if err := got.Decode(); err != nil {
		t.Fatal(err)
	}
	if got.Msg.(*wrapperspb.StringValue).GetValue() != "hi" || got.ID != 42 || got.Dst != "Echo" ||
		got.DstNode() != "127.0.0.1:1" || fmt.Sprint(got.Route) != fmt.Sprint(ev.Route) {
		t.Errorf("got %+v, want %+v", got, ev)
	}
}

func TestErrorEnvelopeKeepsCode(t *testing.T) {
	ev := &sdk.Event{Kind: sdk.KindError, ID: 1, Route: sdk.Route{{Kind: sdk.HopService, Name: "A"}},
		Err: &sdk.DeliveryError{Code: sdk.CodeLinkLost, Message: "gone", EventType: "x.Y", Dst: "n/B"}}
	env, err := ev.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sdk.FromEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(got.Err, sdk.ErrLinkLost) || errors.Is(got.Err, sdk.ErrNoService) {
		t.Errorf("got %v, want only ErrLinkLost", got.Err)
	}
}

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want sdk.Code
	}{
		{"delivery error", sdk.Errorf(sdk.CodeRefused, "no"), sdk.CodeRefused},
		{"wrapped sentinel", fmt.Errorf("x: %w", sdk.ErrQueueFull), sdk.CodeQueueFull},
		{"plain error", errors.New("x"), sdk.CodeHandlerFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sdk.CodeOf(tc.err); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDefinePanicsOnProgrammerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"empty name", func() { sdk.Define("", func() sdk.Service { return nil }) }},
		{"bad name", func() { sdk.Define("a b", func() sdk.Service { return nil }) }},
		{"nil constructor", func() { sdk.Define("A", nil) }},
		{"duplicate handler", func() {
			var m sdk.Mux
			sdk.On(&m, func(sdk.Context, *wrapperspb.StringValue) error { return nil })
			sdk.On(&m, func(sdk.Context, *wrapperspb.StringValue) error { return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

func TestFromEnvelopeRejectsMalformed(t *testing.T) {
	ev := &sdk.Event{Kind: sdk.KindRequest, Dst: "A", Msg: wrapperspb.String("x")}
	good, _ := ev.Envelope()
	for _, tc := range []struct {
		name string
		mut  func()
	}{
		{"request without destination", func() { good.Dst = "" }},
		{"error without error", func() { good.Kind = 2 }},
		{"unknown kind", func() { good.Kind = 9 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := ev.Envelope()
			good = env
			tc.mut()
			if _, err := sdk.FromEnvelope(good); !errors.Is(err, sdk.ErrBadEvent) {
				t.Errorf("got %v, want ErrBadEvent", err)
			}
		})
	}
}

func TestSetDstNodeKeepsCopiesApart(t *testing.T) {
	a := &sdk.Event{Kind: sdk.KindRequest, Dst: "Echo"}
	a.SetDstNode("127.0.0.1:1")
	b := *a // as a forward copies the event it forwards
	b.SetDstNode("127.0.0.1:2")
	c := *a
	c.SetDstNode("127.0.0.1:1") // the address last set before: shared, never written
	c.SetDstNode("")
	if a.DstNode() != "127.0.0.1:1" || b.DstNode() != "127.0.0.1:2" || c.DstNode() != "" {
		t.Errorf("DstNode = %q, %q, %q; want 127.0.0.1:1, 127.0.0.1:2 and empty", a.DstNode(), b.DstNode(), c.DstNode())
	}
}

// TestEventAllocMatchesFromEnvelope: events carved from an EventAlloc's
// blocks are those FromEnvelope makes, and no two share route room: pushing
// the receiving node's hop into one request's route (as Wire.Inbound does)
// leaves every other event as it was, across block boundaries.
func TestEventAllocMatchesFromEnvelope(t *testing.T) {
	hop := func(i int) *mtpb.Hop { return &mtpb.Hop{Kind: mtpb.Hop_LINK, Id: uint64(i), Epoch: 7} }
	var envs []*mtpb.Envelope
	for i := range 300 { // several blocks of each kind
		env := &mtpb.Envelope{Kind: mtpb.Envelope_Kind(i % 3), Id: uint64(i), Dst: "Echo", Type: "google.protobuf.StringValue", Payload: []byte{10, 1, 'x'}}
		for j := range i % 4 {
			env.Route = append(env.Route, hop(i*10+j))
		}
		if env.Kind == mtpb.Envelope_ERROR {
			env.Error = &mtpb.Error{Code: mtpb.Code(sdk.CodeLinkLost), Message: "lost"}
		}
		if i%5 == 0 {
			env.DstNode = "127.0.0.1:1"
		}
		envs = append(envs, env)
	}
	var a sdk.EventAlloc
	var got []*sdk.Event
	for _, env := range envs {
		ev, err := a.FromEnvelope(env)
		if err != nil {
			t.Fatalf("EventAlloc.FromEnvelope(id %d): %v", env.Id, err)
		}
		got = append(got, ev)
		if ev.Kind == sdk.KindRequest {
			ev.Route = append(ev.Route, sdk.Hop{Kind: sdk.HopLink, ID: 999}) // Inbound's push
		}
	}
	for i, env := range envs {
		want, err := sdk.FromEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		if want.Kind == sdk.KindRequest {
			want.Route = append(want.Route, sdk.Hop{Kind: sdk.HopLink, ID: 999})
		}
		ev := got[i]
		if ev.Kind != want.Kind || ev.ID != want.ID || ev.Dst != want.Dst || ev.Type() != want.Type() ||
			ev.DstNode() != want.DstNode() || !slices.Equal(ev.Route, want.Route) || (ev.Err == nil) != (want.Err == nil) {
			t.Fatalf("event %d: got kind %v id %d dst %q type %q node %q route %v err %v; want kind %v id %d dst %q type %q node %q route %v err %v",
				i, ev.Kind, ev.ID, ev.Dst, ev.Type(), ev.DstNode(), ev.Route, ev.Err, want.Kind, want.ID, want.Dst, want.Type(), want.DstNode(), want.Route, want.Err)
		}
		if err := ev.Decode(); err != nil || ev.Msg.(*wrapperspb.StringValue).GetValue() != "x" {
			t.Fatalf("event %d: Decode = %v, payload %v", i, err, ev.Msg)
		}
	}
}

// TestEventAllocTypes: the payload types an EventAlloc looks up ahead of
// Decode give what Decode alone gives, an unknown type included, whatever
// the order of types in the batch.
func TestEventAllocTypes(t *testing.T) {
	var a sdk.EventAlloc
	for i, typ := range []string{"google.protobuf.StringValue", "no.such.Type", "no.such.Type", "google.protobuf.StringValue", "google.protobuf.BytesValue"} {
		ev, err := a.FromEnvelope(&mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Dst: "Echo", Type: typ, Payload: []byte{10, 1, 'x'}})
		if err != nil {
			t.Fatalf("event %d (%s): %v", i, typ, err)
		}
		err = ev.Decode()
		if typ == "no.such.Type" {
			if sdk.CodeOf(err) != sdk.CodeUnknownEvent {
				t.Errorf("event %d (%s): Decode = %v, want an unknown-event error", i, typ, err)
			}
			continue
		}
		if err != nil || string(ev.Msg.ProtoReflect().Descriptor().FullName()) != typ {
			t.Errorf("event %d (%s): Decode = %v, message %T", i, typ, err, ev.Msg)
		}
	}
}
