// Package httprpc is the HttpRpc demo service, the counterpart of the
// seed's test_http_rpc: for each HTTP request on HttpRpc.bindAddr (default
// 127.0.0.1:8081) it sends one event to the Echo service on
// HttpRpc.backend (a node's "host:port", or "local"), and the reply becomes
// the HTTP answer.
//
// HTTP is served by the WebServer service (plugins/webserver), which must
// run on the same node: HttpRpc asks it to listen, and gets each request as
// a webpb.Request event. HttpRpc relays the request target to Echo as a
// google.protobuf.BytesValue (sdk.Context.Relay), so Echo's reply comes back
// to HttpRpc still carrying the route to the HTTP connection; HttpRpc turns
// it into a webpb.Response and replies along that route. HttpRpc keeps no
// per-request state and never blocks, so it runs Inline, on the goroutine
// that delivers each event.
//
// The answer is 200 with the echoed bytes; an error event (no Echo, link
// lost, queue full) is a 502 with its message.
package httprpc
