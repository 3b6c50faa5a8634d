package httprpc_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mtnode/mtnode/examples/demo/httprpc"
	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/plugins/webserver"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"
)

var echoSpec = sdk.Define("Echo", func() sdk.Service {
	return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
		c.Reply(ev.Msg)
		return nil
	})
})

func start(t *testing.T, embedded string, services []sdk.Spec, startList []string) *core.Node {
	t.Helper()
	store, err := config.Open(config.Options{Embedded: embedded, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := core.New(core.Config{Services: services, Start: startList, Conf: func(s string) sdk.Config { return store.Sub(s) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return n
}

func TestHttpRpc(t *testing.T) {
	backend := start(t, "RPC.bindAddr=127.0.0.1:0\n", []sdk.Spec{rpc.Spec, echoSpec}, []string{rpc.Name})
	ev, err := backend.Request(context.Background(), sdk.To(rpc.Name), &rpcpb.ListLinks{})
	if err != nil {
		t.Fatal(err)
	}
	remote := ev.Msg.(*rpcpb.Links).GetListen()[0]
	tests := []struct {
		name, backend string
		echo          bool
		wantCode      int
		wantBody      string
	}{
		{"remote echo", remote, false, 200, "/hello?x=1"},
		{"local echo", "local", true, 200, "/hello?x=1"},
		{"no echo", "local", false, http.StatusBadGateway, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var svc *httprpc.Service
			specs := []sdk.Spec{rpc.Spec, webserver.Spec, sdk.Define(httprpc.Name, func() sdk.Service { svc = httprpc.New(); return svc }, sdk.Inline())}
			if tc.echo {
				specs = append(specs, echoSpec)
			}
			start(t, "RPC.bindAddr=\nHttpRpc.bindAddr=127.0.0.1:0\nHttpRpc.backend="+tc.backend+"\n", specs, []string{rpc.Name, webserver.Name, httprpc.Name})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			select {
			case <-svc.Ready():
			case <-ctx.Done():
				t.Fatal("WebServer did not listen for HttpRpc")
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+svc.Addrs()[0]+"/hello?x=1", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("got status %d (%s), want %d", resp.StatusCode, body, tc.wantCode)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Errorf("got body %q, want %q", body, tc.wantBody)
			}
		})
	}
}
