package telnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/console"
	"github.com/mtnode/mtnode/plugins/telnet/internal/pwhash"
	"github.com/mtnode/mtnode/proto/telnetpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name: its address, config prefix and Start= entry.
const Name = "Telnet"

// Spec registers the Telnet service.
var Spec = sdk.Define(Name, New)

// Defaults of the config keys.
const (
	DefaultBindAddr       = "127.0.0.1:10123"
	DefaultMaxSessions    = 8
	DefaultIdleTimeout    = 15 * time.Minute
	DefaultCommandTimeout = 10 * time.Second
	DefaultMaxLineLength  = 1024
	DefaultLoginTimeout   = time.Minute
)

// sweepEvery is how often the service looks for owners that stopped or
// failed, to drop their commands.
const sweepEvery = time.Second

// Service is the Telnet service. The command tree and the console server
// are safe for concurrent use; the rest belongs to the service goroutine.
type Service struct {
	mux   sdk.Mux
	tree  *console.Tree
	srv   *console.Server
	calls *calls
	ep    sdk.Endpoint
	lns   []net.Listener
	admin sdk.Admin // nil when the node does not grant it
	log   *slog.Logger

	// owners holds, for each service with registered commands, the mark
	// of its latest registration, so the sweeper can tell a service that
	// went away from one that registered again meanwhile. Lock order:
	// ownersMu before the tree's lock.
	ownersMu sync.Mutex
	owners   map[string]ownerMark
	regSeq   uint64 // last ownerMark.seq given; guarded by ownersMu
}

// New returns a Telnet service, ready for Spec.
func New() sdk.Service {
	s := &Service{tree: console.NewTree(), owners: make(map[string]ownerMark)}
	sdk.On(&s.mux, s.register)
	sdk.On(&s.mux, s.unregister)
	sdk.On(&s.mux, s.status)
	return s
}

// Handle implements sdk.Service.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Types lists the event types the service takes, for the plugin manifest.
func (s *Service) Types() []string { return s.mux.Types() }

// Start reads the config, refuses an unprotected non-loopback address,
// listens, registers the operator commands and starts serving.
func (s *Service) Start(c sdk.Context) error {
	s.log = c.Logger()
	if ac, ok := c.(sdk.AdminContext); ok {
		s.admin = ac.Admin()
	}
	conf := c.Config()
	addrs := conf.Addrs("bindAddr", DefaultBindAddr,
		"console listen addresses, comma-separated, IPv4 and IPv6; a non-loopback address needs Telnet.password")
	password := conf.String("password", "",
		"console password; write it in plain text here and the service replaces it by a salted hash when it starts (one from MT_Telnet_password or --set is hashed in memory only); empty: no password (loopback addresses only)")
	cfg := console.Config{
		Name:           c.NodeName(),
		MaxSessions:    int(conf.Int("maxSessions", DefaultMaxSessions, "concurrent console sessions; more are turned away")),
		IdleTimeout:    conf.Duration("idleTimeout", DefaultIdleTimeout, "a console session with no input for this long is closed"),
		CommandTimeout: conf.Duration("commandTimeout", DefaultCommandTimeout, "how long the console waits for a service to answer a command"),
		MaxLineLength:  int(conf.Int("maxLineLength", DefaultMaxLineLength, "longest console input line, in characters; a longer line is refused, not run")),
		LoginTimeout:   conf.Duration("loginTimeout", DefaultLoginTimeout, "a console session that has not given the password this long after it opened is closed, freeing its slot"),
		Logger:         s.log,
	}
	hash, err := s.passwordHash(password)
	if err != nil {
		return err
	}
	cfg.PasswordHash = hash
	if hash == "" {
		for _, a := range addrs {
			if !isLoopback(a) {
				return fmt.Errorf("telnet: refusing to listen on %s without a password: set Telnet.password, or bind Telnet.bindAddr to a loopback address", a)
			}
		}
	}
	s.srv, err = console.NewServer(cfg, s.tree)
	if err != nil {
		return fmt.Errorf("telnet: %w", err)
	}
	if s.lns, err = sdk.ListenAll(context.Background(), addrs); err != nil {
		return fmt.Errorf("telnet: %w (change Telnet.bindAddr or stop what holds the port)", err)
	}

	h := c.Handle()
	s.calls = newCalls(s.tree, cfg.CommandTimeout, c.Now, s.ownerGone)
	s.ep = h.Endpoint(s.calls.deliver)
	s.calls.ep = s.ep
	s.addBuiltins()
	s.addInspectBuiltins()

	for _, ln := range s.lns {
		s.log.Info("console listening", "addr", ln.Addr().String())
		c.Go(func(context.Context) {
			if err := s.srv.Serve(ln); !errors.Is(err, console.ErrServerClosed) {
				s.log.Error("console stopped accepting", "addr", ln.Addr().String(), sdk.KeyErr, err)
			}
		})
	}
	if s.admin != nil {
		c.Go(s.sweeper)
	}
	return nil
}

// Stop closes the listeners and the sessions. It copes with a partial
// Start.
func (s *Service) Stop(context.Context) error {
	if s.srv != nil {
		s.srv.Close() // closes the listeners given to Serve and waits for the sessions
	}
	for _, ln := range s.lns {
		ln.Close() // in case Serve never ran
	}
	if s.ep != nil {
		s.ep.Close()
	}
	return nil
}

