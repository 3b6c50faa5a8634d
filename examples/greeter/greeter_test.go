package main

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/sdk"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

func TestGreeter(t *testing.T) {
	n := sdktest.New(t, []sdk.Spec{Spec}, sdktest.WithConfig(map[string]map[string]string{
		"Greeter": {"greeting": "Hi"},
	}))
	for i, want := range []string{"Hi, Ada! (greeting #1)", "Hi, Ada! (greeting #2)"} {
		got, err := n.Request(sdk.To("Greeter"), wrapperspb.String("Ada"))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got.(*wrapperspb.StringValue).GetValue() != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	_, err := n.Request(sdk.To("Greeter"), wrapperspb.String(""))
	if !errors.Is(err, sdk.ErrHandlerFailed) {
		t.Errorf("empty name: got %v, want ErrHandlerFailed", err)
	}
	_, err = n.Request(sdk.To("Greeter"), wrapperspb.Int64(1))
	if !errors.Is(err, sdk.ErrUnknownEvent) {
		t.Errorf("wrong type: got %v, want ErrUnknownEvent", err)
	}
}
