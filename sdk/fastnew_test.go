package sdk

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestFastNew: generated types get the struct type Decode allocates, and
// events decoded through an EventAlloc carry their payload as usual; a
// dynamic type gets none, and Decode keeps to mt.New for it.
func TestFastNew(t *testing.T) {
	var mt protoreflect.MessageType = (&wrapperspb.StringValue{}).ProtoReflect().Type()
	if gt := fastNew(mt); gt == nil || gt.Name() != "StringValue" {
		t.Fatalf("fastNew(StringValue) = %v", gt)
	}
	dyn := dynamicpb.NewMessageType((&wrapperspb.StringValue{}).ProtoReflect().Descriptor())
	if gt := fastNew(dyn); gt != nil {
		t.Fatalf("fastNew(dynamic) = %v, want nil", gt)
	}
	ev := &Event{Msg: wrapperspb.String("hi"), Kind: KindRequest, ID: 3, Dst: "Echo"}
	env, err := ev.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	var a EventAlloc
	for range 3 {
		got, err := a.FromEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		if got.wire == nil || got.wire.gt == nil {
			t.Fatal("the event does not carry the fast constructor")
		}
		if err := got.Decode(); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got.Msg, ev.Msg) {
			t.Fatalf("decoded %v, want %v", got.Msg, ev.Msg)
		}
	}
}
