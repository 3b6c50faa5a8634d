// Package webserver is the WebServer service: HTTP/1.1 for any service.
//
// A service sends WebServer a webpb.Listen naming an address list (IPv4 and
// IPv6, comma-separated). WebServer binds every address or none: a failed
// bind is an error event to the requester, never the end of the node. It
// replies webpb.Listening with the bound addresses. A service that asks
// again for a listener it has (the same fixed addresses and options: a
// plugin relaunched while its listener lived on asks at each start) is
// answered with that listener rather than refused. From then on each HTTP
// request arrives at the requesting service as a webpb.Request event, and
// the webpb.Response it replies with is written back to the client, in
// request order per connection even when replies come back out of order.
// A Response may name a file in the listener's doc_root instead of a body;
// WebServer then serves it with MIME type, ETag, Last-Modified, 304, Range
// and sendfile.
//
// An error event in place of the reply becomes an error answer with its
// message: 500 when the service's handler failed, 503 when a queue was full
// or the service is stopping or failed to start, 504 when an answer did not
// come in time, and 502 Bad Gateway when the request or its answer could
// not get through (no such service, a lost node link, a crashed plugin, an
// event type the service does not take).
//
// Connections are served by the h1 engine (internal/h1): one goroutine per
// connection, pipelining, keep-alive, limits and timeouts. Requests are
// sent from the connection goroutine through an endpoint, so a service
// registered with sdk.Inline answers on that same goroutine, with no queue
// hop; any other service answers from its own goroutine, or from a plugin
// or another node.
//
// # Config
//
// WebServer.readTimeout, idleTimeout, writeTimeout, maxHeaderBytes,
// maxHeaders, maxBodyBytes, shutdownTimeout and replyTimeout; each is
// written into the config file with its description on first use.
//
// # Lost replies
//
// A request whose reply never comes (a bug in the service, a reply lost on
// a link) is answered 504 Gateway Timeout after WebServer.replyTimeout
// (default 30s; up to a quarter more, as one sweeper per listener checks
// four times per timeout instead of a timer per request), counted and
// logged; the connection goes on with its next request.
//
// # Stopping
//
// When the node begins to stop, WebServer closes its listening sockets and
// every kept-alive connection as soon as it is idle; requests in progress
// are answered, with "Connection: close". Once the node's queues have
// drained, Stop waits up to WebServer.shutdownTimeout for the last of them.
package webserver
