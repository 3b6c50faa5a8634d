package telnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/sdk"
)

// ownerMark records one service's latest registration.
type ownerMark struct {
	seq uint64 // order of the registration, to tell a newer one apart
	pid string // the plugin process that registered ("" in-process or unknown)
}

// addOwned adds a command of owner and marks the owner's registration with
// the incarnation that made it. It runs on the service goroutine.
func (s *Service) addOwned(path, args, desc, owner string) (*console.Command, error) {
	pid := ""
	if s.admin != nil {
		for _, si := range s.admin.Services() {
			if si.Name == owner {
				pid = pidOf(si.Where)
			}
		}
	}
	s.ownersMu.Lock()
	defer s.ownersMu.Unlock()
	cmd, err := s.tree.Add(path, args, desc, owner, s.calls.handler(owner))
	if err != nil {
		return nil, err
	}
	s.regSeq++
	s.owners[owner] = ownerMark{seq: s.regSeq, pid: pid}
	return cmd, nil
}

// sweeper drops, every sweepEvery until ctx ends, the commands of services
// that went away: the runtime has no lifecycle notification, and a service
// that is gone may never be asked again. It runs on its own goroutine; the
// tree and Admin are safe for concurrent use.
func (s *Service) sweeper(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep drops the commands of the owners staleOwners finds. A service that
// registered again after the snapshot keeps its new commands.
func (s *Service) sweep() {
	s.ownersMu.Lock()
	snap := maps.Clone(s.owners)
	s.ownersMu.Unlock()
	stale := staleOwners(snap, s.admin.Services())
	for _, owner := range stale {
		s.ownersMu.Lock()
		n := 0
		if s.owners[owner.name].seq == snap[owner.name].seq {
			n = s.tree.RemoveOwner(owner.name)
			delete(s.owners, owner.name)
		}
		s.ownersMu.Unlock()
		if n > 0 {
			s.log.Info("console commands removed", sdk.KeyService, owner.name, "commands", n, sdk.KeyErr, owner.why)
		}
	}
}

// staleOwner is an owner whose commands should go, and why.
type staleOwner struct {
	name string
	why  error
}

// staleOwners returns the owners that can no longer run their commands:
// the node no longer has the service (a removed plugin), the service is
// not running (stopped, failed, or idle again after a crash or a failed
// start; it registers again when it next starts), or its plugin process
// is not the one that registered them.
func staleOwners(owners map[string]ownerMark, infos []sdk.ServiceInfo) []staleOwner {
	byName := make(map[string]sdk.ServiceInfo, len(infos))
	for _, si := range infos {
		byName[si.Name] = si
	}
	var out []staleOwner
	for name, mark := range owners {
		si, ok := byName[name]
		switch {
		case !ok:
			out = append(out, staleOwner{name, errors.New("service no longer on the node")})
		case !alive(si.State):
			out = append(out, staleOwner{name, fmt.Errorf("service %s", si.State)})
		case mark.pid != "" && pidOf(si.Where) != "" && pidOf(si.Where) != mark.pid:
			out = append(out, staleOwner{name, fmt.Errorf("service restarted (%s, then %s)", mark.pid, pidOf(si.Where))})
		}
	}
	return out
}

// alive reports whether a service in state can still run commands: the
// node's states "starting" and "running", and the plugin host's
// "launching", "running" and "draining".
func alive(state string) bool {
	switch state {
	case "starting", "running", "launching", "draining":
		return true
	}
	return false
}

// pidOf returns the "pid N" of a plugin service's Where ("plugin mt-demo
// (pid 42)"), or "".
func pidOf(where string) string {
	_, rest, ok := strings.Cut(where, "(pid ")
	if !ok {
		return ""
	}
	pid, _, ok := strings.Cut(rest, ")")
	if !ok {
		return ""
	}
	return "pid " + pid
}
