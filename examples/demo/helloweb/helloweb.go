// Package helloweb is the HelloWeb demo service: it asks WebServer to
// listen on HelloWeb.bindAddr (default 127.0.0.1:8080) and answers GET /
// with "Hello, World!" from memory, or, when HelloWeb.docRoot is set,
// serves the files under that folder.
//
// HelloWeb is stateless after Start and registered Inline, so in a node
// that links it in, WebServer's connection goroutine runs its handler
// directly: a request costs no queue hop. It ships in the mt-demo plugin
// and is linked into mt-test-http.
package helloweb

import (
	"strings"
	"sync"

	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/proto/webpb"
	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name.
const Name = "HelloWeb"

// Spec registers HelloWeb. It runs inline: on the goroutine of whoever
// sends it an event.
var Spec = sdk.Define(Name, New, sdk.Inline())

// Hello is the body of GET / in memory mode.
const Hello = "Hello, World!"

// Service is HelloWeb. Its fields are written in Start and only read
// afterwards, so concurrent inline calls need no lock; the outcome of the
// Listen (for Ready, Addrs and Err) is guarded by mu.
type Service struct {
	mux      sdk.Mux
	docRoot  string
	hello    *webpb.Response // shared by every reply: never modified
	notFound *webpb.Response

	mu        sync.Mutex
	addrs     []string // where WebServer listens for HelloWeb
	listenErr error    // why WebServer refused to listen
	ready     chan struct{}
	readyOnce sync.Once
}

// New builds the service, for sdk.Define.
func New() sdk.Service { return NewService() }

// NewService builds the service, for a program that wants to know where
// it listens (Ready, Addrs, Err).
func NewService() *Service {
	s := &Service{
		ready: make(chan struct{}),
		hello: &webpb.Response{
			Headers: []*webpb.Header{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
			Body:    []byte(Hello),
		},
		notFound: &webpb.Response{Status: 404, Body: []byte("not found\n")},
	}
	sdk.On(&s.mux, s.request)
	sdk.On(&s.mux, s.listening)
	s.mux.OnError(s.failed)
	return s
}

// Ready is closed once WebServer has answered HelloWeb's Listen: then
// Addrs holds the bound addresses, or Err says why the bind failed.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Addrs returns the addresses HTTP is served on (empty until Ready, and
// after a failed bind).
func (s *Service) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// Err returns why WebServer refused to listen (nil until Ready, and after
// a successful bind).
func (s *Service) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listenErr
}

// Start reads the config and asks WebServer to listen.
func (s *Service) Start(c sdk.Context) error {
	cf := c.Config()
	addrs := cf.Addrs("bindAddr", "127.0.0.1:8080", "addresses HelloWeb serves HTTP on (comma-separated, IPv4 and IPv6)")
	s.docRoot = cf.String("docRoot", "", "folder to serve files from; empty answers GET / with Hello, World! from memory")
	c.Send(sdk.To(webserver.Name), &webpb.Listen{
		Addrs:   strings.Join(addrs, ","),
		Service: Name,
		DocRoot: s.docRoot,
	})
	return nil
}

// Handle routes events by payload type.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error { return s.mux.Handle(c, ev) }

func (s *Service) request(c sdk.Context, r *webpb.Request) error {
	if s.docRoot != "" {
		path, _, _ := strings.Cut(r.GetTarget(), "?")
		c.Reply(&webpb.Response{File: path})
		return nil
	}
	if p, _, _ := strings.Cut(r.GetTarget(), "?"); p == "/" {
		c.Reply(s.hello)
		return nil
	}
	c.Reply(s.notFound)
	return nil
}

func (s *Service) listening(c sdk.Context, m *webpb.Listening) error {
	s.mu.Lock()
	s.addrs = append([]string(nil), m.GetAddrs()...)
	s.mu.Unlock()
	s.readyOnce.Do(func() { close(s.ready) })
	c.Logger().Info("helloweb: listening", "addrs", strings.Join(m.GetAddrs(), ","), "docRoot", s.docRoot)
	return nil
}

// failed logs a refused Listen (a failed bind): the node goes on.
func (s *Service) failed(c sdk.Context, ev *sdk.Event) error {
	s.mu.Lock()
	s.listenErr = ev.Err
	s.mu.Unlock()
	s.readyOnce.Do(func() { close(s.ready) })
	c.Logger().Error("helloweb: WebServer refused to listen", sdk.KeyErr, ev.Err)
	return nil
}

// Interface guards.
var (
	_ sdk.Service = (*Service)(nil)
	_ sdk.Starter = (*Service)(nil)
)
