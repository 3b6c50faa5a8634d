package httprpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
)

// Name is the service's name.
const Name = "HttpRpc"

// Spec registers HttpRpc.
func Spec() sdk.Spec { return sdk.Define(Name, func() sdk.Service { return New() }) }

// Service is the HttpRpc service.
type Service struct {
	backend sdk.Addr
	timeout time.Duration
	handle  sdk.Handle
	srv     *http.Server
	addr    string
}

// New returns an HttpRpc service.
func New() *Service { return &Service{} }

// Addr returns the address HTTP is served on, once started.
func (s *Service) Addr() string { return s.addr }

// Start binds HttpRpc.bindAddr and serves HTTP on an owned goroutine.
func (s *Service) Start(c sdk.Context) error {
	conf := c.Config()
	bind := conf.String("bindAddr", "127.0.0.1:8081", "HTTP listen address of HttpRpc")
	s.backend = sdk.At(conf.String("backend", "local", "node whose Echo answers (host:port of its RPC.bindAddr, or local)"), "Echo")
	s.timeout = conf.Duration("timeout", 5*time.Second, "longest wait for Echo's answer before a 504")
	s.handle = c.Handle()
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return fmt.Errorf("httprpc: listening on %s (change HttpRpc.bindAddr): %w", bind, err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(c.Logger().Handler(), slog.LevelWarn)}
	log := c.Logger()
	c.Go(func(ctx context.Context) {
		stop := context.AfterFunc(ctx, func() { s.srv.Close() })
		defer stop()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("httprpc server failed", slog.String(sdk.KeyErr, err.Error()))
		}
	})
	log.Info("httprpc listening", slog.String("addr", s.addr), slog.String("backend", s.backend.String()))
	return nil
}

// Handle implements sdk.Service. HttpRpc takes no events: HTTP requests are
// its input.
func (s *Service) Handle(c sdk.Context, ev *sdk.Event) error {
	if ev.Kind != sdk.KindRequest {
		return nil
	}
	return &sdk.DeliveryError{Code: sdk.CodeUnknownEvent, EventType: ev.Type(), Dst: Name,
		Message: "httprpc: HttpRpc takes no events; send HTTP requests to HttpRpc.bindAddr"}
}

// Stop shuts the HTTP server down, letting requests finish until ctx ends.
func (s *Service) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("httprpc: shutting down: %w", err)
	}
	return nil
}

// ServeHTTP sends one event to Echo and answers with its reply.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch := make(chan *sdk.Event, 1)
	ep := s.handle.Endpoint(func(ev *sdk.Event) {
		select {
		case ch <- ev:
		default: // only the first answer counts
		}
	})
	defer ep.Close()
	ep.Send(s.backend, wrapperspb.Bytes([]byte(r.URL.RequestURI())))
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case ev := <-ch:
		if ev.Kind == sdk.KindError {
			http.Error(w, ev.Err.Error(), http.StatusBadGateway)
			return
		}
		var body []byte
		if m, ok := ev.Msg.(*wrapperspb.BytesValue); ok {
			body = m.GetValue()
		}
		h := w.Header()
		h["Content-Type"] = textPlain
		w.Write(body)
	case <-t.C:
		http.Error(w, "httprpc: no answer from "+s.backend.String(), http.StatusGatewayTimeout)
	case <-r.Context().Done():
	}
}

var textPlain = []string{"text/plain; charset=utf-8"}

// Interface guards.
var (
	_ sdk.Starter  = (*Service)(nil)
	_ sdk.Stopper  = (*Service)(nil)
	_ http.Handler = (*Service)(nil)
)
