// Package config is mtnode's config store: one sorted, self-documenting text
// file per executable name, which services read through typed getters and
// which fills itself in as they run.
//
// A service asks for a key with its default and a description at the call
// site:
//
//	c := store.Sub("RPC")
//	addrs := c.Addrs("bindAddr", "127.0.0.1:10100", "addresses the node listens on for node links")
//	limit := c.Int("queueLimit", 4096, "events the RPC queue holds before senders get an error")
//
// If the file has no RPC.bindAddr, the service gets the default and the key
// is written into the file under a comment with its description and default,
// so the first run leaves a complete, commented config for the operator to
// edit.
//
// # File format
//
// A config file is lines of text:
//
//	# Addresses the node listens on for node links (default: 127.0.0.1:10100)
//	RPC.bindAddr=127.0.0.1:10100, [::1]:10100
//
//	# Services started at boot, in this order (default: RPC)
//	Start=RPC,Telnet
//
// A key is Service.key, or a bare key such as Start, made of letters,
// digits, '_', '.' and '-'. Spaces around the key are ignored; the value is
// everything after the first '=', without surrounding spaces, and may itself
// contain '='. Lines whose first non-blank character is '#' are comments;
// blank lines are ignored. A comment block belongs to the key after it and
// moves with that key when the file is sorted; comment lines at the top of
// the file followed by a blank line stay at the top, and comments after the
// last key stay at the end.
//
// A line without '=', an empty or invalid key, or a key given twice is an
// error. All errors of a file are reported together, each as a
// [*ParseError] with the file name and line ("conf/mtnode.conf:12: missing
// "=" in ..."), and a file with errors is never rewritten. Files over 4 MiB
// and lines over 64 KiB are refused.
//
// # Writing
//
// The store writes the file when a service defines a key the file lacks, or
// one whose generated comment is missing or out of date, and when an operator
// calls [Store.Set]. A write sorts the keys by name (byte order), puts one
// blank line between keys, and keeps every value, every user comment and
// every key no service knows. Each key a service has defined gets exactly one
// "# <description> (default: <default>)" line right above it. The line the
// store wrote before is replaced, so descriptions follow the code: the same
// line, or one with the key's current description or its current default
// (written by an older version of the service). Every other comment line is
// the user's and is kept in its order, even one that contains "(default: ",
// such as "# raised for prod (default: 10s was too short)". (Only a user
// line of the exact form above a defined key, with that key's description or
// exactly its default in the parentheses, would be taken for the store's.)
//
// Writes are atomic: the new content goes to a temporary file in the same
// directory, which is synced and renamed over the config file, and then the
// directory is synced. A reader or a crash sees the old file or the new one,
// never a mix, and no temporary file is left behind. The file keeps its mode
// (a new one gets 0600, as it may hold secrets) and, if it is a symbolic
// link, the link: the file it points to is replaced. If the file was edited
// on disk since the store read it, the store merges its own changes into the
// edited content instead of overwriting the edit, and leaves the file alone
// if the edit does not parse.
//
// # Precedence
//
// The effective value of a key is, highest first:
//
//  1. a --set Service.key=value override ([Options.Overrides], [SourceFlag]);
//  2. the environment variable MT_<Service>_<key>, such as MT_RPC_bindAddr or
//     MT_Start ([EnvName], [SourceEnv]), read when the key is first looked up;
//  3. the file ([SourceFile]), or, while there is no file yet, the embedded
//     config it will be written from ([Options.Embedded], [SourceEmbedded]);
//  4. the default the service gave ([SourceDefault]).
//
// Overrides and environment values are never written to the file.
// [Store.Effective] lists every key with its value and source, and
// [Store.Unknown] lists keys no service knows, with a did-you-mean; both
// take in the MT_ variables of the environment ([Options.Environ]) as well
// as the file and the --set overrides, so a mistyped variable is warned
// about as a mistyped --set is.
//
// # Typed values
//
// [Section] converts values: Int (decimal), Bool (true/false, 1/0, yes/no,
// on/off), Duration (1.5s, or plain seconds such as 0.25), Bytes (8388608,
// 64KiB, 8M, 1GiB; binary units only) and Addrs (a comma list of host:port,
// IPv6 hosts in brackets). IntMin is Int with a lower bound (queue limits).
// A value that does not convert, or is below IntMin's bound, gives the
// default and is recorded as a [*ValueError], logged once at Warn and listed
// by [Store.Problems], so that startup and the console can show it.
// [Store.Where] names where a value came from, for callers that check a
// value themselves.
//
// # Concurrency
//
// A [Store] is safe for concurrent use. Looking up a key that is already
// defined takes a read lock and a few map lookups. Definitions that need a
// write are batched: concurrent writers queue, and the first writes every
// change made so far.
//
// # Where the file is
//
// [Path] gives conf/<executable base name>.conf under the install prefix
// (the folder above bin/), without resolving symbolic links, so a link
// bin/mtnode-web to the mtnode binary reads conf/mtnode-web.conf.
package config
