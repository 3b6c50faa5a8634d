package httprpc

import (
	"strings"
	"sync"

	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/proto/webpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name.
const Name = "HttpRpc"

// Spec registers HttpRpc. It is stateless, so it runs Inline.
var Spec = sdk.Define(Name, func() sdk.Service { return New() }, sdk.Inline())

// Service is the HttpRpc service.
type Service struct {
	mux     sdk.Mux
	backend sdk.Addr

	mu    sync.Mutex
	addrs []string // where WebServer listens for us, once it said so
	ready chan struct{}
}

// New returns an HttpRpc service.
func New() *Service {
	s := &Service{ready: make(chan struct{})}
	sdk.On(&s.mux, s.request)
	sdk.On(&s.mux, s.listening)
	s.mux.OnError(s.failed)
	return s
}

// Ready is closed once WebServer listens for HttpRpc.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Addrs returns the addresses HTTP is served on (empty until Ready).
func (s *Service) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// Start asks WebServer to serve HttpRpc.bindAddr.
func (s *Service) Start(c sdk.Context) error {
	conf := c.Config()
	addrs := conf.Addrs("bindAddr", "127.0.0.1:8081", "addresses HttpRpc serves HTTP on (comma-separated, IPv4 and IPv6)")
	s.backend = sdk.At(conf.String("backend", "local", "node whose Echo answers (host:port of its RPC.bindAddr, or local)"), "Echo")
	c.Send(sdk.To(webserver.Name), &webpb.Listen{Addrs: strings.Join(addrs, ","), Service: Name})
	return nil
}

// Handle implements sdk.Service.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

// Types lists the event types HttpRpc takes.
func (s *Service) Types() []string { return s.mux.Types() }

var textPlain = []*webpb.Header{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}}

// request forwards the HTTP answer-to-be to Echo: a Response holding the
// request target. The route to the connection travels with it unchanged, so
// Echo's reply, the same Response, goes straight back to WebServer as the
// HTTP answer and skips HttpRpc; an error event on the way becomes an error
// answer there (502 for a lost link or a missing Echo).
func (s *Service) request(c sdk.Context, r *webpb.Request) error {
	c.Forward(s.backend, &webpb.Response{Headers: textPlain, Body: []byte(r.GetTarget())})
	return nil
}

func (s *Service) listening(c sdk.Context, m *webpb.Listening) error {
	s.mu.Lock()
	first := s.addrs == nil
	s.addrs = append([]string{}, m.GetAddrs()...)
	s.mu.Unlock()
	if first {
		close(s.ready)
	}
	c.Logger().Info("httprpc: listening", "addrs", strings.Join(m.GetAddrs(), ","), "backend", s.backend.String())
	return nil
}

// failed logs WebServer's refusal to listen: the only error event HttpRpc
// gets, since the error events of forwarded requests go to WebServer.
func (s *Service) failed(c sdk.Context, ev *sdk.Event) error {
	c.Logger().Error("httprpc: WebServer refused to listen", sdk.KeyErr, ev.Err)
	return nil
}

// Interface guards.
var (
	_ sdk.Service = (*Service)(nil)
	_ sdk.Starter = (*Service)(nil)
)
