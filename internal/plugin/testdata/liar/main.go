// Command liar is a plugin whose manifest does not match what it serves:
// it declares Ghost and LEcho, and serves LEcho and Extra.
package main

import (
	"context"
	"os"

	_ "google.golang.org/protobuf/types/known/wrapperspb" // the payload type the tests send

	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

type liar struct{ *pluginrt.Server }

func (liar) Manifest(context.Context, *pluginpb.ManifestRequest) (*pluginpb.PluginManifest, error) {
	return &pluginpb.PluginManifest{Services: []*pluginpb.Service{{Name: "Ghost"}, {Name: "LEcho"}}}, nil
}

func main() {
	echo := func() sdk.Service {
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if ev.Kind == sdk.KindRequest {
				c.Reply(ev.Msg)
			}
			return nil
		})
	}
	pluginrt.ServeServer(liar{pluginrt.NewServer([]sdk.Spec{sdk.Define("LEcho", echo), sdk.Define("Extra", echo)}, os.Stderr)})
}
