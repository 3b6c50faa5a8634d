package router

import (
	"errors"
	"sync"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

// fakeLocal records what the router hands to local services and endpoints.
type fakeLocal struct {
	mu        sync.Mutex
	services  map[string][]*sdk.Event
	endpoints map[uint64][]*sdk.Event
	known     map[string]bool
	refuse    error
}

func newLocal(names ...string) *fakeLocal {
	l := &fakeLocal{services: map[string][]*sdk.Event{}, endpoints: map[uint64][]*sdk.Event{}, known: map[string]bool{}}
	for _, n := range names {
		l.known[n] = true
	}
	return l
}

func (l *fakeLocal) Enqueue(name string, ev *sdk.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known[name] {
		return sdk.ErrNoService
	}
	if l.refuse != nil {
		return l.refuse
	}
	l.services[name] = append(l.services[name], ev)
	return nil
}

func (l *fakeLocal) Endpoint(id uint64, ev *sdk.Event) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == 0 {
		return false
	}
	l.endpoints[id] = append(l.endpoints[id], ev)
	return true
}

func (l *fakeLocal) Suggest(name string) string { return "" }

type fakeLink struct {
	name string
	got  []*sdk.Event
	err  error
}

func (f *fakeLink) Send(ev *sdk.Event) error {
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, ev)
	return nil
}
func (f *fakeLink) Name() string { return f.name }

var ep7 = sdk.Route{{Kind: sdk.HopEndpoint, ID: 7}}

func req(dst string, route sdk.Route) *sdk.Event {
	return &sdk.Event{Kind: sdk.KindRequest, Dst: dst, ID: 1, Msg: wrapperspb.String("x"), Route: route}
}

func lastErr(t *testing.T, l *fakeLocal, id uint64) *sdk.DeliveryError {
	t.Helper()
	evs := l.endpoints[id]
	if len(evs) == 0 {
		t.Fatalf("no event at endpoint %d", id)
	}
	ev := evs[len(evs)-1]
	if ev.Kind != sdk.KindError {
		t.Fatalf("got a %v, want an error event", ev.Kind)
	}
	return ev.Err
}

func TestRequestToLocalPluginAndNowhere(t *testing.T) {
	l := newLocal("A")
	r := New(l, "", 1, nil)
	plug := &fakeLink{name: "plugin p"}
	r.SetService("B", plug)

	r.Deliver(req("A", ep7))
	r.Deliver(req("B", ep7))
	r.Deliver(req("C", ep7))
	if len(l.services["A"]) != 1 || len(plug.got) != 1 {
		t.Fatalf("got local=%d plugin=%d, want 1 and 1", len(l.services["A"]), len(plug.got))
	}
	if err := lastErr(t, l, 7); !errors.Is(err, sdk.ErrNoService) || err.Dst != "C" {
		t.Errorf("got %v, want ErrNoService for C", err)
	}
}

func TestLinkFailureComesBack(t *testing.T) {
	l := newLocal()
	r := New(l, "", 1, nil)
	r.SetService("B", &fakeLink{name: "plugin p", err: &sdk.DeliveryError{Code: sdk.CodePluginCrashed, Message: "boom"}})
	r.Deliver(req("B", ep7))
	if err := lastErr(t, l, 7); !errors.Is(err, sdk.ErrPluginCrashed) || err.Hop != "plugin p" {
		t.Errorf("got %+v, want ErrPluginCrashed at plugin p", err)
	}
}

func TestReplyPopsLinkHopWithEpoch(t *testing.T) {
	l := newLocal()
	r := New(l, "", 5, nil)
	link := &fakeLink{name: "node x"}
	id := r.AddLink(link)
	for _, tc := range []struct {
		name    string
		epoch   uint64
		wantErr error
	}{
		{"this incarnation", 5, nil},
		{"previous incarnation", 4, sdk.ErrNodeRestarted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(link.got)
			// A request whose reply must cross the link and then reach endpoint 7.
			rq := req("A", sdk.Route{{Kind: sdk.HopEndpoint, ID: 7}, {Kind: sdk.HopLink, ID: id, Epoch: tc.epoch}})
			// Failing it makes an error event that pops the link hop.
			r.Fail(rq, sdk.CodeHandlerFailed, "x", "")
			switch {
			case tc.wantErr == nil && len(link.got) != before+1:
				t.Errorf("reply not sent on the link")
			case tc.wantErr != nil && len(link.got) != before:
				t.Errorf("stale reply sent on the link")
			case tc.wantErr != nil && r.Undeliverable.Load() == 0:
				t.Errorf("stale reply not counted")
			}
		})
	}
	r.RemoveLink(id)
	rq := req("A", sdk.Route{{Kind: sdk.HopLink, ID: id, Epoch: 5}})
	before := r.Undeliverable.Load()
	r.Fail(rq, sdk.CodeHandlerFailed, "x", "")
	if r.Undeliverable.Load() != before+1 {
		t.Error("reply to a removed link not counted as undeliverable")
	}
}

