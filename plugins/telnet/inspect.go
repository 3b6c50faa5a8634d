package telnet

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// Names of the services the inspecting built-ins ask. They are the names
// users type (DESIGN.md); plugins do not import each other.
const (
	timerName = "Timer"
	rpcName   = "RPC"
)

// defaultTimersShown is how many alarms and timers node/timers lists when
// no count is given.
const defaultTimersShown = 20

// asker is an operator command that asks another service by event and
// prints its answer when it comes.
type asker struct {
	path, args, desc string
	run              func(call *console.Call, reply func(string))
}

// addInspectBuiltins registers the operator commands that ask other
// services for their state: the Timer's pending alarms and timers and the
// RPC service's peers. They work through the services' own requests, so
// they answer the same whether the node links them in or not.
func (s *Service) addInspectBuiltins() {
	dirs := map[string]string{
		"node": "the node: services, plugins, uptime, version",
		"rpc":  "node-to-node links (the RPC service)",
	}
	for _, a := range []asker{
		{"node/timers", "[count:int]", "show the Timer's pending alarms and timers, earliest first (default 20, at most 1000)", s.cmdTimers},
		{"rpc/peers", "", "show the RPC service's links to other nodes: address, node, epoch, direction, in flight, events", s.cmdPeers},
	} {
		if _, err := s.tree.Add(a.path, a.args, a.desc, Name, console.HandlerFunc(a.run)); err != nil {
			panic(fmt.Sprintf("telnet: built-in %s: %v", a.path, err)) // a programming error
		}
		dir, _, _ := strings.Cut(a.path, "/")
		if err := s.tree.Describe(dir, dirs[dir]); err != nil {
			panic(fmt.Sprintf("telnet: built-in directory %s: %v", dir, err))
		}
	}
}

// notRunning returns what to print instead of asking service, when Admin
// shows that asking would be pointless: the node has no such service, or
// it is not running (asking would start it, to learn that it holds
// nothing). It returns "" when the service should be asked.
func (s *Service) notRunning(service, nothing string) string {
	if s.admin == nil {
		return "" // no way to tell: ask, and let an error event say
	}
	for _, si := range s.admin.Services() {
		if si.Name != service {
			continue
		}
		if si.State == "running" {
			return ""
		}
		return fmt.Sprintf("%s is not running (state %s): %s", service, si.State, nothing)
	}
	return fmt.Sprintf("%% no %s service on this node", service)
}

// askError renders an error event from service.
func askError(path, service string, ev *sdk.Event) string {
	err := eventErr(ev)
	if errors.Is(err, sdk.ErrNoService) {
		return fmt.Sprintf("%% no %s service on this node", service)
	}
	return "% " + path + ": " + err.Error()
}

func (s *Service) cmdTimers(call *console.Call, reply func(string)) {
	if msg := s.notRunning(timerName, "no alarms or timers are pending"); msg != "" {
		reply(msg)
		return
	}
	count := defaultTimersShown
	if v, ok := call.Arg("count"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			reply(fmt.Sprintf("%% count %q: want a number of entries, 1 or more", v))
			return
		}
		count = min(n, 1000)
	}
	s.calls.ask(timerName, &timerpb.List{Limit: uint32(count)}, call, reply, func(ev *sdk.Event) string {
		if ev.Kind == sdk.KindError {
			return askError(call.Path, timerName, ev)
		}
		list, ok := ev.Msg.(*timerpb.ListReply)
		if !ok {
			return fmt.Sprintf("%% %s: %s answered with %s, want mtnode.timer.v1.ListReply", call.Path, timerName, ev.Type())
		}
		return formatTimers(list, s.calls.now())
	})
}

// formatTimers renders a ListReply as a table, with now for the time left.
func formatTimers(list *timerpb.ListReply, now time.Time) string {
	if list.GetTotal() == 0 {
		return "no alarms or timers are pending"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d pending\n", list.GetTotal())
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "REQUESTER\tKIND\tID\tNEXT\tIN\tPERIOD\tDATA")
	for _, e := range list.GetEntries() {
		kind, period := "alarm", "-"
		if e.GetPeriodic() {
			kind = "timer"
			period = time.Duration(e.GetPeriod() * 1e9).String()
		}
		next := time.Unix(0, e.GetDeadlineUnixNano())
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", e.GetRequester(), kind, e.GetId(),
			next.UTC().Format("2006-01-02T15:04:05.000Z"), next.Sub(now).Round(time.Millisecond), period, showData(e.GetData()))
	}
	w.Flush()
	if more := list.GetTotal() - uint64(len(list.GetEntries())); more > 0 {
		fmt.Fprintf(&b, "and %d more\n", more)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// showData renders a timer's key bytes: quoted text, or hex, cut at 24
// bytes.
func showData(d []byte) string {
	if len(d) == 0 {
		return "-"
	}
	cut := ""
	if len(d) > 24 {
		d, cut = d[:24], "..."
	}
	if utf8.Valid(d) {
		return strconv.Quote(string(d)) + cut
	}
	return fmt.Sprintf("%x%s", d, cut)
}

func (s *Service) cmdPeers(call *console.Call, reply func(string)) {
	if msg := s.notRunning(rpcName, "no links to other nodes (name RPC in Start= to start it at boot)"); msg != "" {
		reply(msg)
		return
	}
	s.calls.ask(rpcName, &rpcpb.ListLinks{}, call, reply, func(ev *sdk.Event) string {
		if ev.Kind == sdk.KindError {
			return askError(call.Path, rpcName, ev)
		}
		links, ok := ev.Msg.(*rpcpb.Links)
		if !ok {
			return fmt.Sprintf("%% %s: %s answered with %s, want mtnode.rpc.v1.Links", call.Path, rpcName, ev.Type())
		}
		return formatPeers(links)
	})
}

// formatPeers renders a Links reply as a table.
func formatPeers(links *rpcpb.Links) string {
	var b strings.Builder
	if len(links.GetListen()) > 0 {
		fmt.Fprintf(&b, "listening on %s\n", strings.Join(links.GetListen(), ", "))
	}
	if len(links.GetLinks()) == 0 {
		b.WriteString("no links to other nodes")
		return b.String()
	}
	peers := slices.Clone(links.GetLinks())
	slices.SortFunc(peers, func(a, b *rpcpb.LinkInfo) int { return cmp.Compare(a.GetPeer(), b.GetPeer()) })
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "PEER\tSTATE\tNODE\tEPOCH\tDIRECTION\tIN FLIGHT\tEVENTS IN\tEVENTS OUT")
	for _, l := range peers {
		dir := "in (accepted)"
		if l.GetDialled() {
			dir = "out (dialled)"
		}
		fmt.Fprintf(w, "%s\tup\t%s\t%d\t%s\t%d\t%d\t%d\n",
			l.GetPeer(), l.GetNode(), l.GetEpoch(), dir, l.GetInFlight(), l.GetReceived(), l.GetSent())
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
