// Package httprpc is the HttpRpc demo service, the counterpart of the
// seed's test_http_rpc: for each HTTP request on HttpRpc.bindAddr (default
// 127.0.0.1:8081) it sends one event to the Echo service on
// HttpRpc.backend (a node's "host:port", or "local"), and the reply becomes
// the HTTP answer.
//
// HTTP is served by the WebServer service (plugins/webserver), which must
// run on the same node: HttpRpc asks it to listen, and gets each request as
// a webpb.Request event. HttpRpc forwards (sdk.Context.Forward) a
// webpb.Response holding the request target to Echo: the route to the HTTP
// connection travels unchanged, so Echo's reply, that same Response, goes
// straight back to WebServer as the HTTP answer, and skips HttpRpc. With
// HttpRpc in a plugin and Echo on another node, that is two process
// crossings fewer per request than relaying the answer back through
// HttpRpc. HttpRpc keeps no per-request state and never blocks, so it runs
// Inline, on the goroutine that delivers each event.
//
// The answer is 200 with the request target; an error event on the way is
// answered by WebServer with its message: 502 when Echo is missing or the
// link to its node is lost, 503 when a queue is full.
package httprpc
