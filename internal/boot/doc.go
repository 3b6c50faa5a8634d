// Package boot assembles a node from its config: it finds and opens the
// config file for the executable's name, builds the logger, the core.Node
// with its linked-in services, and the plugin host, starts the Start=
// services in order, and stops everything on cancellation.
//
// Every mtnode program (mtnode itself, mt-test-http, mt-test-http-rpc)
// starts its nodes through Open and Run, so they share one behaviour for
// --conf, --set, MT_ environment variables and exit codes.
package boot
