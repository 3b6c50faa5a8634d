// Package console serves the node's operator console: a tree of commands
// that services register, browsed and run over telnet (or netcat).
//
// # Commands
//
// A [Tree] holds directories and commands. A command has a slash-separated
// path ("rpc/peers"), an argument spec (see [ParseArgs]), a one-line
// description, an owner (the service that registered it; [Tree.RemoveOwner]
// drops all of an owner's commands) and a [Handler]. The console itself
// provides help and ?, ls, cd and quit/exit in every directory. Typing a
// directory's name enters it; a command may be named by an absolute path,
// a relative one, or directory names separated by spaces ("rpc peers").
//
// # Sessions
//
// A [Server] accepts connections, each served by one goroutine that owns
// the telnet decoder, the line editor (see package term) and the session's
// current directory, plus one reader goroutine it stops and waits for.
// When a line names a registered command, the session binds the arguments,
// calls the handler and waits for its answer without blocking anything
// else: keys typed meanwhile wait in a bounded typeahead, Ctrl-C abandons
// the command, and after Config.CommandTimeout the session prints a
// timeout and gives the prompt back. A late answer is discarded.
//
// # Limits
//
// The server takes at most Config.MaxSessions sessions and turns further
// clients away with a message; a session closes after Config.IdleTimeout
// without input, after three wrong passwords, or when the client stops
// reading for Config.WriteTimeout. Lines are limited to
// Config.MaxLineLength characters: a longer line is refused whole and not
// run, since what is left of it after the cut may mean something else.
// Passwords are checked against a slow
// salted hash (package pwhash).
package console