func TestInboundPushesLinkAndRefusesLoops(t *testing.T) {
	l := newLocal("A")
	r := New(l, "", 3, nil)
	link := &fakeLink{name: "node x"}
	id := r.AddLink(link)
	r.Inbound(id, req("A", sdk.Route{{Kind: sdk.HopService, Name: "Remote"}}))
	got := l.services["A"][0].Route
	if top, _, _ := got.Pop(); top.Kind != sdk.HopLink || top.ID != id || top.Epoch != 3 {
		t.Fatalf("got top hop %v, want link %d epoch 3", top, id)
	}
	long := make(sdk.Route, sdk.MaxRoute)
	for i := range long {
		long[i] = sdk.Hop{Kind: sdk.HopService, Name: "L"}
	}
	r.Inbound(id, req("A", long))
	if len(l.services["A"]) != 1 {
		t.Fatal("a looping request was delivered")
	}
	if len(link.got) != 1 || link.got[0].Kind != sdk.KindError || !errors.Is(link.got[0].Err, sdk.ErrRouteTooLong) {
		t.Fatalf("got %v on the link, want one ErrRouteTooLong error event", link.got)
	}
}

// TestInboundPushesIntoRoom: a request from sdk.FromEnvelope gets the link
// hop in the room its route was made with, with or without hops of its own;
// two events from one envelope do not share that room, and the pushed route
// is full, so a later push copies it.
func TestInboundPushesIntoRoom(t *testing.T) {
	l := newLocal("A")
	r := New(l, "", 3, nil)
	id := r.AddLink(&fakeLink{name: "node x"})
	for _, route := range [][]*mtpb.Hop{nil, {{Kind: mtpb.Hop_SERVICE, Name: "Remote"}}} {
		env := &mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Dst: "A", Type: "google.protobuf.StringValue", Route: route}
		a, err := sdk.FromEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		b, err := sdk.FromEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		before := a.Route[:cap(a.Route)]
		r.Inbound(id, a)
		r.Inbound(id+1, b) // no such link: the hop is pushed all the same
		n := len(route)
		if len(a.Route) != n+1 || cap(a.Route) != n+1 || &a.Route[n] != &before[n] {
			t.Errorf("%d hops: route %v (cap %d) not pushed in place", n, a.Route, cap(a.Route))
		}
		if a.Route[n].ID != id || b.Route[n].ID != id+1 {
			t.Errorf("%d hops: got top hops %v and %v, want links %d and %d", n, a.Route[n], b.Route[n], id, id+1)
		}
		if p := a.Route.Push(sdk.Hop{Kind: sdk.HopService, Name: "X"}); &p[0] == &a.Route[0] {
			t.Errorf("%d hops: a push after Inbound shares the route", n)
		}
	}
}

func TestRemoteRequests(t *testing.T) {
	l := newLocal("A")
	r := New(l, "", 1, nil)
	remote := req("A", ep7)
	remote.SetDstNode("10.0.0.1:10100")
	r.Deliver(remote)
	if err := lastErr(t, l, 7); !errors.Is(err, sdk.ErrNoService) {
		t.Fatalf("no carrier: got %v, want ErrNoService", err)
	}
	var carried []*sdk.Event
	r.SetCarrier(carrierFunc(func(ev *sdk.Event) error { carried = append(carried, ev); return nil }))
	r.Deliver(remote)
	if len(carried) != 1 {
		t.Fatal("request not handed to the carrier")
	}
	r.SetSelfAddrs([]string{"10.0.0.1:10100"})
	self := req("A", ep7)
	self.SetDstNode("10.0.0.1:10100")
	r.Deliver(self)
	if len(l.services["A"]) != 1 {
		t.Fatal("request to one of this node's addresses not delivered locally")
	}
}

func TestUpstreamTakesUnknownAndRemote(t *testing.T) {
	l := newLocal("A")
	r := New(l, "p", 1, nil)
	up := &fakeLink{name: "host"}
	r.SetUpstream(up)
	r.Deliver(req("Elsewhere", ep7))
	remote := req("A", ep7)
	remote.SetDstNode("10.0.0.1:1")
	r.Deliver(remote)
	if len(up.got) != 2 {
		t.Fatalf("got %d events upstream, want 2", len(up.got))
	}
	// A reply to an endpoint of another runtime also goes upstream.
	r.Deliver(&sdk.Event{Kind: sdk.KindReply, Route: sdk.Route{{Kind: sdk.HopEndpoint, Name: "", ID: 3}}})
	if len(up.got) != 3 {
		t.Fatalf("reply to the host's endpoint not sent upstream")
	}
}

