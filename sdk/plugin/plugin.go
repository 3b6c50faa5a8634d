// Package plugin turns a program into an mtnode plugin.
//
//	func main() { plugin.Serve(echo.Spec, helloweb.Spec) }
//
// Build the program into a node's plugins folder: the node learns the
// services it holds, launches it on the first event for one of them, and
// supervises it. The services are the same sdk.Spec values that would run
// linked into the node; only their main differs. Services inside one plugin
// reach each other without a trip to the node.
//
// Like the node, a plugin knows the protobuf well-known types
// (google.protobuf.StringValue, BytesValue, Struct, Empty, Timestamp...),
// so that a service that takes any message, such as Echo, can take them.
package plugin

import (
	"github.com/mtnode/mtnode/internal/pluginrt"
	"github.com/mtnode/mtnode/sdk"

	// The protobuf well-known types, registered as the node registers them.
	_ "google.golang.org/protobuf/types/known/anypb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// Serve serves specs to the node that launched this process and never
// returns. Run by hand rather than by a node, the program says it is a
// plugin and exits with status 1. Keep stdout free before Serve: the node
// reads go-plugin's handshake there.
func Serve(specs ...sdk.Spec) { pluginrt.Serve(specs) }