// passwordHash returns the stored hash for the configured password,
// hashing a plain one and writing the hash back to the config file.
func (s *Service) passwordHash(password string) (string, error) {
	if password == "" || pwhash.IsHash(password) {
		if _, _, _, err := pwhash.Parse(password); password != "" && err != nil {
			return "", fmt.Errorf("telnet: Telnet.password: %w (or write a plain password to have it hashed)", err)
		}
		return password, nil
	}
	hash, err := pwhash.Hash(password)
	if err != nil {
		return "", fmt.Errorf("telnet: hashing Telnet.password: %w", err)
	}
	if s.admin == nil {
		s.log.Warn("plain console password kept in the config file: this node does not let the service rewrite it")
		return hash, nil
	}
	if src := s.passwordSource(); src != "file" {
		// From the environment or --set: the file does not hold it, and
		// writing the hash there would make it outlive its source.
		s.log.Info("console password hashed in memory only", "source", src)
		return hash, nil
	}
	if err := s.admin.SetConfig(Name+".password", hash); err != nil {
		s.log.Warn("plain console password kept in the config file", sdk.KeyErr, err)
		return hash, nil
	}
	s.log.Info("console password replaced by its hash in the config file")
	return hash, nil
}

// passwordSource returns where Telnet.password came from: "file", "env",
// "flag", or "" when the node does not say.
func (s *Service) passwordSource() string {
	for _, e := range s.admin.ConfigEntries() {
		if e.Key == Name+".password" {
			return e.Source
		}
	}
	return ""
}

// isLoopback reports whether a listen address only accepts local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sender returns the name of the service that sent ev, or "" when the
// request came from beyond this node or from outside any service. A request
// from a plugin's service carries the plugin link's hop (an ENDPOINT hop
// naming the plugin runtime, with no id) above the service's own hop; the
// service is still on this node, so that hop is looked through.
func sender(ev *sdk.Event) string {
	r := ev.Route
	for {
		top, rest, ok := r.Pop()
		switch {
		case !ok:
			return ""
		case top.Kind == sdk.HopService:
			return top.Name
		case top.Kind == sdk.HopEndpoint && top.ID == 0 && top.Name != "":
			r = rest // a plugin link: the sender is below it
		default:
			return ""
		}
	}
}

// register handles Register.
func (s *Service) register(c sdk.Context, m *telnetpb.Register) error {
	owner := sender(c.Event())
	if owner == "" {
		return sdk.Errorf(sdk.CodeRefused, "telnet: a command must be registered by a service on this node")
	}
	if strings.HasSuffix(m.GetPath(), "/") && m.GetArgs() == "" {
		if err := s.tree.Describe(m.GetPath(), m.GetDescription()); err != nil {
			return sdk.Errorf(sdk.CodeRefused, "telnet: describing %q: %v", m.GetPath(), err)
		}
		c.Reply(&telnetpb.Registered{Path: strings.Trim(m.GetPath(), "/")})
		return nil
	}
	cmd, err := s.addOwned(m.GetPath(), m.GetArgs(), m.GetDescription(), owner)
	if err != nil {
		return sdk.Errorf(sdk.CodeRefused, "telnet: registering %q: %v", m.GetPath(), err)
	}
	c.Logger().Debug("console command registered", "command", cmd.Path, "owner", owner)
	c.Reply(&telnetpb.Registered{Path: cmd.Path})
	return nil
}

// unregister handles Unregister.
func (s *Service) unregister(c sdk.Context, m *telnetpb.Unregister) error {
	owner := sender(c.Event())
	if owner == "" {
		return sdk.Errorf(sdk.CodeRefused, "telnet: only a service on this node can unregister its commands")
	}
	if m.GetPath() == "" {
		s.ownerGone(owner, nil)
	} else if err := s.tree.Remove(m.GetPath(), owner); err != nil {
		return sdk.Errorf(sdk.CodeRefused, "telnet: %v", err)
	}
	c.Reply(&telnetpb.Registered{Path: strings.Trim(m.GetPath(), "/")})
	return nil
}

// status handles GetStatus.
func (s *Service) status(c sdk.Context, _ *telnetpb.GetStatus) error {
	st := &telnetpb.Status{Sessions: int32(s.srv.Sessions()), Commands: int32(s.tree.Len())}
	for _, ln := range s.lns {
		st.Addrs = append(st.Addrs, ln.Addr().String())
	}
	c.Reply(st)
	return nil
}

// ownerGone drops the commands of a service that can no longer run them.
// It is called from whichever goroutine learnt it; the tree is safe for
// concurrent use.
func (s *Service) ownerGone(owner string, err error) {
	if owner == Name {
		return
	}
	s.ownersMu.Lock()
	n := s.tree.RemoveOwner(owner)
	delete(s.owners, owner)
	s.ownersMu.Unlock()
	if n > 0 && err != nil {
		s.log.Info("console commands removed", sdk.KeyService, owner, "commands", n, sdk.KeyErr, err)
	}
}

// Interface guards.
var (
	_ sdk.Service = (*Service)(nil)
	_ sdk.Starter = (*Service)(nil)
	_ sdk.Stopper = (*Service)(nil)
)