func TestQueueFullBecomesErrorEvent(t *testing.T) {
	l := newLocal("A")
	l.refuse = &sdk.DeliveryError{Code: sdk.CodeQueueFull, Message: "queue is full"}
	r := New(l, "", 1, nil)
	r.Deliver(req("A", ep7))
	if err := lastErr(t, l, 7); !errors.Is(err, sdk.ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
}

// TestSharedRefusalKeepsEachEventsDetails: a queue returns one shared
// *sdk.DeliveryError for every refusal; each error event must still name its
// own event type and destination, and the shared error must not change.
func TestSharedRefusalKeepsEachEventsDetails(t *testing.T) {
	l := newLocal("A", "B")
	shared := &sdk.DeliveryError{Code: sdk.CodeQueueFull, Message: "queue is full"}
	l.refuse = shared
	r := New(l, "node1", 1, nil)
	r.Deliver(req("A", sdk.Route{{Kind: sdk.HopEndpoint, Name: "node1", ID: 7}}))
	b := req("B", sdk.Route{{Kind: sdk.HopEndpoint, Name: "node1", ID: 8}})
	b.Msg = wrapperspb.Int64(1)
	r.Deliver(b)
	if got := lastErr(t, l, 7); got.Dst != "A" || got.EventType != "google.protobuf.StringValue" || got.Hop != "node1" {
		t.Errorf("first: got dst %q type %q hop %q, want A, google.protobuf.StringValue, node1", got.Dst, got.EventType, got.Hop)
	}
	if got := lastErr(t, l, 8); got.Dst != "B" || got.EventType != "google.protobuf.Int64Value" {
		t.Errorf("second: got dst %q type %q, want B, google.protobuf.Int64Value", got.Dst, got.EventType)
	}
	if shared.Dst != "" || shared.EventType != "" || shared.Hop != "" {
		t.Errorf("the shared error was changed: %+v", shared)
	}
}

// TestReplyReportsRefusal: Reply returns a refusal to its caller (who keeps
// the data) instead of dropping it; Deliver drops and counts it.
func TestReplyReportsRefusal(t *testing.T) {
	l := newLocal("A")
	l.refuse = &sdk.DeliveryError{Code: sdk.CodeQueueFull, Message: "queue is full"}
	r := New(l, "", 1, nil)
	rep := func() *sdk.Event {
		return &sdk.Event{Kind: sdk.KindReply, ID: 1, Msg: wrapperspb.String("x"), Route: sdk.Route{{Kind: sdk.HopService, Name: "A"}}}
	}
	if err := r.Reply(rep()); !errors.Is(err, sdk.ErrQueueFull) {
		t.Fatalf("Reply: got %v, want ErrQueueFull", err)
	}
	if n := r.Undeliverable.Load(); n != 0 {
		t.Fatalf("Reply counted %d undeliverable, want 0: the caller still holds the event", n)
	}
	r.Deliver(rep())
	if n := r.Undeliverable.Load(); n != 1 {
		t.Fatalf("Deliver counted %d undeliverable, want 1", n)
	}
	l.refuse = nil
	if err := r.Reply(rep()); err != nil || len(l.services["A"]) != 1 {
		t.Fatalf("Reply: got %v and %d delivered, want nil and 1", err, len(l.services["A"]))
	}
	if err := r.Reply(&sdk.Event{Kind: sdk.KindReply, Route: sdk.Route{{Kind: sdk.HopLink, ID: 9, Epoch: 1}}}); !errors.Is(err, sdk.ErrLinkLost) {
		t.Fatalf("Reply over a gone link: got %v, want ErrLinkLost", err)
	}
}

type carrierFunc func(*sdk.Event) error

func (f carrierFunc) Carry(ev *sdk.Event) error { return f(ev) }

// TestFailRouteless: a request with no route (a one-way event) that fails
// is counted once as failed and once as undeliverable, and nothing else.
func TestFailRouteless(t *testing.T) {
	r := New(newLocal(), "", 1, nil)
	r.Fail(req("Gone", nil), sdk.CodePluginCrashed, "plugin crashed", "plugin p")
	if got, want := r.Failed.Load(), uint64(1); got != want {
		t.Errorf("Failed: got %d, want %d", got, want)
	}
	if got, want := r.Undeliverable.Load(), uint64(1); got != want {
		t.Errorf("Undeliverable: got %d, want %d", got, want)
	}
}
