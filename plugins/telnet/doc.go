// Package telnet is the Telnet service: the node's operator console, with
// commands that any service registers.
//
// # Registering commands
//
// A service sends telnetpb.Register to "Telnet", usually from its Start:
//
//	c.Send(sdk.To(telnet.Name), &telnetpb.Register{
//		Path:        "demo/push",
//		Args:        "item...",
//		Description: "push an item onto the list",
//	})
//
// When a user types the command, the service receives a telnetpb.Command
// request in its own queue, so its handler reads the service's state with
// no locks, and answers with c.Reply(&telnetpb.Output{Text: ...}). The text
// is printed, then the prompt. A service that does not answer within
// Telnet.commandTimeout gets a timeout printed instead; an error event is
// printed as an error. A service that stops, fails or crashes takes its
// commands with it; it registers them again when it starts. The service
// learns it from the error event of the next command, and from a
// once-a-second look at the node's services: an owner that is no longer
// on the node (a removed plugin), that is not running (stopped, failed, or
// idle again after a crash or a failed start), or whose plugin process is
// not the one that registered its commands loses them, unless it
// registered again meanwhile.
//
// # The console
//
// The service starts when named in Start= or on the first registration,
// and listens on Telnet.bindAddr (default 127.0.0.1:10123; a comma-separated
// list of IPv4 and IPv6 addresses). It refuses to start on a non-loopback
// address unless Telnet.password is set; a plain password in the config
// file is replaced by its salted hash on start. Telnet.maxSessions,
// Telnet.idleTimeout and Telnet.maxLineLength bound what clients can take;
// a session that has not given the password within Telnet.loginTimeout
// (default 1m) is closed, so unauthenticated clients cannot hold the
// sessions' slots, and each wrong password delays the next prompt by a
// second.
// Next to the services' commands it offers operator commands under node/,
// config/, log/ and console/ (see help in a session). The session engine is
// in package console.
package telnet
