package sdk

import "time"

// Config reads one service's keys from the node's config file. Keys are
// given without the service prefix: in service "HelloWeb",
// String("bindAddr", ...) reads HelloWeb.bindAddr.
//
// Every getter takes the default and a one-line description. A key missing
// from the file gets the default, and is written into the file under a
// "# description (default: ...)" line so the user can find and edit it.
// Environment variables MT_<Service>_<key> and --set flags override the file.
// A value that does not parse gives the default, and the problem is recorded
// (Problems) and shown at startup and in the console.
//
// Config is safe for concurrent use; read it in Start and keep the values.
type Config interface {
	String(key, def, desc string) string
	Int(key string, def int64, desc string) int64
	Bool(key string, def bool, desc string) bool
	// Duration accepts Go durations ("1.5s", "250ms") and plain seconds ("0.25").
	Duration(key string, def time.Duration, desc string) time.Duration
	// Bytes accepts a byte count with an optional binary unit (8388608, 8MiB, 64KiB).
	Bytes(key string, def int64, desc string) int64
	// Addrs reads a comma-separated list of host:port addresses, IPv4 and
	// IPv6 ("127.0.0.1:80,[::1]:80").
	Addrs(key, def, desc string) []string
	// Problems returns the values that did not parse so far.
	Problems() []error
}
