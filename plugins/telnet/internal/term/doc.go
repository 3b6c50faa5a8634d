// Package term turns the bytes a telnet or netcat client sends into edited
// lines.
//
// It has two layers, both plain state machines with no I/O of their own:
//
//   - [Decoder] speaks the telnet protocol (RFC 854, option negotiation as in
//     RFC 1143): it strips IAC commands and subnegotiations, answers option
//     requests (the server offers ECHO and SUPPRESS-GO-AHEAD, so a telnet
//     client switches to character mode, and refuses LINEMODE, NAWS and
//     everything else), normalises CR NUL, CR LF and bare LF line endings and
//     decodes control keys, UTF-8 and ANSI escape sequences into [Key] values.
//   - [Editor] applies keys to one input line: insertion, deletion, cursor
//     motion, kill commands, a bounded history and TAB completion through a
//     [Completer]. It appends the terminal output that mirrors each change
//     to a buffer owned by the caller.
//
// # Bounds
//
// Everything a client controls is bounded: a subnegotiation is skipped
// without being stored, an escape sequence keeps at most a few parameter
// bytes, the number of negotiation answers per connection is capped, the
// line never grows past its limit and the history keeps a fixed number of
// lines. A flood of garbage therefore costs CPU in proportion to its size
// and no memory.
//
// Neither type is safe for concurrent use; a console session owns one of
// each.
package term
