// Package client lets code that is not a service (a CLI, a GUI, a test)
// talk to an mtnode node: connect to its RPC address, send events to its
// services, and wait for their replies.
//
//	c, err := client.Dial(ctx, "127.0.0.1:10100")
//	if err != nil { ... }
//	defer c.Close()
//	reply, err := c.Request(ctx, sdk.To("Echo"), wrapperspb.String("hi"))
//
// A Client speaks the node-link protocol of package link (one gRPC stream,
// batched envelopes, the same Hello with token and TLS), so the node treats
// it as a peer that does not listen. It reaches the services of the node it
// dialled; to reach another node, dial that node, or ask a relay service.
//
// Subscribe is for services that answer one request many times (a Timer's
// ticks, RPC's link events): each answer arrives on the Subscription's
// channel, until Close, the end of the link, or a subscriber so slow that
// its buffer filled (the link never waits for it; Err says which).
//
//	sub, err := c.Subscribe(sdk.To("RPC"), &rpcpb.Subscribe{}, 0)
//	for ev := range sub.Events() { ... } // rpcpb.LinkUp, rpcpb.LinkDown
//
// Request blocks until the reply, an error event (returned as a
// *sdk.DeliveryError, so errors.Is(err, sdk.ErrNoService) works) or the end
// of ctx. When the link dies, every waiting Request returns ErrLinkLost; a
// Client does not reconnect: Dial again. An envelope from the node that does
// not decode is never dropped silently: if it names a waiting Request, that
// Request returns ErrBadEvent; otherwise the Client ends the link (Err says
// why), so no Request, even one without a deadline, waits forever.
package client
