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
// afterwards, so concurrent inline calls need no lock.
type Service struct {
	mux      sdk.Mux
	docRoot  string
	hello    *webpb.Response // shared by every reply: never modified
	notFound *webpb.Response
}

// New builds the service.
func New() sdk.Service {
	s := &Service{
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
	c.Logger().Info("helloweb: listening", "addrs", strings.Join(m.GetAddrs(), ","), "docRoot", s.docRoot)
	return nil
}

// failed logs a refused Listen (a failed bind): the node goes on.
func (s *Service) failed(c sdk.Context, ev *sdk.Event) error {
	c.Logger().Error("helloweb: WebServer refused to listen", sdk.KeyErr, ev.Err)
	return nil
}

// Interface guards.
var (
	_ sdk.Service = (*Service)(nil)
	_ sdk.Starter = (*Service)(nil)
)
