package pluginrt

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// Handshake returns the go-plugin handshake between mtnode and its
// plugins. A binary started without the cookie in its environment is not
// being run by a node: go-plugin tells the user so and exits.
func Handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  1,
		MagicCookieKey:   "MTNODE_PLUGIN",
		MagicCookieValue: "8f0d2a6c-mtnode-plugin-v1",
	}
}

// PluginName is the name of the one plugin (in go-plugin's sense) a
// plugin process serves.
const PluginName = "mtnode"

// GRPCPlugin is go-plugin's glue for the Plugin service: the plugin side
// registers Server; the host side gets a pluginpb.PluginClient.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	// Impl is the plugin side's implementation (nil on the host).
	Impl pluginpb.PluginServer
}

// GRPCServer implements goplugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, p.Impl)
	return nil
}

// GRPCClient implements goplugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return pluginpb.NewPluginClient(cc), nil
}

// PluginSet is the go-plugin plugin set, for both sides.
func PluginSet(srv pluginpb.PluginServer) goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &GRPCPlugin{Impl: srv}}
}

// UpHop returns the hop a runtime pushes onto a request that arrives over a
// plugin link from its peer: popping it sends the reply back over the link,
// where the rest of the route (the peer's hops) continues. Inside a plugin
// the peer is the host, named by the empty runtime name, which a plugin's
// router does not serve and so sends upstream; on the host it is the
// plugin process's runtime name (see the plugin package).
func UpHop(runtime string) sdk.Hop { return sdk.Hop{Kind: sdk.HopEndpoint, Name: runtime} }
