package rpc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// TestFrameLimits: a node takes link frames of up to its RPC.maxMessage,
// and its peer keeps to that limit, which it learns from the Hello:
// requests that each fit, sent together, arrive in frames under it and are
// all answered. A request too large for a frame alone fails at once with an
// ErrBadEvent error event that says so, and the link, with the requests
// around it, goes on.
func TestFrameLimits(t *testing.T) {
	var logs sdktest.LogBuffer
	b := startNode(t, nodeOpts{name: "b", conf: map[string]string{"RPC.maxMessage": "1MiB"}, log: &logs})
	a := startNode(t, nodeOpts{name: "a", log: &logs})
	echo := sdk.At(b.addr, "Echo")
	if _, err := request(t, a, echo, wrapperspb.String("up")); err != nil { // the link is up
		t.Fatal(err)
	}

	const n, size = 30, 300 << 10
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, err := request(t, a, echo, wrapperspb.Bytes(make([]byte, size+i)))
			if err == nil && len(ev.Msg.(*wrapperspb.BytesValue).GetValue()) != size+i {
				err = errors.New("the echo is not the request")
			}
			errs <- err
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.Request(ctx, echo, wrapperspb.Bytes(make([]byte, 2<<20)))
	if !errors.Is(err, sdk.ErrBadEvent) || !strings.Contains(err.Error(), "RPC.maxMessage") {
		t.Errorf("a 2 MiB request to a node of RPC.maxMessage=1MiB: got %v, want ErrBadEvent naming RPC.maxMessage", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a request that fits a frame: %v", err)
		}
	}
	if out := logs.String(); strings.Contains(out, "link down") {
		t.Errorf("the link went down:\n%s", out)
	}
}

// TestReplyTooLarge: a reply too large for the requester's frame limit
// comes to the requester as an ErrBadEvent error event in its place, at
// once, rather than leave it waiting.
func TestReplyTooLarge(t *testing.T) {
	big := sdk.Define("Big", func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			c.Reply(wrapperspb.Bytes(make([]byte, 2<<20)))
			return nil
		})
	})
	b := startNode(t, nodeOpts{name: "b", services: []sdk.Spec{big}})
	a := startNode(t, nodeOpts{name: "a", conf: map[string]string{"RPC.maxMessage": "1MiB"}})
	_, err := request(t, a, sdk.At(b.addr, "Big"), wrapperspb.String("x"))
	if !errors.Is(err, sdk.ErrBadEvent) || !strings.Contains(err.Error(), "RPC.maxMessage") {
		t.Fatalf("got %v, want ErrBadEvent naming RPC.maxMessage", err)
	}
	if _, err := request(t, a, sdk.At(b.addr, "Echo"), wrapperspb.String("x")); err != nil {
		t.Errorf("the link after the refused reply: %v", err)
	}
}
