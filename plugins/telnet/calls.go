package telnet

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
	"google.golang.org/protobuf/proto"
)

// calls sends typed commands to their services through one endpoint and
// hands each answer to the session waiting for it. Sessions call send from
// their goroutines; the endpoint calls deliver from whichever goroutine
// delivers the answer, possibly inside send itself (a request that fails
// at once), so an answer may arrive before send has recorded its id.
type calls struct {
	ep      sdk.Endpoint
	tree    *console.Tree
	timeout time.Duration // entries older than this are swept
	now     func() time.Time
	gone    func(owner string, err error) // the owner's commands were dropped

	mu      sync.Mutex
	waiting map[uint64]waiter // request id → session waiting
	early   map[uint64]early  // answers that beat send's bookkeeping
}

// early is an answer that arrived before send recorded its request; send
// claims it at once. One left unclaimed (a second answer to one command)
// is swept with the waiters.
type early struct {
	ev *sdk.Event
	at time.Time
}

// waiter is a session waiting for the answer to one command.
type waiter struct {
	owner string // the service asked
	path  string
	reply func(string)
	since time.Time
	// format renders the answer of a built-in that asks a service (see
	// ask); nil for a registered command, whose answer is an Output.
	format func(ev *sdk.Event) string
}

func newCalls(tree *console.Tree, timeout time.Duration, now func() time.Time, gone func(string, error)) *calls {
	return &calls{
		tree:    tree,
		timeout: timeout,
		now:     now,
		gone:    gone,
		waiting: make(map[uint64]waiter),
		early:   make(map[uint64]early),
	}
}

// handler returns the console handler of a command registered by owner.
func (cs *calls) handler(owner string) console.Handler {
	return console.HandlerFunc(func(call *console.Call, reply func(string)) {
		cs.send(owner, call, reply)
	})
}

// send delivers call to owner as a telnetpb.Command request.
func (cs *calls) send(owner string, call *console.Call, reply func(string)) {
	cmd := &telnetpb.Command{Path: call.Path, Line: call.Line, Session: call.Session, Dir: call.Dir}
	for _, a := range call.Args {
		cmd.Args = append(cmd.Args, &telnetpb.Arg{Name: a.Name, Value: a.Value})
	}
	cs.wait(sdk.To(owner), cmd, waiter{owner: owner, path: call.Path, reply: reply, since: cs.now()})
}

// ask sends msg to service for a built-in command and prints format's
// rendering of the answer, reply or error event, when it comes.
func (cs *calls) ask(service string, msg proto.Message, call *console.Call, reply func(string), format func(ev *sdk.Event) string) {
	cs.wait(sdk.To(service), msg, waiter{owner: service, path: call.Path, reply: reply, since: cs.now(), format: format})
}

// wait sends msg to to and records w as waiting for the answer.
func (cs *calls) wait(to sdk.Addr, msg proto.Message, w waiter) {
	id := cs.ep.Send(to, msg)

	cs.mu.Lock()
	e, answered := cs.early[id]
	delete(cs.early, id)
	if !answered {
		cs.sweep(w.since)
		cs.waiting[id] = w
	}
	cs.mu.Unlock()
	if answered {
		cs.finish(w, e.ev)
	}
}

// deliver is the endpoint's function: an answer or an error event.
func (cs *calls) deliver(ev *sdk.Event) {
	cs.mu.Lock()
	w, ok := cs.waiting[ev.ID]
	delete(cs.waiting, ev.ID)
	if !ok {
		cs.early[ev.ID] = early{ev, cs.now()}
	}
	cs.mu.Unlock()
	if ok {
		cs.finish(w, ev)
	}
}

// sweep forgets waiters whose session gave up long ago (the service never
// answered), so the table stays bounded. The caller holds cs.mu.
func (cs *calls) sweep(now time.Time) {
	for id, w := range cs.waiting {
		if now.Sub(w.since) > 2*cs.timeout {
			delete(cs.waiting, id)
		}
	}
	for id, e := range cs.early {
		if now.Sub(e.at) > cs.timeout {
			delete(cs.early, id)
		}
	}
}

// eventErr returns the error an error event carries; one that carries none
// (a sender's bug) still reads as an error, naming its request.
func eventErr(ev *sdk.Event) error {
	if ev.Err != nil {
		return ev.Err
	}
	return fmt.Errorf("an error event without a cause answered request %d", ev.ID)
}

// finish prints the answer, or the error, for one command.
func (cs *calls) finish(w waiter, ev *sdk.Event) {
	if w.format != nil {
		w.reply(w.format(ev))
		return
	}
	if ev.Kind == sdk.KindError {
		err := eventErr(ev)
		if serviceGone(err) {
			cs.gone(w.owner, err)
		}
		w.reply("% " + w.path + ": " + err.Error())
		return
	}
	out, ok := ev.Msg.(*telnetpb.Output)
	if !ok {
		w.reply("% " + w.path + ": " + w.owner + " answered with " + ev.Type() + ", want mtnode.telnet.v1.Output")
		return
	}
	w.reply(out.GetText())
}

// serviceGone reports whether err means the service that registered a
// command is no longer there to run it.
func serviceGone(err error) bool {
	for _, target := range []error{sdk.ErrNoService, sdk.ErrStopped, sdk.ErrPluginCrashed, sdk.ErrStartFailed} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
