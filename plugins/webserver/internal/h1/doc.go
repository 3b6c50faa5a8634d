// Package h1 is an HTTP/1.1 server engine built for throughput: one
// goroutine per connection reading into a reused buffer, a zero-allocation
// request parser, responses appended to a reused write buffer and flushed
// only when no further pipelined request is already buffered, and pooled
// per-connection state. Once warm, an inline request/response cycle does
// not allocate.
//
// # Handlers
//
// A Handler's ServeH1 runs on the connection goroutine. It answers inline,
// by filling the ResponseWriter before returning, or asynchronously: it
// calls ResponseWriter.Detach, returns, and later calls Finish exactly once
// from any goroutine. The connection keeps reading and dispatching
// pipelined requests meanwhile, and writes the responses in request order.
// Finish never waits for the client: it writes what the socket takes at
// once, and a goroutine of the connection's writes the rest (a client that
// reads slowly, a large file), so one goroutine may finish the answers of
// many connections.
// The Request aliases the connection's read buffer and is valid only until
// ServeH1 returns; an asynchronous handler copies what it needs first.
//
// # Protocol
//
// HTTP/1.1 connections are kept alive unless the client sends
// "Connection: close"; HTTP/1.0 ones only with "Connection: keep-alive".
// Request bodies may be sized by Content-Length or chunked (trailers are
// checked and dropped); the handler receives the whole body. The server
// answers 400 to malformed requests, 431 to oversized heads, 413 to
// oversized bodies, 505 to other major versions, 501 to transfer codings
// other than chunked and 417 to expectations other than 100-continue, and
// then closes the connection. "100 Continue" is sent when the client waits
// for it. Read, idle and write timeouts bound slow clients; Shutdown closes
// idle connections and lets requests in progress finish.
//
// # Files
//
// FileServer serves a folder: MIME types, ETag and Last-Modified with 304
// answers, single byte ranges (206, 416), index.html for folders, an
// open-file cache revalidated against the file system once a second, and
// bodies sent with sendfile(2) (small ones are read into the write buffer
// so they batch with neighbouring responses). Paths cannot leave the
// folder.
package h1
