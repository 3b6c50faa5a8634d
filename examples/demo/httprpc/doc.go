// Package httprpc is the HttpRpc demo service, the counterpart of the
// seed's test_http_rpc: for each HTTP request on HttpRpc.bindAddr (default
// 127.0.0.1:8081) it sends one event to the Echo service on
// HttpRpc.backend (a node's "host:port", or "local"), and the reply becomes
// the HTTP answer.
//
// The request's URI travels as a google.protobuf.BytesValue, so any Echo
// (one that answers an event with its payload) serves it, in this node, in
// a plugin or on another node. The answer is 200 with the echoed bytes; an
// error event is 502 with its message, and no answer within
// HttpRpc.timeout is 504.
//
// HTTP is served by net/http on a goroutine the service owns; each request
// waits on its own sdk.Endpoint, so the service's queue is not on the hot
// path and no handler ever blocks.
package httprpc
