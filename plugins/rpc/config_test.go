package rpc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mtnode/mtnode/internal/config"
	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/plugins/rpc"
	"github.com/mtnode/mtnode/sdk"
)

// TestValuesBelowTheirFloor: in a node's config, RPC.maxPending and
// RPC.maxInflight below 1 and RPC.reconnectMin below 1ms are bad values,
// recorded with their line and replaced by the default, as the node's own
// keys are.
func TestValuesBelowTheirFloor(t *testing.T) {
	store, err := config.Open(config.Options{Embedded: "RPC.bindAddr=127.0.0.1:0\nRPC.maxPending=0\nRPC.maxInflight=-3\nRPC.reconnectMin=0\n",
		Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := core.New(core.Config{Services: []sdk.Spec{rpc.Spec}, Start: []string{rpc.Name},
		Conf: func(svc string) sdk.Config { return store.Sub(svc) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer n.Stop(ctx)
	var got []string
	for _, p := range store.Problems() {
		got = append(got, p.Error())
	}
	slices.Sort(got)
	want := []string{
		`<embedded>:2: RPC.maxPending: "0" is less than the minimum 1; using default 65536`,
		`<embedded>:3: RPC.maxInflight: "-3" is less than the minimum 1; using default 1048576`,
		`<embedded>:4: RPC.reconnectMin: "0" is less than the minimum 1ms; using default 50ms`,
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\ngot  %q\nwant %q", got, want)
	}
}
